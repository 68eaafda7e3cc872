"""Decoders: closed forms for uncoded and FRC codes, a straggler-side null-space solve otherwise,
and their two readiness rules: the k-th arrival (`KthArrival`) and one reply per group.

Null-space decoding. Let N (n x m) be an orthonormal basis of the left null space of B
(vᵀB = 0) and a0 the minimum-norm solution of aᵀB = 1ᵀ over all n workers (a0 ⊥ N). Every
solution is a0 + Nc, and its norm is |a0|² + |c|². Zeroing the stragglers S gives N_S c = -a0_S,
an |S| x m system: the minimum-norm c is its least-squares solution. A new survivor set therefore
costs O(n·m + |S|·m²) instead of an O(n³) least-squares solve over B_F, and more survivors (fewer
stragglers) give a smaller a. For codes whose any s rows of N are independent (cyclic and
cyclic-MDS codes: any n-s rows of B span 1) every set of n-s survivors decodes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from .protocol import Decoder, Encoded, Mask, OrderStatistic, Times, Vector


class KthArrival(Decoder):
    """The readiness rule "any `need` of the `n` workers": the need-th order statistic of a row."""

    n: int
    need: int
    rule = "kth"

    def decodable_at(self, T: Times) -> NDArray[np.float64]:
        T = np.atleast_2d(T)
        k = self.need - 1
        if k < 0:
            return np.full(T.shape[0], -math.inf)
        if k >= T.shape[1]:
            return np.full(T.shape[0], math.inf)
        return np.partition(T, k, axis=1)[:, k]

    @property
    def order_statistic(self) -> OrderStatistic:
        return ("kth", self.need, self.n)


@dataclass(frozen=True)
class AtLeast(KthArrival):
    """Ready once any `need` of the n workers replied (uncoded and approximate codes)."""

    n: int
    need: int

    @property
    def requirement(self) -> str:
        return f"at least {self.need} of the n={self.n} workers"


@dataclass(frozen=True)
class UniformDecoder(AtLeast):
    """Uncoded codes (B = I): a = n/|F| on the survivors F, ready once `need` have arrived."""

    def solve(self, mask: Mask) -> Vector:
        return mask * (self.n / np.count_nonzero(mask))


@dataclass(frozen=True)
class GroupDecoder(Decoder):
    """Fractional repetition: a_i = 1/|F ∩ group(i)|, ready once every group has `need` replies
    (one; 2a+1 to out-vote a corrupted ones): the max over groups of the group's need-th
    arrival."""

    group: NDArray[np.intp]  # group id of each worker (of each message: multi-message codes)
    n_groups: int
    member: str = "worker"
    need: int = 1
    rule = "groups"

    @property
    def requirement(self) -> str:
        if self.need > 1:
            return f"{self.need} {self.member}s from each of the {self.n_groups} groups"
        return f"one {self.member} from each of the {self.n_groups} groups"

    @cached_property
    def order(self) -> NDArray[np.intp] | None:
        """The permutation sorting members by group (None: already sorted)."""
        order = np.argsort(self.group, kind="stable")
        return None if np.array_equal(order, np.arange(order.size)) else order

    @cached_property
    def starts(self) -> NDArray[np.intp]:
        """Where each group begins among the members sorted by group (for runs of consecutive
        ids: the first member of each group)."""
        g = np.sort(self.group, kind="stable")
        return np.flatnonzero(np.r_[True, g[1:] != g[:-1]])

    @cached_property
    def size(self) -> int | None:
        """The common group size, or None when groups differ in size."""
        sizes = np.bincount(self.group, minlength=self.n_groups)
        return int(sizes[0]) if np.all(sizes == sizes[0]) else None

    def decodable_at(self, T: Times) -> NDArray[np.float64]:
        T = np.atleast_2d(T)
        if self.starts.size < self.n_groups:  # a group nobody holds: never ready
            return np.full(T.shape[0], math.inf)
        if self.order is not None:
            T = T[:, self.order]
        m, q = self.size, self.need - 1
        if q:  # the need-th arrival of each group
            ends = np.r_[self.starts[1:], T.shape[1]]
            return np.stack(
                [
                    np.sort(T[:, lo:hi], axis=1)[:, q] if hi - lo > q else np.full(len(T), math.inf)
                    for lo, hi in zip(self.starts, ends, strict=True)
                ],
                axis=1,
            ).max(axis=1)
        if m is not None:  # equal groups, members m apart after the sort: m strided minima
            return np.minimum.reduce([T[:, j::m] for j in range(m)]).max(axis=1)
        return np.minimum.reduceat(T, self.starts, axis=1).max(axis=1)

    @property
    def order_statistic(self) -> OrderStatistic | None:
        if self.size is None or self.need > 1:
            return None
        return ("groups", self.n_groups, self.size)

    def _counts(self, mask: Mask) -> Vector:
        return np.bincount(self.group, weights=mask, minlength=self.n_groups)

    def solve(self, mask: Mask) -> Vector:
        return mask / self._counts(mask)[self.group]


@dataclass(frozen=True)
class NullSpaceDecoder(KthArrival):
    """Straggler-side solve over an orthonormal left null space N of B (module docstring).

    `particular(r)` returns the minimum-norm x with xᵀB = rᵀ over all n workers (x ⊥ N); the
    same solver also corrects a residual, for iterative refinement."""

    particular: Callable[[Vector], Vector]
    N: NDArray[np.float64]  # (n, m) orthonormal columns, vᵀB = 0
    k: int  # partitions
    need: int  # survivors that always suffice (n - s)

    @cached_property
    def a0(self) -> Vector:
        return self.particular(np.ones(self.k))

    @property
    def n(self) -> int:  # type: ignore[override]
        return self.N.shape[0]

    @property
    def requirement(self) -> str:
        return f"any {self.need} of the n={self.n} workers"

    def solve(self, mask: Mask) -> Vector:
        return self._zero_stragglers(mask, self.a0.copy())

    def correct(self, mask: Mask, r: Vector) -> Vector:
        """The minimum-norm x, zero outside the survivors, with xᵀB = rᵀ."""
        return self._zero_stragglers(mask, self.particular(r))

    def _zero_stragglers(self, mask: Mask, x: Vector) -> Vector:
        S = np.flatnonzero(~mask)
        if S.size == 0:
            return x
        NS = self.N[S]
        if NS.shape[0] == NS.shape[1]:
            c = np.linalg.solve(NS, -x[S])
        else:
            c = np.linalg.lstsq(NS, -x[S], rcond=None)[0]
        x += self.N @ c
        x[S] = 0.0
        return x


def null_space_decoder(code: Encoded) -> NullSpaceDecoder:
    """Build N and the particular solver for any code from one SVD of B (O(n³) once)."""
    U, sigma, Vt = np.linalg.svd(code.B, full_matrices=True)
    # Rank: numerical, but at most n - s. An exact code's left null space needs dimension >= s to
    # zero any s stragglers; the cyclic construction for s = n-1 has rank 1 up to rounding noise.
    r = int(np.count_nonzero(sigma > sigma[0] * max(code.B.shape) * np.finfo(float).eps))
    r = min(r, code.n - code.s)
    left = U[:, :r] / sigma[:r]
    right = np.ascontiguousarray(Vt[:r])
    return NullSpaceDecoder(
        particular=lambda rhs: left @ (right @ rhs),
        N=np.ascontiguousarray(U[:, r:]),
        k=code.k,
        need=code.n - code.s,
    )
