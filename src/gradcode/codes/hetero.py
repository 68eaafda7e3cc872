"""Heterogeneity-aware allocation: workers of known speeds hold data in proportion to them.

Lay the data on a circle of length 1 and give worker i the arc of length
L_i = (s+1)·c_i / Σc (capped at 1, the excess shared among the others) right after worker i-1's
arc. The arcs add up to s+1, so every point is held by exactly s+1 consecutive workers; the arc
ends cut the circle into k <= n partitions of unequal `sizes`. Every worker then needs the same
time (its data / its speed), instead of the slowest setting the pace.

Coefficients make any n-s workers decode (Halbawi et al. 2018's construction for arbitrary
supports): pick A (n x (n-s)) Gaussian, so any n-s rows are invertible; column j of B is A c_j
with c_j spanning the kernel of A's rows of the n-s-1 workers without partition j (so B is zero
there), scaled to (c_j)_0 = 1. Survivors F then decode with aᵀ = e_0ᵀ A_F⁻¹: aᵀB_F = e_0ᵀC = 1ᵀ.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from .base import GradientCode
from .decoders import null_space_decoder


def arcs(speeds: np.ndarray, s: int) -> np.ndarray:
    """Arc lengths L_i proportional to speed, summing to s+1, none above 1 (water-filling)."""
    L = np.zeros(speeds.size)
    free = np.ones(speeds.size, dtype=bool)
    budget = float(s + 1)
    while True:
        L[free] = budget * speeds[free] / speeds[free].sum()
        over = free & (L > 1.0)
        if not over.any():
            return L
        L[over], free[over] = 1.0, False
        budget = s + 1 - np.count_nonzero(~free)


def hetero(
    n: int,
    s: int,
    rng: np.random.Generator,
    *,
    speeds: Sequence[float] | float = 1.0,
    offset: float = 0.0,
) -> GradientCode:
    """Exact for any s stragglers; worker i holds a share (s+1)·speeds[i]/Σspeeds of the data,
    the arcs laid from `offset` (in [0, 1): where worker 0's arc starts on the data circle)."""
    c = np.broadcast_to(np.asarray(speeds, dtype=float), (n,)) if np.ndim(speeds) == 0 else None
    if c is None:
        c = np.asarray(speeds, dtype=float)
        if c.shape != (n,):
            raise ValueError(f"speeds must give one number per worker (n={n}), got {speeds!r}")
    if not np.all(np.isfinite(c) & (c > 0)):
        raise ValueError(f"speeds must be positive numbers, got {speeds!r}")
    if not (isinstance(offset, (int, float)) and 0.0 <= offset < 1.0):
        raise ValueError(f"offset must be a number in [0, 1), got offset={offset!r}")
    L = arcs(c, s)
    ends = np.cumsum(L) + offset
    starts = ends - L
    cuts = np.unique(np.round(np.r_[0.0, ends % 1.0], 12) % 1.0)  # partition starts on [0, 1)
    cuts = cuts[np.r_[True, np.diff(cuts) > 1e-9] & (cuts < 1.0 - 1e-9)]  # no slivers
    sizes = np.diff(np.r_[cuts, 1.0])
    mids = cuts + sizes / 2
    # worker i holds partition j when j's midpoint lies on its arc [start_i, end_i) (mod 1)
    holds = ((mids[None, :] - starts[:, None]) % 1.0) < L[:, None] - 1e-12
    holds |= L[:, None] >= 1.0
    A = rng.standard_normal((n, n - s))
    B = np.zeros((n, cuts.size))
    for j in range(cuts.size):
        zero = ~holds[:, j]  # the n-s-1 workers without j: c_j spans the kernel of their rows
        c_j = np.linalg.svd(A[zero])[2][-1] if zero.any() else np.eye(n - s)[0]
        B[holds[:, j], j] = A[holds[:, j]] @ (c_j / c_j[0])
    return GradientCode(
        "hetero",
        n,
        s,
        sp.csr_array(B),
        exact=True,
        make_decoder=null_space_decoder,
        sizes=tuple(sizes),
        notes="data shares: " + ", ".join(f"{x:.3g}" for x in L / (s + 1)),
    )
