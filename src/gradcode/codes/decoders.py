"""Decoders: closed forms for uncoded and FRC codes, a straggler-side null-space solve otherwise.

Null-space decoding. Let N (n x m) be an orthonormal basis of the left null space of B
(vᵀB = 0) and a0 the minimum-norm solution of aᵀB = 1ᵀ over all n workers (a0 ⊥ N). Every
solution is a0 + Nc, and its norm is |a0|² + |c|². Zeroing the stragglers S gives N_S c = -a0_S,
an |S| x m system: the minimum-norm c is its least-squares solution. A new survivor set therefore
costs O(n·m + |S|·m²) instead of an O(n³) least-squares solve over B_F, and more survivors (fewer
stragglers) give a smaller a. For codes whose any s rows of N are independent (cyclic and
cyclic-MDS codes: any n-s rows of B span 1) every set of n-s survivors decodes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from .base import GradientCode, Mask, Vector


@dataclass(frozen=True)
class AtLeast:
    """The readiness rule "any `need` of the n workers" (the simulator's k-th arrival)."""

    n: int
    need: int

    @property
    def requirement(self) -> str:
        return f"at least {self.need} of the n={self.n} workers"

    def ready(self, mask: Mask) -> bool:
        return int(np.count_nonzero(mask)) >= self.need


@dataclass(frozen=True)
class UniformDecoder(AtLeast):
    """Uncoded codes (B = I): a = n/|F| on the survivors F, ready once `need` have arrived."""

    def solve(self, mask: Mask) -> Vector:
        return mask * (self.n / np.count_nonzero(mask))


@dataclass(frozen=True)
class GroupDecoder:
    """Fractional repetition: a_i = 1/|F ∩ group(i)|, ready once every group has one reply."""

    group: NDArray[np.intp]  # group id of each worker (of each message: multi-message codes)
    n_groups: int
    member: str = "worker"

    @property
    def requirement(self) -> str:
        return f"one {self.member} from each of the {self.n_groups} groups"

    def _counts(self, mask: Mask) -> Vector:
        return np.bincount(self.group, weights=mask, minlength=self.n_groups)

    def ready(self, mask: Mask) -> bool:
        return int(np.count_nonzero(mask)) >= self.n_groups and bool(np.all(self._counts(mask)))

    def solve(self, mask: Mask) -> Vector:
        return mask / self._counts(mask)[self.group]


@dataclass(frozen=True)
class NullSpaceDecoder:
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
    def requirement(self) -> str:
        return f"any {self.need} of the n={self.N.shape[0]} workers"

    def ready(self, mask: Mask) -> bool:
        return int(np.count_nonzero(mask)) >= self.need

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


def null_space_decoder(code: GradientCode) -> NullSpaceDecoder:
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
