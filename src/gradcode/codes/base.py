"""The `GradientCode` value: encoding matrix B, its decoder's readiness, checked, cached decoding."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from numpy.typing import NDArray

from .decoders import null_space_decoder
from .protocol import Decoder, Mask, Times, Vector

DEFAULT_TOL = 1e-9
CACHE_SIZE = 4096
REFINE = 2  # iterative-refinement steps after a structured solve


class DecodingError(ValueError):
    """An exact decode whose residual max|aᵀB - 1ᵀ| exceeds the code's tolerance."""


def check_ns(n: object, s: object) -> tuple[int, int]:
    """Validate the worker count n and straggler count s; return them as ints."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got n={n!r}")
    if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 0 <= s < n:
        raise ValueError(f"s must satisfy 0 <= s < n, got s={s!r}, n={n}")
    return int(n), int(s)


def block_targets(k: int, blocks: int) -> NDArray[np.float64]:
    """E (blocks x k*blocks) = I ⊗ 1ᵀ: block u's decoding vector must give 1 on block u's k
    columns of B and 0 on the others' (block-major columns: column u*k + j)."""
    return np.kron(np.eye(blocks), np.ones((1, k)))


def min_norm_lstsq(B: NDArray[np.float64], mask: Mask, refine: int = 1, blocks: int = 1) -> Vector:
    """Reference decoder: the minimum-norm a over the survivors by a least-squares solve (QR) of
    B_Fᵀ a_F = 1, followed by `refine` steps of iterative refinement (each solves for the remaining
    residual; the correction stays in the row space, so a stays minimum-norm). With `blocks` > 1
    the right-hand sides are the rows of `block_targets` and a is (blocks, n)."""
    BFt = B[mask].T
    cond = max(B.shape) * np.finfo(float).eps  # numerical rank, as numpy.linalg.matrix_rank
    if blocks > 1:
        T = block_targets(B.shape[1] // blocks, blocks).T
        A_F = np.zeros((BFt.shape[1], blocks))
        for _ in range(refine + 1):
            A_F += scipy.linalg.lstsq(BFt, T - BFt @ A_F, cond=cond, lapack_driver="gelsy")[0]
        A = np.zeros((blocks, B.shape[0]))
        A[:, mask] = A_F.T
        return A
    a_F = np.zeros(BFt.shape[1])
    for _ in range(refine + 1):
        r = 1.0 - BFt @ a_F
        a_F += scipy.linalg.lstsq(BFt, r, cond=cond, lapack_driver="gelsy")[0]
    a = np.zeros(B.shape[0])
    a[mask] = a_F
    return a


@dataclass(frozen=True, eq=False, repr=False)
class GradientCode:
    """A gradient code: n workers, s stragglers tolerated, k partitions, encoding matrix B (n x k).

    Worker i holds the partitions in the support of row i and sends sum_j B[i, j] g_j. The master
    decodes with a (zero outside the survivors F) such that aᵀB_F = 1ᵀ, so sum_i a_i (B g)_i is the
    full gradient. Decoding is exact when `exact`; every exact decode is checked: the residual
    max|aᵀB - 1ᵀ| must stay within `tol`, else `DecodingError`. Approximate codes (`exact=False`)
    decode to the least-squares best a; `error(a)` says how far aᵀB is from 1ᵀ.

    Multi-message codes (`parts` > 1) give each worker `parts` rows of B: row i*parts + p is the
    p-th message worker i sends in a round, as soon as it has computed the partitions that row
    needs (rows with an empty support are never sent). Survivor masks then range over the
    n*parts messages. `sizes` are the partitions' relative sizes (None: equal).

    Communication-efficient codes (`blocks` = m > 1, Ye & Abbe 2018) split every message vector
    (length L) into m blocks of ceil(L/m) values (zero-padded); B is then (n*parts, k*m) with
    block-major columns, column u*k + j the weight of block u of partition j's gradient, and a
    message is sum_{j,u} B[msg, u*k+j] g_j^(u), of length ceil(L/m). The decoding vector becomes
    A (m, n*parts) with A B = I ⊗ 1ᵀ (`block_targets`): row u of A decodes block u's sum.

    Byzantine-resilient codes (`a` > 0) carry the redundancy to locate up to a corrupted messages
    besides s stragglers (load s + 2a + 1); `make_locator` builds the code's error locator
    (codes/byzantine.py). Uncoded baselines may carry a robust `aggregate` (codes/aggregate.py):
    the master then estimates the sum of the n messages with it instead of decoding. Adaptive
    codes carry an `adapt` policy (codes/adaptive.py): the master re-encodes between rounds.

    Two uncoded alternatives (codes/uncoded.py) change what a worker computes, not B: a
    `budget` (fixed-time rounds: each worker computes for `budget.T` seconds, its message one
    value longer, the rows it finished) and `deal` (the rows of B are dealt to the workers anew
    every round, by a seeded permutation, `dealt`: every worker holds every row's data).
    """

    name: str
    n: int
    s: int
    B_sparse: sp.csr_array
    exact: bool
    make_decoder: Callable[[GradientCode], Decoder] = field(repr=False)
    tol: float = DEFAULT_TOL
    notes: str = ""
    parts: int = 1
    sizes: tuple[float, ...] | None = None
    blocks: int = 1
    a: int = 0
    make_locator: Callable[[GradientCode], Any] | None = field(default=None, repr=False)
    aggregate: Callable[[NDArray[np.float64]], NDArray[np.float64]] | None = field(
        default=None, repr=False
    )
    adapt: Any = field(default=None, repr=False, compare=False)  # codes/adaptive.py's policy
    staleness: int | None = None
    budget: Any = None  # codes/uncoded.py's Budget: fixed-time rounds
    deal: bool = False

    def __post_init__(self) -> None:
        if (self.budget is not None or self.deal) and (
            (self.parts, self.blocks, self.a, self.staleness) != (1, 1, 0, None) or self.aggregate
        ):
            raise ValueError(
                "a budget or dealt code has one message per worker, no blocks, no adversary "
                "budget, no staleness and no aggregate"
            )
        T = self.staleness
        if T is not None:
            if isinstance(T, bool) or not (isinstance(T, (int, np.integer)) and T >= 0):
                raise ValueError(
                    f"staleness must be an integer >= 0 (clocks a worker may run ahead of the "
                    f"slowest) or None (a synchronous code), got staleness={T!r}"
                )
            if (self.parts, self.blocks, self.a, self.s) != (1, 1, 0, 0) or self.aggregate:
                raise ValueError(
                    "an asynchronous code (staleness set) has one message per worker, no blocks, "
                    "no adversary budget, s=0 and no aggregate"
                )
            object.__setattr__(self, "staleness", int(T))
        if not (isinstance(self.parts, int) and self.parts >= 1):
            raise ValueError(f"parts must be an integer >= 1, got parts={self.parts!r}")
        if not (isinstance(self.blocks, int) and self.blocks >= 1):
            raise ValueError(f"blocks must be an integer >= 1, got blocks={self.blocks!r}")
        if isinstance(self.a, bool) or not (isinstance(self.a, int) and self.a >= 0):
            raise ValueError(
                f"a (corrupted messages to locate) must be an integer >= 0, got a={self.a!r}"
            )
        if self.B_sparse.shape[1] % self.blocks:
            raise ValueError(
                f"B must have k*blocks columns (blocks={self.blocks}), got shape "
                f"{self.B_sparse.shape}"
            )
        if self.B_sparse.shape[0] != self.n * self.parts:
            raise ValueError(
                f"B must have n*parts={self.n * self.parts} rows (n={self.n}, parts={self.parts}),"
                f" got shape {self.B_sparse.shape}"
            )
        if self.sizes is not None:
            sizes = np.asarray(self.sizes, dtype=float)
            if sizes.shape != (self.k,) or not np.all(np.isfinite(sizes) & (sizes > 0)):
                raise ValueError(
                    f"sizes must be k={self.k} positive numbers (relative partition sizes), "
                    f"got {self.sizes!r}"
                )
            object.__setattr__(self, "sizes", tuple(float(x) for x in sizes * self.k / sizes.sum()))
        if not self.tol > 0:
            raise ValueError(f"tol must be > 0, got tol={self.tol!r}")
        object.__setattr__(self, "_cached_solve", lru_cache(maxsize=CACHE_SIZE)(self._solve_key))
        object.__setattr__(self, "_cached_best", lru_cache(maxsize=CACHE_SIZE)(self._best_key))

    @classmethod
    def from_matrix(
        cls, B: NDArray, s: int, *, name: str = "custom", tol: float = DEFAULT_TOL
    ) -> GradientCode:
        """A code from your own B (n x k) meant to decode from any n-s workers (checked per decode)."""
        B = np.asarray(B, dtype=float)
        if B.ndim != 2 or not np.all(np.isfinite(B)):
            raise ValueError(f"B must be a finite 2-D array, got shape {B.shape}")
        n, s = check_ns(B.shape[0], s)
        return cls(name, n, s, sp.csr_array(B), True, null_space_decoder, tol)

    def __repr__(self) -> str:
        return f"<GradientCode {self.name} n={self.n} s={self.s}>"

    # ---- structure -------------------------------------------------------------------------
    @property
    def k(self) -> int:
        """Number of data partitions."""
        return self.B_sparse.shape[1] // self.blocks

    def message_length(self, L: int) -> int:
        """Length of each message for message vectors of length L: ceil(L / blocks), and one
        more value for a budget code (the rows the worker finished)."""
        return -(-int(L) // self.blocks) + (self.budget is not None)

    @cached_property
    def support(self) -> sp.csr_array:
        """0/1 partition support of each message (n*parts, k): the partitions it needs (the
        stored entries of B; for `blocks` > 1 folded over the blocks)."""
        S = self.B_sparse.copy()
        if self.blocks > 1:
            fold = sp.csr_array(np.tile(np.eye(self.k), (self.blocks, 1)))  # (k*blocks, k)
            S = sp.csr_array(abs(S) @ fold)
            S.eliminate_zeros()
        S.data[:] = 1.0
        return S

    @cached_property
    def B(self) -> NDArray[np.float64]:
        """Dense encoding matrix (n x k), read-only."""
        B = self.B_sparse.toarray()
        B.flags.writeable = False
        return B

    @cached_property
    def _Bt(self) -> sp.csr_array:
        return sp.csr_array(self.B_sparse.T)

    @cached_property
    def decoder(self) -> Decoder:
        return self.make_decoder(self)

    @cached_property
    def locator(self) -> Any:
        """The error locator of a code with an adversary budget a > 0 (None otherwise)."""
        return None if self.make_locator is None else self.make_locator(self)

    @cached_property
    def rank(self) -> int:
        """Rank of B (computed once, densely)."""
        return int(np.linalg.matrix_rank(self.B))

    @property
    def messages(self) -> int:
        """Number of message slots per round, n*parts (= n for single-message codes)."""
        return self.n * self.parts

    def partitions(self, i: int) -> tuple[int, ...]:
        """Partition ids worker i holds, in the order it computes them: the support of its row of
        B (of its rows in message order, for multi-message codes)."""
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < self.n:
            raise ValueError(f"worker id must be an integer in 0..{self.n - 1}, got {i!r}")
        lo, hi = self.B_sparse.indptr[i * self.parts], self.B_sparse.indptr[(i + 1) * self.parts]
        k = self.k
        return tuple(dict.fromkeys(int(j) % k for j in self.B_sparse.indices[lo:hi]))

    def message_partitions(self, msg: int) -> tuple[int, ...]:
        """Partition ids in the support of message (row) msg of B."""
        lo, hi = self.B_sparse.indptr[msg], self.B_sparse.indptr[msg + 1]
        if self.blocks > 1:
            return tuple(dict.fromkeys(int(j) % self.k for j in self.B_sparse.indices[lo:hi]))
        return tuple(int(j) for j in self.B_sparse.indices[lo:hi])

    @cached_property
    def size_of(self) -> NDArray[np.float64]:
        """Relative size of each partition (mean 1), read-only."""
        out = np.ones(self.k) if self.sizes is None else np.array(self.sizes)
        out.flags.writeable = False
        return out

    @property
    def load(self) -> int:
        """Most partitions held by one worker (the paper's lower bound for exact codes is s+1)."""
        if self.parts == 1 and self.blocks == 1:
            return int(np.diff(self.B_sparse.indptr).max())
        return max(len(self.partitions(i)) for i in range(self.n))

    def work(self, i: int) -> float:
        """Worker i's computation in units of an average partition (its load, for equal sizes)."""
        return float(self.size_of[list(self.partitions(i))].sum())

    # ---- decoding --------------------------------------------------------------------------
    def mask(self, survivors: Iterable[int] | NDArray) -> Mask:
        """Boolean mask over the n*parts messages from their ids (worker ids when parts=1) or
        from a mask; ValueError on bad ids."""
        n, what = self.messages, "worker" if self.parts == 1 else "message"
        if isinstance(survivors, (set, frozenset)):
            survivors = sorted(survivors)
        ids = np.asarray(survivors if isinstance(survivors, np.ndarray) else list(survivors))
        if ids.dtype == np.bool_:
            if ids.shape != (n,):
                raise ValueError(f"a survivor mask must have shape ({n},), got shape {ids.shape}")
            return ids
        if ids.size == 0:
            return np.zeros(n, dtype=bool)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(
                f"survivors must be {what} ids (integers in 0..{n - 1}) or a boolean mask "
                f"of length {n}, got {survivors!r}"
            )
        bad = ids[(ids < 0) | (ids >= n)]
        if bad.size:
            raise ValueError(f"survivor id {bad[0]} is out of range: {what} ids are 0..{n - 1}")
        mask = np.zeros(n, dtype=bool)
        mask[ids] = True
        if np.count_nonzero(mask) != ids.size:
            seen = np.bincount(ids, minlength=n)
            raise ValueError(
                f"duplicate survivor id {int(np.argmax(seen > 1))}: ids must be distinct"
            )
        return mask

    def survivors(self, stragglers: Iterable[int]) -> Mask:
        """The messages that arrive when the given workers are the stragglers: all messages of
        the others (partial-straggler codes: also the stragglers' first messages)."""
        lost = np.zeros(self.n, dtype=bool)
        lost[list(stragglers)] = True
        return self.decoder.arrivals(lost, self.parts)

    def can_decode(self, arrived: Iterable[int] | NDArray) -> bool:
        """True as soon as the arrived workers suffice to decode (FRC: one reply per group)."""
        return self.decoder.ready(self.mask(arrived))

    def decodable_at(self, T: Times) -> NDArray[np.float64]:
        """Per row of message arrival times T (rounds x n*parts, seconds; inf or NaN: never
        arrives), the first time the arrived messages can decode (inf: never); one row may come
        as a vector. `can_decode` is the one-row case."""
        T = np.atleast_2d(np.asarray(T, dtype=float))
        if T.ndim != 2 or T.shape[1] != self.messages:
            raise ValueError(
                f"arrival times must have shape (rounds, {self.messages}) for {self!r} "
                f"(one column per message), got shape {T.shape}"
            )
        if np.isnan(T).any():
            T = np.where(np.isnan(T), math.inf, T)
        return self.decoder.decodable_at(T)

    def decode(self, survivors: Iterable[int] | NDArray, *, best_effort: bool = False) -> Vector:
        """The minimum-norm a over the survivors with aᵀB = 1ᵀ (read-only, zero elsewhere);
        for `blocks` > 1 the (blocks, n*parts) A with A B = I ⊗ 1ᵀ, one row per block.

        Raises ValueError when the survivors cannot decode, `DecodingError` when an exact
        decode's residual exceeds `tol` even after the reference least-squares fallback.
        With `best_effort` any survivor set decodes: to the exact a when it can, else to the a
        minimising ||aᵀB - 1ᵀ||₂ (a deadline passed before enough replies came).
        """
        key = self.mask(survivors).tobytes()
        if best_effort:
            return self._cached_best(key)
        return self._cached_solve(key)  # readiness checked on a miss

    @cached_property
    def _targets_t(self) -> NDArray[np.float64]:
        return block_targets(self.k, self.blocks).T  # (k*blocks, blocks)

    def _remaining(self, a: Vector) -> NDArray[np.float64]:
        """1 - aᵀB, as a vector (blocks = 1) or the (k*blocks, blocks) matrix E - A B (ᵀ)."""
        if self.blocks == 1:
            return 1.0 - self._Bt @ a
        return self._targets_t - self._Bt @ np.asarray(a).T

    def misfit(self, a: Vector) -> tuple[float, float]:
        """(`residual`, `error`) of a decoding vector from one product aᵀB."""
        if self.blocks > 1:
            e = self._remaining(a)
            return float(np.max(np.abs(e))), float(np.sum(e * e)) / (self.k * self.blocks)
        e = self._Bt @ a - 1.0
        return float(np.max(np.abs(e))), float(e @ e) / self.k

    def residual(self, a: Vector) -> float:
        """max_j |(aᵀB)_j - 1|: zero for an exact decode."""
        return self.misfit(a)[0]

    def error(self, a: Vector) -> float:
        """Normalised squared decoding error ||aᵀB - 1ᵀ||₂² / k: 0 when exact, 1 when a = 0.

        With partition gradients g_j, the decoded gradient misses the full one by
        (aᵀB - 1ᵀ)·G, so its error is at most sqrt(k·error(a)) times the largest ||g_j||."""
        return self.misfit(a)[1]

    def solve_uncached(self, mask: Mask) -> Vector:
        """Decode one mask without touching the cache (verification, benchmarks).

        Exact codes: the structured solve, then up to `REFINE` steps of iterative refinement
        (each solves for the remaining residual 1 - aᵀB with the same structured solver), then
        the reference least-squares solve; the first within `tol` is returned."""
        if not self.decoder.ready(mask):
            raise ValueError(
                f"survivors {np.flatnonzero(mask).tolist()} cannot decode {self!r}: it needs "
                f"{self.decoder.requirement}"
            )
        a = self.decoder.solve(mask)
        if not self.exact:
            return a
        for _ in range(REFINE):
            r = self._remaining(a)
            if np.max(np.abs(r)) <= self.tol:
                break
            x = self.decoder.correct(mask, r)
            if x is None:
                break
            a = a + x
        if self.residual(a) <= self.tol:
            return a
        a = min_norm_lstsq(self.B, mask, blocks=self.blocks)  # the structured solve lost precision
        r = self.residual(a)
        if r <= self.tol:
            return a
        raise DecodingError(
            f"decoding {self!r} from survivors {np.flatnonzero(mask).tolist()} is numerically "
            f"unsafe: residual max|aᵀB - 1| = {r:.2e} exceeds tol={self.tol:.0e}"
        )

    def _solve_key(self, key: bytes) -> Vector:
        a = self.solve_uncached(np.frombuffer(key, dtype=bool))
        a.flags.writeable = False
        return a

    def _best_key(self, key: bytes) -> Vector:
        mask = np.frombuffer(key, dtype=bool)
        if self.decoder.ready(mask):
            with contextlib.suppress(DecodingError):
                return self._cached_solve(key)
        if not mask.any():
            a = np.zeros(self.messages if self.blocks == 1 else (self.blocks, self.messages))
        elif not self.exact:  # approximate decoders solve any set to the least-squares best
            a = np.array(self.decoder.solve(mask))
        else:
            a = min_norm_lstsq(self.B, mask, refine=0, blocks=self.blocks)
        a.flags.writeable = False
        return a

    def cache_clear(self) -> None:
        """Forget every cached decoding vector."""
        self._cached_solve.cache_clear()  # type: ignore[attr-defined]
        self._cached_best.cache_clear()  # type: ignore[attr-defined]
