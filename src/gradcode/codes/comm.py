"""Communication-efficient cyclic codes (Ye & Abbe, ICML 2018), real Fourier construction.

`comm-cyclic:m=M`: n workers, s stragglers, k = n partitions, load s+m (worker i holds partitions
i .. i+s+m-1 mod n), and every message is ceil(L/m) long for message vectors of length L: the
vector is split into m blocks and worker i sends sum_{j,u} C[i, u*k+j] g_j^(u). From any n-s
workers the master decodes the m block sums sum_j g_j^(u) exactly (Ye & Abbe's optimal trade-off:
m-fold shorter messages cost m more partitions per worker).

Construction (no Vandermonde on clustered nodes, no random numbers). Let S ⊂ R^n be the span of
the real Fourier vectors at the n-s frequencies Q off the cyclic-MDS zero set Z (s consecutive
exponents centred on n/2, so Q is an arc around 0): any n-s coordinates determine a vector of S,
and its orthogonal complement is the explicit orthonormal N of cyclic_mds. Every column of C
lies in S, so every message vector is in S coordinate by coordinate, and from any n-s survivors
any linear functional of it is recovered by the null-space solve cyclic-mds already uses.
The functionals are Λ = real Fourier vectors at m frequencies P ⊆ Q (orthonormal). For
partition j the vectors of S supported on its s+m workers are the m shifts x^a g(x) of the
cyclic-MDS generator g; with W_j that basis and M_j = Λᵀ W_j (m x m), C^j = W_j M_j⁻¹ gives
Λᵀ C^j = I: functional u reads block u's sum. Shifting j rotates Λ orthogonally, so every M_j
has the condition number of M_0; P is chosen (equispaced, searched over spacings) to minimise
‖W_0 M_0⁻¹‖_F, the encoding's size. The decoder is cyclic-mds's null-space solve applied to the
m columns of Λ at once, with iterative refinement and the residual check (max|A C - I ⊗ 1ᵀ|).

Stability: the m x m system stays well conditioned (cond(M_0) ~ 3-50 for m <= 4 up to n=200);
what limits precision is the s x s straggler system, as for cyclic-mds: for clustered
(consecutive) stragglers it grows with s like a Vandermonde matrix on s adjacent roots of unity.
(It also grows with m once m nears n-s: block frequencies must then come close to Z.)
Where it stops being safe: float64 — construction decodes the most clustered set (stragglers
0..s-1) and refuses (ValueError) unless its residual is within tol/5; over every (n, s, m) up to
n=40 that rule let through no code refusing a random set (tests/test_comm.py). `strict=0` skips
the rule: at large n and s (n=200, s=10, as for cyclic-mds) a few sets in 10,000 are then refused
by the residual check (DecodingError, never a wrong sum; BENCHMARKS.md). float32 — messages lose
log10(amplification) of their 7 digits: `notes` gives this code's amplification at s
consecutive stragglers and the precisions it makes unsafe (amplification x unit roundoff > 1e-3,
as `codes.verify`); `gradcode codes show` measures it over straggler sets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from .base import DecodingError, GradientCode
from .cyclic_mds import cyclic_mds, fourier_null_space, generator, real_fourier, zero_exponents
from .decoders import NullSpaceDecoder
from .protocol import Mask, Vector
from .verify import SAFE_ERROR, UNIT_ROUNDOFF


@dataclass(frozen=True)
class BlockNullSpaceDecoder(NullSpaceDecoder):
    """`NullSpaceDecoder` for m blocks: the m minimum-norm decoding vectors over all n workers
    (`start`, n x m) with their stragglers zeroed together; `solve` returns A (m, n)."""

    start: NDArray[np.float64]

    @cached_property
    def a0(self) -> Vector:
        return self.start

    def solve(self, mask: Mask) -> Vector:
        return self._zero_stragglers(mask, self.start.copy()).T

    def correct(self, mask: Mask, r: Vector) -> Vector:
        """The minimum-norm X (m, n), zero off the survivors, with X C = Rᵀ (r: k*m x m)."""
        return self._zero_stragglers(mask, self.particular(r)).T


def comm_cyclic(
    n: int, s: int, rng: np.random.Generator, *, m: int = 2, strict: int = 1
) -> GradientCode:
    """Load s+m, messages of ceil(L/m), exact block sums from any n-s workers (module docstring).

    m=1 is the cyclic-MDS code itself. Like cyclic-mds, n-s even has no real construction: the
    code is built for s+1 stragglers (load s+1+m) and `notes` says so. `strict=1` (default)
    refuses to build a code whose most clustered straggler set misses tol/5 (then every set
    decodes, measured up to n=40); `strict=0` builds it anyway (large n and s, where cyclic-mds
    too refuses some sets): a set the residual check refuses raises DecodingError, never a
    wrong sum."""
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ValueError(f"m (message blocks) must be an integer >= 1, got m={m!r}")
    if strict not in (0, 1) or isinstance(strict, bool):
        raise ValueError(f"strict must be 0 or 1, got strict={strict!r}")
    m = int(m)
    if s + m > n:
        raise ValueError(
            f"m must satisfy 1 <= m <= n - s = {n - s} (each partition on s+m workers), "
            f"got m={m}, n={n}, s={s}"
        )
    if m == 1:
        code = cyclic_mds(n, s, rng)
        notes = "m=1: the cyclic-MDS code" + (f"; {code.notes}" if code.notes else "")
        return GradientCode(
            "comm-cyclic", code.n, code.s, code.B_sparse, True, code.make_decoder, notes=notes
        )
    notes, s0 = [], s
    if (n - s) % 2 == 0:
        notes.append(
            f"no real construction has n-s even (n={n}, s={s}): built for s={s + 1} "
            f"stragglers (load {s + 1 + m})"
        )
        s += 1
        if s + m > n:
            raise ValueError(
                f"m must satisfy 1 <= m <= n - s - 1 = {n - s} for n-s even (the code is "
                f"built for s+1 stragglers), got m={m}, n={n}, s={s - 1}"
            )
    Z = zero_exponents(n, s)
    g = generator(n, Z)
    W = np.zeros((s + m, m))  # the m shifts of g on a partition's s+m workers
    for u in range(m):
        W[u : u + s + 1, u] = g
    P, cond = best_frequencies(n, s, m, W)
    Lam = real_fourier(n, P)  # (n, m) orthonormal
    window = (np.arange(n)[:, None] - s - m + 1 + np.arange(s + m)) % n  # partition j's workers
    M = np.einsum("jrv,ru->jvu", Lam[window], W)  # M_j = Λ[window_j]ᵀ W
    local = W @ np.linalg.inv(M)  # (n, s+m, m): C^j on partition j's workers
    rows = np.broadcast_to(window[:, :, None], local.shape)
    cols = np.arange(m)[None, None, :] * n + np.arange(n)[:, None, None]
    C = sp.csr_array(
        (local.ravel(), (rows.ravel(), np.broadcast_to(cols, local.shape).ravel())),
        shape=(n, n * m),
    )
    N = fourier_null_space(n, Z)
    amp = clustered_amplification(C, Lam, N, s, n)
    unsafe = [d for d, u in UNIT_ROUNDOFF.items() if amp * u > SAFE_ERROR]
    notes.append(
        f"m={m}: messages of ceil(L/{m}); block frequencies {P}, cond(M)={cond:.2g}; "
        f"amplification {amp:.2g} at {s} consecutive stragglers: "
        + (f"{' and '.join(unsafe)} messages unsafe" if unsafe else "float64 and float32 safe")
    )
    need = n - s
    code = GradientCode(
        "comm-cyclic",
        n,
        s,
        C,
        exact=True,
        notes="; ".join(notes),
        blocks=m,
        make_decoder=lambda c: BlockNullSpaceDecoder(
            particular=pinv_solver(c.B, need), N=N, k=n, need=need, start=Lam
        ),
    )
    if strict:
        check_float64(code, s0, m)
    return code


SAFETY = 5  # the worst-conditioned set must decode this far within the default tolerance


def check_float64(code: GradientCode, s: int, m: int) -> None:
    """ValueError unless the most clustered straggler set (workers 0..s-1, the worst conditioned
    for the Fourier null space) decodes with residual <= tol/SAFETY."""
    clustered = np.arange(code.n) >= code.s
    try:
        residual = code.residual(code.solve_uncached(clustered))
    except DecodingError:
        residual = math.inf
    finally:
        code.cache_clear()
    if residual > code.tol / SAFETY:
        raise ValueError(
            f"comm-cyclic with m={m} is numerically unsafe for n={code.n}, s={s} in float64 "
            f"(residual {residual:.1e} at {code.s} consecutive stragglers exceeds "
            f"{code.tol / SAFETY:.0e}): use a smaller m or s, or strict=0 to build it anyway "
            "(straggler sets the residual check refuses raise DecodingError)"
        )


def best_frequencies(n: int, s: int, m: int, W: NDArray) -> tuple[list[int], float]:
    """The m block frequencies P ⊆ Q = [-q, q], q = (n-s-1)/2, closed under negation (given by
    their members >= 0), equispaced, minimising ‖W M_0⁻¹‖_F; and cond(M_0) for them."""
    q, h = (n - s - 1) // 2, m // 2
    candidates = []
    for delta in range(1, q + 1):
        if m % 2:  # 0 and ±delta*r
            if delta * h <= q:
                candidates.append([0, *(delta * r for r in range(1, h + 1))])
        else:  # ±(o + delta*r), o about delta/2 (equispaced nodes when it is)
            for o in sorted({max(1, delta // 2), max(1, (delta + 1) // 2)}):
                if o + delta * (h - 1) <= q:
                    candidates.append([o + delta * r for r in range(h)])
    t = np.arange(s + m)
    best: tuple[float, list[int], float] = (math.inf, [], math.inf)
    for P in candidates:
        Lam = real_fourier(n, np.array(P))[t]
        sigma = np.linalg.svd(Lam.T @ W, compute_uv=False)
        if sigma[-1] <= sigma[0] * 1e-13:
            continue
        size = float(np.linalg.norm(W @ np.linalg.inv(Lam.T @ W)))
        if size < best[0]:
            best = (size, P, float(sigma[0] / sigma[-1]))
    if not best[1]:  # pragma: no cover - some candidate always exists for m <= n-s
        raise ValueError(f"no block frequencies for n={n}, s={s}, m={m}")
    return best[1], best[2]


def clustered_amplification(C, Lam: NDArray, N: NDArray, s: int, n: int) -> float:
    """`verify.amplification` of the decode with stragglers 0..s-1 (the most clustered set, the
    worst conditioned for the Fourier null space)."""
    A = Lam.copy()
    if s:
        S = np.arange(s)
        A += N @ np.linalg.lstsq(N[S], -A[S], rcond=None)[0]
        A[S] = 0.0
    row_norms = np.sqrt(np.asarray(C.multiply(C).sum(axis=1)).ravel())
    return float(np.max(np.linalg.norm(A.T * row_norms, axis=1)) / np.sqrt(n))


def pinv_solver(B: NDArray[np.float64], rank_at_most: int):
    """r -> the minimum-norm X with Xᵀ B = rᵀ (r: k*m x m), from one SVD of B made on first use
    (iterative refinement only); B's numerical rank is capped at n-s, as for null_space_decoder."""
    cache: list[tuple[NDArray, NDArray]] = []

    def solve(r: NDArray) -> NDArray:
        if not cache:
            U, sigma, Vt = np.linalg.svd(B, full_matrices=False)
            rank = int(np.count_nonzero(sigma > sigma[0] * max(B.shape) * np.finfo(float).eps))
            rank = min(rank, rank_at_most)
            cache.append((U[:, :rank] / sigma[:rank], Vt[:rank]))
        left, right = cache[0]
        return left @ (right @ r)

    return solve
