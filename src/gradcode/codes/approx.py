"""Decoding of approximate gradient codes: the optimal least-squares a over any survivor set.

For survivors F the master uses the a (zero outside F) minimising ||aᵀB_F - 1ᵀ||₂, the one of
least norm when several do (numpy.linalg.lstsq's answer). `LeastSquaresDecoder` holds the
readiness rule (at least n-s replies, the s stragglers the master plans for) and one solver per
structure: the normal equations of the survivors' system (any B; the stragglers' system when B is
square and invertible), one mean per group (fractional repetition), a uniform a (block designs).

Straggler-side solve (B square, invertible). Let S be the t stragglers and W = B⁻¹[:, S] (n x t).
B_F W = 0 and W has full rank, so W spans the null space of B_F; the best aᵀB_F is the projection
y = 1 - W(WᵀW)⁻¹Wᵀ1 of 1 onto B_F's row space, and a = B⁻ᵀy, which is zero on S (Wᵀy = 0) and
unique. With B⁻¹ and a0 = B⁻ᵀ1 computed once, a set costs O(n·t² + n²) instead of the
O((n-t)²·n) of the survivors' normal equations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from numpy.typing import NDArray

from .base import min_norm_lstsq
from .decoders import AtLeast
from .protocol import Mask, Vector

Solver = Callable[[Mask], Vector]  # survivor mask -> the min-norm least-squares a

DENSE_UP_TO = 1 << 12  # a B with at most this many entries is handled dense (less overhead)
INVERSE_UP_TO = 1 << 20  # n*n up to which a square B's inverse is kept (straggler-side solve)
INVERSE_COND = 1e6  # ... when its condition number is below this
PIVOT_RATIO = 1e-6  # a Cholesky pivot below this times the largest: B_F is (nearly) rank-deficient


def check_load(load: object, n: int, scheme: str) -> int:
    """Validate a scheme's load (partitions per worker): an integer with 1 <= load <= n."""
    if isinstance(load, bool) or not isinstance(load, (int, np.integer)) or not 1 <= load <= n:
        raise ValueError(
            f"{scheme}: load must be an integer with 1 <= load <= n, got load={load!r}, n={n}"
        )
    return int(load)


@dataclass(frozen=True)
class LeastSquaresDecoder(AtLeast):
    """Approximate codes: ready once `need` = n-s workers replied; `solve` gives the optimal a
    for any survivor set (fewer than `need` too: `GradientCode.decode(best_effort=True)`)."""

    solver: Solver

    def solve(self, mask: Mask) -> Vector:
        return self.solver(mask)


def normal_equations(B: sp.csr_array) -> Solver:
    """Any B: a_F = pinv(B_F B_Fᵀ) B_F 1, which is pinv(B_Fᵀ) 1, the min-norm least-squares a.

    The Gram matrix of the survivors is sparse to form (each row meets the few rows sharing a
    partition; dense for a small B) and solved by Cholesky. When B_F is rank-deficient (repeated rows, say) its Cholesky
    factor has a near-zero pivot and the reference QR solve `min_norm_lstsq` takes over.
    """
    B = sp.csr_array(B)
    nonempty = np.diff(B.indptr) > 0
    dense = B.toarray() if B.shape[0] * B.shape[1] <= DENSE_UP_TO else None
    inverse = invert(B)
    a0 = None if inverse is None else inverse.T @ np.ones(B.shape[0])

    def solve(mask: Mask) -> Vector:
        S = np.flatnonzero(~mask)
        if inverse is not None and 0 < S.size <= B.shape[0] - S.size:
            W = inverse[:, S]
            c = scipy.linalg.solve(W.T @ W, W.sum(axis=0), assume_a="pos")
            a = a0 - inverse.T @ (W @ c)
            a[S] = 0.0
            return a
        a = np.zeros(B.shape[0])
        rows = np.flatnonzero(mask & nonempty)  # an empty row gets a_i = 0 in the min-norm a
        if rows.size == 0:
            return a
        if dense is None:
            sparse = B[rows]
            BF, G = sparse.toarray(), (sparse @ sparse.T).toarray()
        else:
            BF = dense[rows]
            G = BF @ BF.T
        rhs = BF.sum(axis=1)
        try:
            factor = scipy.linalg.cho_factor(G)
            pivots = np.abs(np.diag(factor[0]))
            if pivots.min() < PIVOT_RATIO * pivots.max():
                raise np.linalg.LinAlgError("rank-deficient survivors")
            a[rows] = scipy.linalg.cho_solve(factor, rhs)
        except np.linalg.LinAlgError:
            a[rows] = min_norm_lstsq(BF, np.ones(rows.size, dtype=bool), refine=0)
        return a

    return solve


def invert(B: sp.csr_array) -> NDArray[np.float64] | None:
    """B⁻¹ for a square B of at most INVERSE_UP_TO entries with cond(B) < INVERSE_COND, else None."""
    n, k = B.shape
    if n != k or n * k > INVERSE_UP_TO:
        return None
    dense = B.toarray()
    U, sigma, Vt = np.linalg.svd(dense)
    if not sigma[-1] * INVERSE_COND > sigma[0]:
        return None
    return (Vt.T / sigma) @ U.T


def group_mean(group: NDArray[np.intp]) -> Solver:
    """Fractional repetition (rows of a group identical, groups disjoint): a_i = 1/|F ∩ g(i)|
    on the survivors; a group with no survivor is lost (its partitions' error is 1 each)."""

    def solve(mask: Mask) -> Vector:
        counts = np.bincount(group, weights=mask, minlength=int(group.max()) + 1)[group]
        return np.divide(mask, counts, out=np.zeros(mask.shape), where=mask)

    return solve


def uniform(scale: Callable[[int], float]) -> Solver:
    """a = scale(|F|) on the survivors: optimal when B_F B_Fᵀ and B_F 1 depend only on |F|."""

    def solve(mask: Mask) -> Vector:
        m = int(np.count_nonzero(mask))
        return mask * (scale(m) if m else 0.0)

    return solve
