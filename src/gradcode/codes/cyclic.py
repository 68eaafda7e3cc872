"""Cyclic Repetition, the paper's random construction (Tandon et al. 2017, Algorithm 1)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import GradientCode
from .decoders import null_space_decoder


def cyclic_support(n: int, s: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of a cyclic support: row i holds partitions i, i+1, ..., i+s mod n."""
    rows = np.repeat(np.arange(n), s + 1)
    cols = (rows + np.tile(np.arange(s + 1), n)) % n
    return rows, cols


def cyclic(n: int, s: int, rng: np.random.Generator) -> GradientCode:
    """Algorithm 1: H (s x n) Gaussian with H·1 = 0; row i of B lies in null(H), B[i, i] = 1.

    null(H) has dimension n-s and contains 1; with probability 1 any n-s rows of B span it.
    """
    H = rng.standard_normal((s, n))
    H[:, -1] = -H[:, :-1].sum(axis=1)
    rows, cols = cyclic_support(n, s)
    vals = np.empty((n, s + 1))
    vals[:, 0] = 1.0
    for i in range(n):
        j = cols[i * (s + 1) : (i + 1) * (s + 1)]
        vals[i, 1:] = np.linalg.solve(H[:, j[1:]], -H[:, j[0]]) if s else ()
    B = sp.csr_array((vals.ravel(), (rows, cols)), shape=(n, n))
    return GradientCode("cyclic", n, s, B, exact=True, make_decoder=null_space_decoder)
