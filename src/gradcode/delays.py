"""Straggler injection: per-round added delays and slowdown factors for n workers.

A delay model answers ``sample(round, n) -> (extra, factor)``, two float64 arrays of shape (n,):
worker i's reply in that round takes ``compute_time * factor[i] + extra[i]`` seconds
(extra >= 0, factor >= 1).

Determinism: every random quantity q of a model (e.g. q=0 "is worker i slowed", q=1 "by how
much") is drawn from its own stream ``np.random.default_rng([seed, round, q])`` and worker i takes
the i-th draw. So the draw for (round t, worker i) depends only on (seed, t, i, parameters): not
on call order, not on which rounds were sampled before, and ``sample(t, 5)`` equals the first five
entries of ``sample(t, 8)``. Every scheme in a comparison therefore sees the same stragglers.
(``RandomStragglers``, which picks exactly ``count`` of the n workers, also depends on n.)

Spec strings (for the CLI), parsed by :func:`parse_delay`::

    NAME[:KEY=VALUE[;KEY=VALUE...]]

VALUE is a number, or numbers separated by commas for a tuple. Examples::

    none
    fixed:workers=0,1;delay=0.2
    fixed:workers=3;factor=5
    random:count=2;delay=0.5;seed=1
    exponential:mean=0.05;p=0.2;seed=0
    slowdown:fraction=0.1;factor_low=3;factor_high=8
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import MISSING, dataclass, fields
from numbers import Integral, Real
from typing import Protocol

import numpy as np

Sample = tuple[np.ndarray, np.ndarray]


class DelayModel(Protocol):
    def sample(self, round: int, n: int) -> Sample:
        """(added seconds, slowdown factors >= 1), each of shape (n,), for round ``round``."""
        ...


def _check_round(round: int, n: int) -> None:
    if not (isinstance(round, Integral) and round >= 0):
        raise ValueError(f"round must be an integer >= 0, got round={round!r}")
    if not (isinstance(n, Integral) and n >= 1):
        raise ValueError(f"n must be an integer >= 1, got n={n!r}")


def _check_real(name: str, value: float, low: float, high: float = math.inf) -> None:
    if not (isinstance(value, Real) and math.isfinite(value) and low <= value <= high):
        allowed = f">= {low}" if high == math.inf else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be a finite number {allowed}, got {name}={value!r}")


def _no_delay(n: int) -> Sample:
    return np.zeros(n), np.ones(n)


@dataclass(frozen=True, kw_only=True)
class NoDelay:
    """Every worker on time: extra = 0, factor = 1."""

    def sample(self, round: int, n: int) -> Sample:
        _check_round(round, n)
        return _no_delay(n)


@dataclass(frozen=True, kw_only=True)
class _Stragglers:
    """Stragglers get ``extra = delay`` seconds and ``factor``; the others are on time."""

    delay: float = 0.2
    factor: float = 1.0

    def __post_init__(self) -> None:
        _check_real("delay", self.delay, 0.0)
        _check_real("factor", self.factor, 1.0)

    def _apply(self, n: int, slow: np.ndarray) -> Sample:
        extra, factor = _no_delay(n)
        extra[slow] = self.delay
        factor[slow] = self.factor
        return extra, factor


@dataclass(frozen=True, kw_only=True)
class FixedStragglers(_Stragglers):
    """The same workers straggle every round (persistent stragglers)."""

    workers: tuple[int, ...] = (0,)

    def __post_init__(self) -> None:
        super().__post_init__()
        ids = (self.workers,) if isinstance(self.workers, Integral) else tuple(self.workers)
        if not all(isinstance(i, Integral) and i >= 0 for i in ids):
            raise ValueError(f"workers must be integer ids >= 0, got workers={self.workers!r}")
        object.__setattr__(self, "workers", tuple(sorted({int(i) for i in ids})))

    def sample(self, round: int, n: int) -> Sample:
        _check_round(round, n)
        bad = [i for i in self.workers if i >= n]
        if bad:
            raise ValueError(
                f"straggler worker id(s) {bad} out of range for n={n} workers "
                f"(valid ids 0..{n - 1})"
            )
        return self._apply(n, np.array(self.workers, dtype=np.int64))


@dataclass(frozen=True, kw_only=True)
class _Seeded:
    seed: int

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not (isinstance(self.seed, Integral) and self.seed >= 0):
            raise ValueError(f"seed must be an integer >= 0, got seed={self.seed!r}")

    def _rng(self, round: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([int(self.seed), int(round), stream])


@dataclass(frozen=True, kw_only=True)
class RandomStragglers(_Stragglers, _Seeded):
    """Exactly ``count`` workers, chosen uniformly at random each round, straggle."""

    count: int = 1

    def __post_init__(self) -> None:
        _Stragglers.__post_init__(self)
        _Seeded.__post_init__(self)
        if not (isinstance(self.count, Integral) and self.count >= 0):
            raise ValueError(f"count must be an integer >= 0, got count={self.count!r}")

    def sample(self, round: int, n: int) -> Sample:
        _check_round(round, n)
        if self.count > n:
            raise ValueError(f"count={self.count} stragglers exceeds n={n} workers")
        keys = self._rng(round, 0).random(n)  # the count smallest keys straggle
        return self._apply(n, np.argsort(keys, kind="stable")[: self.count])


@dataclass(frozen=True, kw_only=True)
class ExponentialDelay(_Seeded):
    """Each worker, with probability p, gets an Exponential(mean) added delay each round."""

    mean: float
    p: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_real("mean", self.mean, 0.0)
        _check_real("p", self.p, 0.0, 1.0)

    def sample(self, round: int, n: int) -> Sample:
        _check_round(round, n)
        hit = self._rng(round, 0).random(n) < self.p
        extra = np.where(hit, self._rng(round, 1).exponential(self.mean, n), 0.0)
        return extra, np.ones(n)


@dataclass(frozen=True, kw_only=True)
class SlowdownDelay(_Seeded):
    """Each worker, with probability ``fraction``, runs slower by a factor ~ U[low, high].

    The default 3-8x range mimics stragglers seen on EC2.
    """

    fraction: float
    factor_low: float = 3.0
    factor_high: float = 8.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_real("fraction", self.fraction, 0.0, 1.0)
        _check_real("factor_low", self.factor_low, 1.0)
        _check_real("factor_high", self.factor_high, self.factor_low)

    def sample(self, round: int, n: int) -> Sample:
        _check_round(round, n)
        hit = self._rng(round, 0).random(n) < self.fraction
        slow = self._rng(round, 1).uniform(self.factor_low, self.factor_high, n)
        return np.zeros(n), np.where(hit, slow, 1.0)


DELAYS: dict[str, type] = {
    "none": NoDelay,
    "fixed": FixedStragglers,
    "random": RandomStragglers,
    "exponential": ExponentialDelay,
    "slowdown": SlowdownDelay,
}


def make_delay(name: str, **kw: float | int | Sequence[int]) -> DelayModel:
    """Build a delay model by registry name; unknown names or parameters list the valid ones."""
    if name not in DELAYS:
        raise ValueError(f"unknown delay {name!r}; valid delays: {', '.join(sorted(DELAYS))}")
    cls = DELAYS[name]
    params = {f.name: f for f in fields(cls)}
    unknown = sorted(set(kw) - set(params))
    if unknown:
        valid = ", ".join(sorted(params)) or "(none)"
        raise ValueError(
            f"unknown parameter(s) {', '.join(unknown)} for delay {name!r}; "
            f"valid parameters: {valid}"
        )
    missing = [p for p, f in params.items() if f.default is MISSING and p not in kw]
    if missing:
        raise ValueError(f"delay {name!r} needs parameter(s): {', '.join(missing)}")
    return cls(**kw)


def parse_delay(spec: str, *, seed: int | None = None) -> DelayModel:
    """Build a delay model from ``NAME[:KEY=VALUE[;KEY=VALUE...]]`` (see the module docstring).

    ``seed`` is used for seeded models whose spec gives none.
    """
    name, _, rest = spec.strip().partition(":")
    name = name.strip()
    kw: dict[str, float | int | tuple[float | int, ...]] = {}
    for item in filter(None, (part.strip() for part in rest.split(";"))):
        key, eq, value = (s.strip() for s in item.partition("="))
        if not (key and eq and value):
            raise ValueError(f"bad item {item!r} in delay spec {spec!r}; expected KEY=VALUE")
        if key in kw:
            raise ValueError(f"parameter {key!r} given twice in delay spec {spec!r}")
        numbers = tuple(_number(v.strip(), spec) for v in value.split(","))
        kw[key] = numbers if "," in value else numbers[0]
    if seed is not None and name in DELAYS and issubclass(DELAYS[name], _Seeded):
        kw.setdefault("seed", seed)
    return make_delay(name, **kw)


def _number(text: str, spec: str) -> float | int:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"bad value {text!r} in delay spec {spec!r}; expected a number") from None
