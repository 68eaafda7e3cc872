"""Uncoded baselines: `naive` (wait for all n) and `ignore` (first n-s, rescaled by n/(n-s))."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import GradientCode
from .decoders import UniformDecoder


def naive(n: int, s: int, rng: np.random.Generator) -> GradientCode:
    """B = I; the master waits for every worker (tolerates no stragglers)."""
    if s != 0:
        raise ValueError(f"naive tolerates no stragglers: s must be 0, got s={s}")
    return GradientCode(
        "naive",
        n,
        0,
        sp.csr_array(sp.eye(n)),
        exact=True,
        make_decoder=lambda c: UniformDecoder(c.n, c.n),
    )


def ignore(n: int, s: int, rng: np.random.Generator) -> GradientCode:
    """The paper's "ignoring stragglers": B = I, the first n-s replies rescaled by n/(n-s)."""
    return GradientCode(
        "ignore",
        n,
        s,
        sp.csr_array(sp.eye(n)),
        exact=False,
        make_decoder=lambda c: UniformDecoder(c.n, c.n - c.s),
        notes="approximate: drops the stragglers' partitions and rescales the rest",
    )
