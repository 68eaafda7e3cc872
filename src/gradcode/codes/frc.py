"""Fractional Repetition (Tandon et al. 2017, Sec. 3): n/(s+1) groups of s+1 identical workers."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import GradientCode
from .decoders import GroupDecoder


def frc(n: int, s: int, rng: np.random.Generator) -> GradientCode:
    """Group g = i // (s+1) of workers holds partitions g(s+1) .. g(s+1)+s, all with weight 1.

    B = I_{n/(s+1)} ⊗ 1_{(s+1)x(s+1)}; one reply per group decodes.
    """
    if n % (s + 1):
        raise ValueError(
            f"frc needs s+1 to divide n, got n={n}, s={s} (n % (s+1) = {n % (s + 1)}); "
            f"use cyclic or cyclic-mds, which accept any n"
        )
    group = np.arange(n) // (s + 1)
    B = sp.kron(sp.eye(n // (s + 1)), np.ones((s + 1, s + 1)), format="csr")
    return GradientCode(
        "frc",
        n,
        s,
        sp.csr_array(B),
        exact=True,
        make_decoder=lambda c: GroupDecoder(group, n // (s + 1)),
    )
