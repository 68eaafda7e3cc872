"""Verification of a code over survivor sets: worst residual and worst condition number."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from .base import DecodingError, GradientCode, Mask

UNIT_ROUNDOFF = {
    "float64": float(np.finfo(np.float64).eps / 2),
    "float32": float(np.finfo(np.float32).eps / 2),
}
SAFE_ERROR = 1e-3  # a message precision is unsafe when amplification x unit roundoff exceeds this


@dataclass(frozen=True)
class Verification:
    """Outcome of decoding every (or a sample of every) straggler set of size s."""

    sets: int
    exhaustive: bool
    failures: int
    worst_residual: float
    worst_cond: float  # of B_F over the survivors F
    worst_amplification: float
    worst_set: tuple[int, ...]  # stragglers of the set with the worst amplification
    first_failure: str

    @property
    def ok(self) -> bool:
        return self.failures == 0

    def unsafe_dtypes(self) -> list[str]:
        """Message precisions whose error bound amplification x u exceeds `SAFE_ERROR`."""
        return [d for d, u in UNIT_ROUNDOFF.items() if self.worst_amplification * u > SAFE_ERROR]


def straggler_sets(
    n: int, s: int, *, limit: int, samples: int, rng: np.random.Generator
) -> tuple[Iterator[tuple[int, ...]], int, bool]:
    """All C(n, s) straggler sets when at most `limit`, else `samples` random ones."""
    total = math.comb(n, s)
    if total <= limit:
        return combinations(range(n), s), total, True
    draws = (tuple(sorted(rng.choice(n, s, replace=False).tolist())) for _ in range(samples))
    return draws, samples, False


def amplification(code: GradientCode, a: np.ndarray) -> float:
    """|a ∘ (|B_i|)_i| / sqrt(k) (block codes: its largest over the rows of A): the factor by which independent relative message errors grow in
    the decoded gradient, for partition gradients of equal norm and independent directions.

    1 for the naive code; float32 messages (unit roundoff 6e-8) lose about log10(amplification)
    of their 7 digits."""
    row_norms = np.sqrt(code.B_sparse.multiply(code.B_sparse).sum(axis=1))
    if code.blocks > 1:  # block codes: the worst block's decoding row
        return float(np.max(np.linalg.norm(a * row_norms, axis=1)) / np.sqrt(code.k))
    return float(np.linalg.norm(a * row_norms) / np.sqrt(code.k))


def condition(code: GradientCode, mask: Mask) -> float:
    """σ_max / σ_r of B_F, r = min(|F|, rank B): how much message errors can be amplified."""
    sigma = np.linalg.svd(code.B[mask], compute_uv=False)
    r = min(int(np.count_nonzero(mask)), code.rank)
    return float(sigma[0] / sigma[r - 1]) if sigma[r - 1] > 0 else math.inf


def verify(
    code: GradientCode,
    *,
    limit: int = 100_000,
    samples: int = 1_000,
    seed: int = 0,
    with_cond: bool = True,
    on_set: Callable[[int, int], None] | None = None,
) -> Verification:
    """Decode every straggler set of size s (sampled past `limit`), uncached; record the worst.

    A failure is an exact code's set that does not decode within `code.tol`. `on_set(done,
    total)` is called after each set (a progress bar).
    """
    sets, count, exhaustive = straggler_sets(
        code.n, code.s, limit=limit, samples=samples, rng=np.random.default_rng(seed)
    )
    failures, worst_res, worst_cond, worst_amp, worst_set, first = 0, 0.0, 1.0, 0.0, (), ""
    for done, S in enumerate(sets, 1):
        mask = code.survivors(S)
        try:
            a = code.solve_uncached(mask)
            res, amp = code.residual(a), amplification(code, a)
        except DecodingError as e:
            failures, res, amp, first = failures + 1, math.inf, math.inf, first or str(e)
        worst_res = max(worst_res, res)
        if with_cond:
            worst_cond = max(worst_cond, condition(code, mask))
        if amp > worst_amp or not worst_set:
            worst_amp, worst_set = amp, S
        if on_set is not None:
            on_set(done, count)
    return Verification(
        count,
        exhaustive,
        failures,
        worst_res,
        worst_cond if with_cond else math.nan,
        worst_amp,
        worst_set,
        first,
    )
