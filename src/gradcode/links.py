"""Bandwidth: per-worker link speeds, so message size costs time (emulated on one machine).

A `Link` answers ``per_byte(rounds, n)``: seconds per byte of worker i's uplink in each round,
(len(rounds), n). A worker sending a message of b bytes spends ``latency + b * per_byte`` seconds
on it: real workers sleep that long before each reply (emulated, as `row_time` emulates
computation), and the simulator adds the same seconds to each message's arrival, so a
bandwidth-limited cluster can be run, simulated and advised on one machine.

The rate is ``rate`` bytes/s, divided per (round, worker) by a draw from U[1, 1 + spread]
(spread = 0: every link equal and steady). Draws follow the delay models' stream discipline:
worker i takes the i-th draw of ``np.random.default_rng([seed, round, 3])`` (stream 3 is used by
no delay model), so a draw depends only on (seed, round, worker) and every scheme of a comparison
sees the same links.

Spec text (``--link``, ``link=`` in a config): a bare rate, ``"1e6"``, or
``"rate=1e6;spread=0.5;latency=0.001;seed=0"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from numpy.typing import ArrayLike

from .spec import parse_spec

STREAM = 3


@dataclass(frozen=True, kw_only=True)
class Link:
    """Uplinks of `rate` bytes/s (slowed per round and worker by U[1, 1+spread]) plus `latency`
    seconds per message."""

    rate: float
    spread: float = 0.0
    latency: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not (_real(self.rate) and 0 < self.rate < math.inf):
            raise ValueError(f"rate must be a number of bytes/s > 0, got rate={self.rate!r}")
        if not (_real(self.spread) and 0 <= self.spread < math.inf):
            raise ValueError(f"spread must be a finite number >= 0, got spread={self.spread!r}")
        if not (_real(self.latency) and 0 <= self.latency < math.inf):
            raise ValueError(
                f"latency must be a finite number of seconds >= 0, got latency={self.latency!r}"
            )
        if isinstance(self.seed, bool) or not (isinstance(self.seed, Integral) and self.seed >= 0):
            raise ValueError(f"seed must be an integer >= 0, got seed={self.seed!r}")

    def per_byte(self, rounds: ArrayLike, n: int) -> np.ndarray:
        """Seconds per byte of each worker's link, (len(rounds), n)."""
        rounds = np.atleast_1d(np.asarray(rounds, dtype=np.int64))
        out = np.full((rounds.size, n), 1.0 / self.rate)
        if self.spread:
            for r, t in enumerate(rounds.tolist()):
                u = np.random.default_rng([int(self.seed), int(t), STREAM]).random(n)
                out[r] *= 1.0 + self.spread * u
        return out

    def seconds(self, rounds: ArrayLike, n: int, nbytes: int) -> np.ndarray:
        """Seconds to send one message of `nbytes` bytes, (len(rounds), n)."""
        return self.latency + nbytes * self.per_byte(rounds, n)

    def spec(self) -> str:
        """The spec text of this link (`parse_link`'s inverse)."""
        return (
            f"rate={self.rate:g};spread={self.spread:g};latency={self.latency:g};seed={self.seed}"
        )


def parse_link(spec: str | float | Link | None) -> Link | None:
    """A `Link` from a rate in bytes/s, spec text (module docstring), a Link, or None (none)."""
    if spec is None or isinstance(spec, Link):
        return spec
    if _real(spec):
        return Link(rate=float(spec))  # type: ignore[arg-type]
    if not isinstance(spec, str):
        raise ValueError(f"link must be bytes/s, spec text or a Link, got {spec!r}")
    text = spec.strip()
    if text in ("", "none"):
        return None
    if "=" not in text:
        try:
            return Link(rate=float(text))
        except ValueError:
            raise ValueError(
                f"link must be a rate in bytes/s or 'rate=R;spread=X;latency=S;seed=N', "
                f"got {spec!r}"
            ) from None
    _, kw = parse_spec(f"link:{text.removeprefix('link:')}", "link")
    unknown = sorted(set(kw) - {"rate", "spread", "latency", "seed"})
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {', '.join(unknown)} for link; valid parameters: "
            "latency, rate, seed, spread"
        )
    if "rate" not in kw:
        raise ValueError(f"link spec {spec!r} needs rate=BYTES_PER_SECOND")
    return Link(**kw)  # type: ignore[arg-type]


def _real(x: object) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool)
