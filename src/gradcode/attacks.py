"""Byzantine attacks: how a corrupted worker rewrites the message it sends.

A message v is what a worker sends for one message slot: `message_width(d)` = d+1 values (the
B-weighted gradient, then the B-weighted loss), or for block codes (m > 1) its ceil((d+1)/m)
folded values. An `Attack` rewrites all of v in place, loss included:

- ``sign``: v <- -scale * v (scale 1: the honest message negated).
- ``noise``: v <- v + scale * rms(v) * N(0, I), rms(v) = sqrt(mean(v^2)) (scale 1: noise as large
  as the message).
- ``constant``: every value <- scale (default 100).
- ``alie`` ("a little is enough", Baruch, Baruch and Goldberg, NeurIPS 2019): v <- v - z * spread,
  z = scale (default 1), `spread` the per-coordinate standard deviation of honest messages as the
  attacker estimates it (the runtime's worker: from its own rows, `WorkerJob`). A shift within the
  honest spread, small enough that coordinate-wise robust rules keep it.
- ``collude``: every colluding worker sends the same vector in a round, v <- scale * u / rms(u)
  with u ~ N(0, I) drawn from the stream of (seed, round, message slot) alone (`Attack.rng`): two
  colluders produce bit-identical messages (same width and dtype), a different one each round.
  The colluders never see each other's honest messages, so they cannot agree on an honest-looking
  magnitude: rms(v) is exactly `scale` (default 1); choose it near the honest messages' rms (a
  clean run's) to evade norm-based filters.
- ``bitflip``: flip one random bit among the exponent and sign bits (52..63 of a float64 viewed as
  uint64; 23..31 of a float32) of max(1, round(scale)) distinct random coordinates (default 1).
  Such a flip scales a value by a factor >= 2 (an exponent bit: 2^(±2^j)), negates it, or makes
  it inf/NaN: a gross error, the fault a robust decoder must catch. Mantissa bits are left out:
  flipping mantissa bit b changes a value by a relative 2^(b-52) < 1/2 (float32: 2^(b-23)), and
  by < 2^-20 for the low bits b < 32: below any detection threshold and harmless to training.
  (A sign flip of 0.0 gives -0.0: the bits change, the value compares equal.)
- ``nan``: max(1, round(scale)) distinct random coordinates become NaN (an overflow in the
  worker's arithmetic): never stepped on, with every code.

Randomness is explicit: `corrupt` draws from the Generator it is given; `Attack.rng` is the
stream the runtime uses, ``np.random.default_rng([seed, round, STREAM, p, worker])`` (collude:
``[seed, round, STREAM, p]``, no worker) with seed the run's seed and p the worker's message slot:
the same corruption for the same worker, round and seed under every scheme, engine and timing.
STREAM = 4 follows the delay models' ``[seed, round, q]`` streams (q = 0..3 in use): no draw of
theirs repeats an attack's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.random import Generator

ATTACKS = ("sign", "noise", "constant", "alie", "collude", "bitflip", "nan")
DEFAULT_SCALES = {
    "sign": 1.0,
    "noise": 1.0,
    "constant": 100.0,
    "alie": 1.0,
    "collude": 1.0,
    "bitflip": 1.0,
    "nan": 1.0,
}
STREAM = 4  # [seed, round, STREAM, ...]: the attacks' random stream (delays use 0..2, links 3)
_FLIP_BITS = {np.dtype(np.float64): (52, 64, np.uint64), np.dtype(np.float32): (23, 32, np.uint32)}


def rms(v: np.ndarray) -> float:
    """sqrt(mean(v^2)), in float64 (0 for an empty v)."""
    return math.sqrt(float(np.mean(np.square(v, dtype=np.float64)))) if v.size else 0.0


@dataclass(frozen=True)
class Attack:
    """A Byzantine worker's rewrite of its message: `model` (one of ATTACKS) at `scale` (None:
    the model's default, DEFAULT_SCALES). `scale` must be finite, and > 0 for every model but
    ``constant`` (whose scale is the value sent)."""

    model: str
    scale: float | None = None

    def __post_init__(self) -> None:
        if self.model not in ATTACKS:
            raise ValueError(
                f"attack model must be one of {', '.join(ATTACKS)}, got {self.model!r}"
            )
        scale = DEFAULT_SCALES[self.model] if self.scale is None else self.scale
        if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)):
            raise ValueError(f"attack scale must be a number, got scale={scale!r}")
        scale = float(scale)
        if not math.isfinite(scale) or (self.model != "constant" and scale <= 0):
            allowed = "finite" if self.model == "constant" else "finite and > 0"
            raise ValueError(
                f"attack scale must be {allowed} for {self.model}, got scale={scale!r}"
            )
        object.__setattr__(self, "scale", scale)

    @property
    def level(self) -> float:
        """The scale in use (the model's default where none was given)."""
        return float(self.scale) if self.scale is not None else DEFAULT_SCALES[self.model]

    @property
    def shared(self) -> bool:
        """Whether every attacker sends the same vector (its stream ignores the worker)."""
        return self.model == "collude"

    @property
    def needs_spread(self) -> bool:
        """Whether `corrupt` needs the honest messages' per-coordinate spread."""
        return self.model == "alie"

    def rng(self, seed: int, round: int, p: int, worker: int) -> Generator:
        """The stream of worker `worker`'s message slot `p` at `round` in a run seeded `seed`:
        ``default_rng([seed, round, STREAM, p, worker])``, without the worker for collude."""
        key = [int(seed), int(round), STREAM, int(p)]
        return np.random.default_rng(key if self.shared else [*key, int(worker)])

    def corrupt(self, v: np.ndarray, rng: Generator, spread: np.ndarray | None = None) -> None:
        """Rewrite the message `v` in place (every value: gradient and loss). `spread` (alie
        only, v's shape): the per-coordinate std of honest messages."""
        scale = self.level
        if self.model == "sign":
            v *= -scale
        elif self.model == "noise":
            v += scale * rms(v) * rng.standard_normal(v.shape)
        elif self.model == "constant":
            v[...] = scale
        elif self.model == "alie":
            if spread is None:
                raise ValueError(
                    "the alie attack needs spread, the per-coordinate std of honest messages"
                )
            spread = np.asarray(spread)
            if spread.shape != v.shape:
                raise ValueError(
                    f"alie spread must have the message's shape {v.shape}, got {spread.shape}"
                )
            v -= scale * spread
        elif self.model == "collude":
            u = rng.standard_normal(v.shape)
            v[...] = (scale / (rms(u) or 1.0)) * u
        elif self.model == "nan":
            count = min(v.size, max(1, round(scale)))
            v[np.unravel_index(rng.choice(v.size, size=count, replace=False), v.shape)] = np.nan
        else:
            _flip(v, max(1, round(scale)), rng)


def _flip(v: np.ndarray, count: int, rng: Generator) -> None:
    """Flip one random exponent or sign bit in each of `count` distinct random coordinates."""
    if v.dtype not in _FLIP_BITS:
        raise ValueError(f"bitflip needs a float64 or float32 message, got dtype {v.dtype}")
    low, high, uint = _FLIP_BITS[v.dtype]
    flat = v if v.flags.c_contiguous else np.ascontiguousarray(v)
    bits = flat.reshape(-1).view(uint)
    count = min(count, bits.size)
    where = rng.choice(bits.size, size=count, replace=False)
    bit = rng.integers(low, high, size=count).astype(uint)
    bits[where] ^= np.left_shift(uint(1), bit)
    if flat is not v:
        v[...] = flat
