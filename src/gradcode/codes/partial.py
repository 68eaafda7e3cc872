"""Partial stragglers (Tandon et al. 2017, Sec. 6): two messages per worker and round.

Each worker holds P equal chunks: P-s-1 private chunks nobody else holds, whose gradient sum it
sends first, and the s+1 chunks of row i of an ordinary code (cyclic or FRC) for the n shared
partitions, whose coded combination it sends second. The master needs every first message and
the second messages the inner code needs (any n-s, or one per FRC group). A worker up to
P/(P-s-1) times slower than the others still delivers its first message by the time the others
are done, so only s workers may be *fully* lost; a dead worker loses its private chunks and
cannot be tolerated (the readiness rule says so).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from .base import GradientCode
from .cyclic import cyclic
from .frc import frc
from .protocol import Decoder, Mask, Times, Vector


@dataclass(frozen=True)
class PartialDecoder(Decoder):
    """a = 1 on every first message, the inner code's decode on the second messages; decodable
    once every first message and the second messages the inner code needs arrived."""

    inner: GradientCode

    @property
    def rule(self) -> str:  # type: ignore[override]
        return "partial" if self.inner.decoder.rule != "loop" else "loop"

    @property
    def requirement(self) -> str:
        return (
            f"the first message of all n={self.inner.n} workers and, of their second messages, "
            f"{self.inner.decoder.requirement}"
        )

    def decodable_at(self, T: Times) -> NDArray[np.float64]:
        T = np.atleast_2d(T)
        return np.maximum(T[:, 0::2].max(axis=1), self.inner.decoder.decodable_at(T[:, 1::2]))

    def arrivals(self, lost: Mask, parts: int = 2) -> Mask:
        """Stragglers are slow, not dead: their first messages arrive, their second ones not."""
        out = np.ones(2 * lost.size, dtype=bool)
        out[1::2] = ~lost
        return out

    def solve(self, mask: Mask) -> Vector:
        a = np.zeros(mask.size)
        a[0::2] = 1.0
        a[1::2] = self.inner.decode(mask[1::2])
        return a


def partial(inner: GradientCode, P: int | None, name: str) -> GradientCode:
    """The two-message code on top of `inner` (k = n partitions, load s+1) with P chunks each."""
    n, s = inner.n, inner.s
    P = 2 * (s + 1) if P is None else P
    if isinstance(P, bool) or not isinstance(P, (int, np.integer)) or s + 2 > P:
        raise ValueError(
            f"P (chunks per worker) must be an integer >= s+2={s + 2}, so that each worker "
            f"keeps at least one private chunk, got P={P!r}"
        )
    private = int(P) - s - 1
    first = sp.csr_array(
        (np.ones(n * private), np.arange(n * private) + inner.k, np.arange(n + 1) * private),
        shape=(n, inner.k + n * private),
    )
    second = sp.hstack([inner.B_sparse, sp.csr_array((n, n * private))], format="csr")
    B = sp.csr_array(
        sp.vstack([first, second], format="csr")[np.arange(2 * n).reshape(2, n).T.ravel()]
    )
    return GradientCode(
        name,
        n,
        s,
        B,
        exact=True,
        make_decoder=lambda code: PartialDecoder(inner),
        parts=2,
        notes=f"P={P}: tolerates workers up to {P / private:.3g}x slower, and s={s} lost "
        "second messages; every worker's first message is needed",
    )


def partial_cyclic(n: int, s: int, rng: np.random.Generator, *, P: int | None = None):
    """Partial-straggler scheme over the paper's cyclic code (P defaults to 2(s+1))."""
    return partial(cyclic(n, s, rng), P, "partial-cyclic")


def partial_frc(n: int, s: int, rng: np.random.Generator, *, P: int | None = None):
    """Partial-straggler scheme over fractional repetition (P defaults to 2(s+1))."""
    return partial(frc(n, s, rng), P, "partial-frc")
