"""The decoder protocol: one readiness rule per decoder, batch-first, and declared capabilities.

Readiness ("can the arrived messages decode?") is written once per decoder, for a batch of rounds
(as galois decodes a batch of codewords): `decodable_at(T)` takes message arrival times T
(rounds x messages, seconds; inf: never arrives) and returns per round the first time t at which
the messages with T <= t can decode (inf: never). `ready(mask)` is its one-row case (arrived
messages at time 0, the others never), so the simulator and the master cannot disagree.

A decoder subclasses `Decoder` and overrides at least one of `decodable_at` (a vectorised rule,
named by `rule`) and `ready` (then `decodable_at` is the exact loop `decodable_by_loop`: arrivals
in time order until `ready`). The other capabilities have defaults: `arrivals` (which messages a
straggler still sends), `correct` (a residual solver for iterative refinement) and
`order_statistic` (the round end as an order statistic, for closed forms).
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

Mask = NDArray[np.bool_]
Vector = NDArray[np.float64]
Times = NDArray[np.float64]  # (rounds, messages) arrival times; inf: never arrives
OrderStatistic = tuple[str, int, int]  # ("kth", k, n) or ("groups", G, m)


class Encoded(Protocol):
    """What a decoder factory reads from a code: n workers, s stragglers, k partitions, B."""

    n: int
    s: int
    k: int
    B: NDArray[np.float64]


class Decoder(Protocol):
    """Finds a (zero outside the survivors) with aᵀB = 1ᵀ for one code, and says when it can."""

    requirement: str  # what a survivor set needs, in words ("any n-s=10 workers")
    rule: str = "loop"  # how `decodable_at` is found: kth | groups | partial | loop

    def solve(self, mask: Mask) -> Vector: ...

    def decodable_at(self, T: Times) -> NDArray[np.float64]:
        """Per row of arrival times T (rounds x messages): the first time the arrivals decode."""
        return decodable_by_loop(self, T)

    def ready_many(self, masks: NDArray[np.bool_]) -> NDArray[np.bool_]:
        """Per row of masks (sets x messages): whether those messages decode."""
        masks = np.atleast_2d(masks)
        return self.decodable_at(np.where(masks, 0.0, math.inf)) <= 0.0

    def ready(self, mask: Mask) -> bool:
        """Whether the messages in `mask` decode: the one-row case of `decodable_at`."""
        return bool(self.ready_many(mask[None])[0])

    def arrivals(self, lost: Mask, parts: int) -> Mask:
        """The messages that arrive when the workers in `lost` (n,) straggle: by default none of
        theirs (each worker sends `parts` messages)."""
        return np.repeat(~lost, parts)

    def correct(self, mask: Mask, r: Vector) -> Vector | None:
        """The minimum-norm x, zero outside the survivors, with xᵀB = rᵀ; None: no such solver
        (no iterative refinement)."""
        return None

    @property
    def order_statistic(self) -> OrderStatistic | None:
        """The round end as an order statistic of the reply times: ("kth", k, n), the k-th of n,
        or ("groups", G, m), the max over G groups of the min of m; None: neither."""
        return None


def decodable_by_loop(decoder: Decoder, T: Times) -> NDArray[np.float64]:
    """The exact, slow reference: per row, add arrivals in time order until `decoder.ready`."""
    T = np.atleast_2d(T)
    out = np.full(T.shape[0], math.inf)
    for r, row in enumerate(T):
        arrived = np.zeros(row.size, dtype=bool)
        for i in np.argsort(row, kind="stable"):
            if not np.isfinite(row[i]):
                break
            arrived[i] = True
            if decoder.ready(arrived):
                out[r] = row[i]
                break
    return out
