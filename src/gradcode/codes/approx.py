"""Decoding of approximate gradient codes: the optimal least-squares a over any survivor set.

For survivors F the master uses the a (zero outside F) minimising ||aᵀB_F - 1ᵀ||₂, the one of
least norm when several do (numpy.linalg.lstsq's answer). `LeastSquaresDecoder` holds the
readiness rule (at least n-s replies, the s stragglers the master plans for) and one solver per
structure: the normal equations of the survivors' system (any B), one mean per group (fractional
repetition), a uniform a (block designs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from numpy.typing import NDArray

from .base import Mask, Vector, min_norm_lstsq

Solver = Callable[[Mask], Vector]  # survivor mask -> the min-norm least-squares a

DENSE_UP_TO = 1 << 16  # a B with at most this many entries is handled dense (less overhead)
PIVOT_RATIO = 1e-6  # a Cholesky pivot below this times the largest: B_F is (nearly) rank-deficient


def check_load(load: object, n: int, scheme: str) -> int:
    """Validate a scheme's load (partitions per worker): an integer with 1 <= load <= n."""
    if isinstance(load, bool) or not isinstance(load, (int, np.integer)) or not 1 <= load <= n:
        raise ValueError(
            f"{scheme}: load must be an integer with 1 <= load <= n, got load={load!r}, n={n}"
        )
    return int(load)


@dataclass(frozen=True)
class LeastSquaresDecoder:
    """Approximate codes: ready once `need` = n-s workers replied; `solve` gives the optimal a
    for any survivor set (fewer than `need` too: `GradientCode.decode(best_effort=True)`)."""

    n: int
    need: int
    solver: Solver

    @property
    def requirement(self) -> str:
        return f"at least {self.need} of the n={self.n} workers"

    def ready(self, mask: Mask) -> bool:
        return int(np.count_nonzero(mask)) >= self.need

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

    def solve(mask: Mask) -> Vector:
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
            a[rows] = min_norm_lstsq(BF, np.ones(rows.size, dtype=bool))
        return a

    return solve


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
