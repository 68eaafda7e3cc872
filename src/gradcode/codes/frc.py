"""Fractional Repetition (Tandon et al. 2017, Sec. 3): n/r groups of r identical workers, r = s+1;
with an adversary budget a (DRACO's repetition code, Chen et al. 2018), r = s + 2a + 1."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from .base import GradientCode
from .byzantine import GroupVote
from .decoders import GroupDecoder


def frc(n: int, s: int, rng: np.random.Generator, a: int = 0) -> GradientCode:
    """Group g = i // r of workers holds partitions g·r .. g·r + r - 1, all with weight 1.

    B = I_{n/r} ⊗ 1_{r x r}; one reply per group decodes. With a > 0, r = s + 2a + 1 and the
    master waits for 2a + 1 replies per group, so that a corrupted ones per group are out-voted.
    """
    if isinstance(a, bool) or not isinstance(a, int) or a < 0:
        raise ValueError(f"a (corrupted messages to locate) must be an integer >= 0, got a={a!r}")
    r = s + 2 * a + 1
    if n % r:
        size, got = ("s+2a+1", f"n={n}, s={s}, a={a}") if a else ("s+1", f"n={n}, s={s}")
        raise ValueError(
            f"frc needs {size}{f'={r}' if a else ''} to divide n, got {got} (n % ({size}) = "
            f"{n % r}); use cyclic or cyclic-mds, which accept any n"
        )
    group, G = np.arange(n) // r, n // r
    B = sp.csr_array(sp.kron(sp.eye(G), np.ones((r, r)), format="csr"))
    code = GradientCode(
        "frc", n, r - 1, B, exact=True, make_decoder=lambda c: GroupDecoder(group, G)
    )
    if not a:
        return code
    return replace(
        code,
        s=s,
        make_decoder=lambda c: GroupDecoder(group, G, need=2 * a + 1),
        a=a,
        make_locator=lambda c: GroupVote(group, G, inner=code),
        notes=f"locates up to a={a} corrupted messages in each group of {r}",
    )
