"""The papers' bounds on the decoding error of approximate codes with t stragglers.

The error is `GradientCode.error(a)` = ||aᵀB - 1ᵀ||₂² / k of the optimal (least-squares) a over
the n - t survivors, as `LeastSquaresDecoder` finds it. Random stragglers are a uniformly random
set of exactly t workers. Each bound is capped at 1, the error of a = 0 (no survivors).

| scheme     | kind        | bound                                          | source                 |
|------------|-------------|------------------------------------------------|------------------------|
| expander   | worst case  | σ₂(B)² · t/(n-t)                               | Raviv et al. 2018      |
| approx-frc | expectation | Σ_g |g|·C(t,|g|)/C(n,|g|) / k  (equality)       | Wang et al. 2019       |
| bibd       | every set   | 1 - r²(n-t) / (k(r - λ + λ(n-t)))  (equality)  | Kadhe et al. 2019      |
| sgc        | expectation | t(n-d) / (d(n-t)(n-1))                         | Bitar et al. 2020      |

Exact codes: 0 up to their s; no bound is claimed beyond it (NaN).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import scipy.sparse.linalg

from .base import GradientCode

DENSE_SVD_UP_TO = 2000  # n above this: the two top singular values by a sparse solver


def scheme_of(code: GradientCode) -> str:
    """The scheme name without parameters ("expander:load=3" -> "expander")."""
    return code.name.partition(":")[0]


@lru_cache(maxsize=64)
def second_singular_value(code: GradientCode) -> float:
    """σ₂(B): the second largest singular value of B (computed once per code)."""
    if min(code.B_sparse.shape) <= DENSE_SVD_UP_TO:
        return float(np.linalg.svd(code.B, compute_uv=False)[1])
    sigma = scipy.sparse.linalg.svds(code.B_sparse, k=2, return_singular_vectors=False)
    return float(np.sort(sigma)[0])


def expander_bound(code: GradientCode, t: int) -> float:
    """Worst case over every set of t stragglers (Raviv, Tamo, Tandon, Dimakis, ICML 2018,
    "Gradient coding from cyclic MDS codes and expander graphs", Sec. 5): the fixed decoder
    u = n/(n-t) on the survivors has uᵀB - 1ᵀ = vᵀB with v = u - 1 ⊥ 1 and ||v||² = nt/(n-t),
    so error <= σ₂(B)² · t/(n-t) for a doubly stochastic B (for a graph's normalised adjacency
    σ₂ is its second eigenvalue in absolute value; the optimal a does at least as well)."""
    n = code.n
    return second_singular_value(code) ** 2 * t / (n - t)


def approx_frc_bound(code: GradientCode, t: int) -> float:
    """Expected error, with equality, over uniformly random sets of t stragglers (approximate FRC,
    ErasureHead: Wang, Charles, Papailiopoulos 2019): a group g is lost, costing its |g|
    partitions, exactly when all its members straggle, with probability C(t,|g|)/C(n,|g|)."""
    sizes = np.diff(code.B_sparse.indptr)  # each worker's group size (= its row's support)
    return sum(math.comb(t, int(g)) / math.comb(code.n, int(g)) for g in sizes) / code.k


def bibd_error(code: GradientCode, t: int) -> float:
    """The error for *every* set of t stragglers (Kadhe, Koyluoglu, Ramchandran, ISIT 2019,
    "Gradient coding based on block designs for mitigating adversarial stragglers"): with
    m = n-t survivors, B_F B_Fᵀ = (r-λ)I + λJ and B_F 1 = r1 give the optimal a = r/(r-λ+λm)
    and error 1 - r²m / (k(r - λ + λm)); λ = r(block size - 1)/(n-1), block size = nr/k."""
    n, k, r = code.n, code.k, code.load
    lam = r * (n * r / k - 1) / (n - 1)
    m = n - t
    return 1.0 - r * r * m / (k * (r - lam + lam * m))


def sgc_bound(code: GradientCode, t: int) -> float:
    """Expected error over uniformly random sets of t stragglers when every partition lies on d
    workers (stochastic gradient coding: Bitar, Wootters, El Rouayheb, IEEE JSAIT 2020): the
    paper's unbiased decoder a = n/(d(n-t))·(B's weight)⁻¹ leaves partition j with error
    (X_j/E X_j - 1)², X_j ~ Hypergeometric(n, n-t, d) its surviving copies; the mean is
    Var X/(E X)² = p/(d(1-p)) · (n-d)/(n-1) with p = t/n (the paper's p/(d(1-p)) for
    independent stragglers). The optimal a does at least as well on every set."""
    n = code.n
    d = int(np.diff(code._Bt.indptr)[0])  # copies of partition 0 (all equal for sgc)
    return t * (n - d) / (d * (n - t) * (n - 1))


BOUNDS: dict[str, tuple[str, Callable[[GradientCode, int], float]]] = {
    "expander": ("worst case", expander_bound),
    "approx-frc": ("expectation", approx_frc_bound),
    "bibd": ("every set", bibd_error),
    "sgc": ("expectation", sgc_bound),
}


def bound_kind(code: GradientCode) -> str:
    """What `error_bound` bounds: "worst case", "expectation", "every set" (equality for every
    straggler set) or, for exact codes, "exact up to s"."""
    if code.exact:
        return "exact up to s"
    return _entry(code)[0]


def error_bound(code: GradientCode, stragglers: int) -> float:
    """The paper's bound on the optimal decoding error of `code` with `stragglers` stragglers
    (module table); exact codes: 0 up to s, NaN beyond. ValueError for a code without one."""
    t = stragglers
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 0 <= t <= code.n:
        raise ValueError(f"stragglers must be an integer in 0..n={code.n}, got {t!r}")
    if code.exact:
        return 0.0 if t <= code.s else math.nan
    if t == code.n:
        return 1.0
    return min(1.0, float(_entry(code)[1](code, int(t))))


def _entry(code: GradientCode) -> tuple[str, Callable[[GradientCode, int], float]]:
    scheme = scheme_of(code)
    if scheme not in BOUNDS:
        raise ValueError(
            f"no error bound for scheme {scheme!r}; bounds exist for: {', '.join(BOUNDS)} "
            f"and exact codes"
        )
    return BOUNDS[scheme]
