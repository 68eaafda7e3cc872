"""Straggler injection: per-round added delays and slowdown factors for n workers.

A delay model answers ``sample(round, n) -> (extra, factor)``, two float64 arrays of shape (n,):
worker i's reply in that round takes ``compute_time * factor[i] + extra[i]`` seconds
(extra >= 0, factor >= 1). ``sample_many(rounds, n)`` answers for many rounds at once, arrays of
shape (len(rounds), n) whose row r equals ``sample(rounds[r], n)`` exactly (the simulator's
batch sampler; the runtime calls ``sample``); `DelayModel` declares it, by default sampled round
by round. One exception to factor >= 1: a trace replaying
recorded *total* reply times returns factor = 0 and extra = the recorded time (the reply takes
the recorded time, whatever the compute; a real worker sleeps out the difference).

Determinism: every random quantity q of a model (e.g. q=0 "is worker i slowed", q=1 "by how
much") is drawn from its own stream ``np.random.default_rng([seed, round, q])`` and worker i takes
the i-th draw. So the draw for (round t, worker i) depends only on (seed, t, i, parameters): not
on call order, not on which rounds were sampled before, and ``sample(t, 5)`` equals the first five
entries of ``sample(t, 8)``. Every scheme in a comparison therefore sees the same stragglers.
(``RandomStragglers``, which picks exactly ``count`` of the n workers, also depends on n.)
The Markov model has state across rounds and keeps this property: its chain is driven by the same
per-round streams, and round t's state is found by looking back to each worker's last *reset*
round (see `MarkovDelay`).

Spec strings (for the CLI), parsed by :func:`parse_delay`::

    NAME[:KEY=VALUE[;KEY=VALUE...]]

VALUE is a number, or numbers separated by commas for a tuple (text for a path or a column name).
Examples::

    none
    fixed:workers=0,1;delay=0.2
    fixed:workers=3;factor=5
    fixed:workers=3;factor=5;start=20   (slow from round 20 on)
    random:count=2;delay=0.5;seed=1
    exponential:mean=0.05;p=0.2;seed=0
    exponential:mean=0.02;shift=0.01;seed=0          (shifted exponential)
    pareto:alpha=1.5;scale=0.01;seed=0               (heavy tail)
    slowdown:fraction=0.1;factor_low=3;factor_high=8 (bimodal, EC2-like; alias "bimodal")
    markov:fraction=0.1;duration=20;factor=5;delay=0;seed=0
    trace:path=runs/train/workers.csv                (replay `gradcode train`'s arrivals)
    trace:path=runs/train/workers.csv;minus=compute_s (replay only the delays)
    trace:path=runs/compare;scheme=naive             (one scheme of a comparison)
    empirical:values=0.001,0.0015,0.004;seed=0       (resample recorded seconds)

One module for every model (some 570 lines): they share the stream discipline above, the
validation helpers and the spec parser with its one registry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike

from .records import read_trace
from .registry import Registry

Sample = tuple[np.ndarray, np.ndarray]


class DelayModel(Protocol):
    """A delay model declares ``sample``; ``sample_many`` defaults to sampling round by round
    (the models of this module vectorise it)."""

    def sample(self, round: int, n: int) -> Sample:
        """(added seconds, slowdown factors >= 1), each of shape (n,), for round ``round``."""
        ...

    def sample_many(self, rounds: ArrayLike, n: int) -> Sample:
        """(extra, factor), each (len(rounds), n), row r equal to ``sample(rounds[r], n)``."""
        rounds = _check_rounds(rounds, n)
        draws = [self.sample(int(t), n) for t in rounds]
        if not draws:
            return np.zeros((0, n)), np.ones((0, n))
        return np.stack([d[0] for d in draws]), np.stack([d[1] for d in draws])


def sample_many(model: DelayModel, rounds: ArrayLike, n: int) -> Sample:
    """(extra, factor), each (len(rounds), n), row r equal to ``model.sample(rounds[r], n)``."""
    return model.sample_many(rounds, n)


def _check_round(round: int, n: int) -> None:
    if not (isinstance(round, Integral) and round >= 0):
        raise ValueError(f"round must be an integer >= 0, got round={round!r}")
    _check_n(n)


def _check_n(n: int) -> None:
    if not (isinstance(n, Integral) and n >= 1):
        raise ValueError(f"n must be an integer >= 1, got n={n!r}")


def _check_rounds(rounds: ArrayLike, n: int) -> np.ndarray:
    _check_n(n)
    r = np.asarray(rounds)
    if r.size == 0:
        return np.zeros(0, dtype=np.int64)
    if r.ndim != 1 or not np.issubdtype(r.dtype, np.integer) or r.min() < 0:
        raise ValueError(f"rounds must be a 1-D sequence of integers >= 0, got {rounds!r}")
    return r.astype(np.int64, copy=False)


def _check_real(name: str, value: float, low: float, high: float = math.inf) -> None:
    if not (isinstance(value, Real) and math.isfinite(value) and low <= value <= high):
        allowed = f">= {low}" if high == math.inf else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be a finite number {allowed}, got {name}={value!r}")


class _Model(DelayModel):
    """``sample`` and ``sample_many`` from one vectorised ``_draw(rounds, n)``."""

    def sample(self, round: int, n: int) -> Sample:
        _check_round(round, n)
        extra, factor = self._draw(np.array([round], dtype=np.int64), n)
        return extra[0], factor[0]

    def sample_many(self, rounds: ArrayLike, n: int) -> Sample:
        """(extra, factor), each (len(rounds), n); row r equals ``sample(rounds[r], n)``."""
        return self._draw(_check_rounds(rounds, n), n)

    def _draw(self, rounds: np.ndarray, n: int) -> Sample:
        raise NotImplementedError


def _no_delay(shape: tuple[int, ...]) -> Sample:
    return np.zeros(shape), np.ones(shape)


@dataclass(frozen=True, kw_only=True)
class NoDelay(_Model):
    """Every worker on time: extra = 0, factor = 1."""

    def _draw(self, rounds: np.ndarray, n: int) -> Sample:
        return _no_delay((rounds.size, n))


@dataclass(frozen=True, kw_only=True)
class _Stragglers(_Model):
    """Stragglers get ``extra = delay`` seconds and ``factor``; the others are on time."""

    delay: float = 0.2
    factor: float = 1.0

    def __post_init__(self) -> None:
        _check_real("delay", self.delay, 0.0)
        _check_real("factor", self.factor, 1.0)

    def _apply(self, slow: np.ndarray) -> Sample:
        """(extra, factor) for a boolean straggler mask of any shape."""
        return np.where(slow, float(self.delay), 0.0), np.where(slow, float(self.factor), 1.0)


@dataclass(frozen=True, kw_only=True)
class FixedStragglers(_Stragglers):
    """The same workers straggle every round from round `start` on (persistent stragglers;
    start > 0: a straggler that appears mid-run)."""

    workers: tuple[int, ...] = (0,)
    start: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.start, bool) or not isinstance(self.start, Integral) or self.start < 0:
            raise ValueError(f"start must be a round >= 0, got start={self.start!r}")
        ids = (self.workers,) if isinstance(self.workers, Integral) else tuple(self.workers)
        if not all(isinstance(i, Integral) and i >= 0 for i in ids):
            raise ValueError(f"workers must be integer ids >= 0, got workers={self.workers!r}")
        object.__setattr__(self, "workers", tuple(sorted({int(i) for i in ids})))

    def _draw(self, rounds: np.ndarray, n: int) -> Sample:
        bad = [i for i in self.workers if i >= n]
        if bad:
            raise ValueError(
                f"straggler worker id(s) {bad} out of range for n={n} workers "
                f"(valid ids 0..{n - 1})"
            )
        slow = np.zeros((rounds.size, n), dtype=bool)
        slow[np.ix_(rounds >= self.start, list(self.workers))] = True
        return self._apply(slow)


@dataclass(frozen=True, kw_only=True)
class _Seeded:
    seed: int

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not (isinstance(self.seed, Integral) and self.seed >= 0):
            raise ValueError(f"seed must be an integer >= 0, got seed={self.seed!r}")

    def _rng(self, round: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([int(self.seed), int(round), stream])

    def _streams(self, rounds: np.ndarray, n: int, stream: int, kind: str = "random"):
        """(len(rounds), n) draws; row r is the first n of stream [seed, rounds[r], stream].

        ``kind`` is a Generator method that fills ``out=``: random or standard_exponential.
        """
        out = np.empty((rounds.size, n))
        for r, t in enumerate(rounds.tolist()):
            getattr(self._rng(t, stream), kind)(out=out[r])
        return out


@dataclass(frozen=True, kw_only=True)
class RandomStragglers(_Stragglers, _Seeded):
    """Exactly ``count`` workers, chosen uniformly at random each round, straggle."""

    count: int = 1

    def __post_init__(self) -> None:
        _Stragglers.__post_init__(self)
        _Seeded.__post_init__(self)
        if not (isinstance(self.count, Integral) and self.count >= 0):
            raise ValueError(f"count must be an integer >= 0, got count={self.count!r}")

    def _draw(self, rounds: np.ndarray, n: int) -> Sample:
        if self.count > n:
            raise ValueError(f"count={self.count} stragglers exceeds n={n} workers")
        keys = self._streams(rounds, n, 0)  # the count smallest keys straggle
        slow = np.zeros(keys.shape, dtype=bool)
        np.put_along_axis(slow, np.argsort(keys, axis=1, kind="stable")[:, : self.count], True, 1)
        return self._apply(slow)


@dataclass(frozen=True, kw_only=True)
class ExponentialDelay(_Model, _Seeded):
    """Each worker waits ``shift`` seconds plus, with probability p, an Exponential(mean) delay.

    With p = 1 a worker's time is a shifted exponential: compute + shift + Exp(mean).
    """

    mean: float
    p: float = 1.0
    shift: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_real("mean", self.mean, 0.0)
        _check_real("p", self.p, 0.0, 1.0)
        _check_real("shift", self.shift, 0.0)

    def _draw(self, rounds: np.ndarray, n: int) -> Sample:
        extra = np.zeros((rounds.size, n))
        if self.p > 0:  # p = 1 skips the hit stream (every draw of [0, 1) is < 1 anyway)
            extra = self._streams(rounds, n, 1, "standard_exponential")
            extra *= self.mean
            if self.p < 1:
                extra[self._streams(rounds, n, 0) >= self.p] = 0.0
        if self.shift:
            extra += self.shift
        return extra, np.ones_like(extra)


@dataclass(frozen=True, kw_only=True)
class ParetoDelay(_Model, _Seeded):
    """Heavy-tailed added delay: ``scale * (P - 1)`` with P ~ Pareto(alpha), P(P > x) = x^-alpha.

    The delay starts at 0 (a Lomax law); its mean is scale / (alpha - 1) for alpha > 1, and
    moments of order >= alpha are infinite.
    """

    alpha: float
    scale: float = 0.01

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_real("scale", self.scale, 0.0)
        if not (isinstance(self.alpha, Real) and math.isfinite(self.alpha) and self.alpha > 0):
            raise ValueError(f"alpha must be a finite number > 0, got alpha={self.alpha!r}")

    def _draw(self, rounds: np.ndarray, n: int) -> Sample:
        e = self._streams(rounds, n, 0, "standard_exponential")  # log P ~ Exp(1) / alpha
        extra = np.expm1(e / self.alpha) * self.scale
        return extra, np.ones_like(extra)


@dataclass(frozen=True, kw_only=True)
class SlowdownDelay(_Model, _Seeded):
    """Each worker, with probability ``fraction``, runs slower by a factor ~ U[low, high].

    Bimodal: most workers on time, a few 3-8x slower (the default range mimics stragglers seen on
    EC2). Registered as "slowdown" and "bimodal". ``base`` adds that many seconds to every
    worker's round, slowed by the same factor (``extra = base * factor``): it stands for the part
    of a round a dedicated machine spends outside this process's CPU (network, its own cores),
    so slowdowns stay realistic when many workers share a few cores.
    """

    fraction: float
    factor_low: float = 3.0
    factor_high: float = 8.0
    base: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_real("fraction", self.fraction, 0.0, 1.0)
        _check_real("factor_low", self.factor_low, 1.0)
        _check_real("factor_high", self.factor_high, self.factor_low)
        _check_real("base", self.base, 0.0)

    def _draw(self, rounds: np.ndarray, n: int) -> Sample:
        factor = np.ones((rounds.size, n))
        if self.fraction > 0:
            slow = self._streams(rounds, n, 1)
            slow *= self.factor_high - self.factor_low
            slow += self.factor_low
            hit = self._streams(rounds, n, 0) < self.fraction if self.fraction < 1 else True
            np.copyto(factor, slow, where=hit)
        return self.base * factor, factor


@dataclass(frozen=True, kw_only=True)
class EmpiricalDelay(_Model, _Seeded):
    """Added delays drawn uniformly at random from recorded ``values`` (seconds), e.g. measured
    per-message overheads (`gradcode.simulate.calibrate`) as the simulator's ``comm``.

    Draws come from stream [seed, round, ``stream``]; the default 2 is used by no other model,
    so an empirical comm is independent of a delay model with the same seed.
    """

    values: tuple[float, ...]
    stream: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (isinstance(self.stream, Integral) and self.stream >= 0):
            raise ValueError(f"stream must be an integer >= 0, got stream={self.stream!r}")
        values = (self.values,) if isinstance(self.values, Real) else tuple(self.values)
        if not values or not all(isinstance(v, Real) and 0 <= v < math.inf for v in values):
            raise ValueError(f"values must be finite numbers >= 0, got values={self.values!r}")
        object.__setattr__(self, "values", tuple(float(v) for v in values))

    def _draw(self, rounds: np.ndarray, n: int) -> Sample:
        u = self._streams(rounds, n, int(self.stream))
        extra = np.asarray(self.values)[(u * len(self.values)).astype(np.intp)]
        return extra, np.ones_like(extra)


_MARKOV_CACHE: dict[tuple[MarkovDelay, int], tuple[int, np.ndarray]] = {}


@dataclass(frozen=True, kw_only=True)
class MarkovDelay(_Stragglers, _Seeded):
    """Two-state (Gilbert-Elliott) stragglers: each worker is on time or slow, and its state
    persists across rounds; slow workers get ``delay`` and ``factor`` as fixed stragglers do.

    ``fraction`` is the long-run share of slow worker-rounds, ``duration`` the mean length of a
    slow spell in rounds: p_exit = 1/duration, p_enter = fraction p_exit / (1 - fraction).
    duration = 1/(1 - fraction) makes rounds independent (transient stragglers); larger
    durations make stragglers persistent. Round 0 starts in the stationary law.

    Pure in (seed, round, worker): with u the worker's draw from stream [seed, t, 0], round 0 is
    slow iff u < fraction; round t > 0 *resets* to slow when u < p_enter, to on time when
    u >= 1 - p_exit, and keeps the previous state otherwise (a correct transition because
    p_enter <= 1 - p_exit, which is why duration >= 1/(1 - fraction) is required). The state at
    round t is the value of the worker's last reset, found by looking back (about
    1/(p_enter + p_exit) rounds); the last state computed is cached per process, so sampling
    rounds in order costs one stream per round.
    """

    fraction: float
    duration: float
    factor: float = 5.0
    delay: float = 0.0

    def __post_init__(self) -> None:
        _Stragglers.__post_init__(self)
        _Seeded.__post_init__(self)
        _check_real("fraction", self.fraction, 0.0, 1.0)
        if self.fraction >= 1:
            raise ValueError(f"fraction must be < 1, got fraction={self.fraction!r}")
        low = 1.0 / (1.0 - self.fraction)
        if not (isinstance(self.duration, Real) and low <= self.duration < math.inf):
            raise ValueError(
                f"duration must be a finite number >= 1/(1-fraction) = {low:.4g} rounds "
                f"(independent rounds), got duration={self.duration!r}"
            )

    @property
    def p_exit(self) -> float:
        return 1.0 / self.duration

    @property
    def p_enter(self) -> float:
        return self.fraction * self.p_exit / (1.0 - self.fraction)

    def _draw(self, rounds: np.ndarray, n: int) -> Sample:
        return self._apply(self.states(rounds, n))

    def states(self, rounds: ArrayLike, n: int) -> np.ndarray:
        """Boolean (len(rounds), n): True where the worker is slow in that round."""
        rounds = _check_rounds(rounds, n)
        if rounds.size == 0:
            return np.zeros((0, n), dtype=bool)
        lo, hi = int(rounds.min()), int(rounds.max())
        u = self._streams(np.arange(lo, hi + 1), n, 0)
        reset, value = self._resets(u, lo)
        first = lo
        cached = _MARKOV_CACHE.get((self, n))
        if cached is not None and cached[0] == lo - 1:  # the previous round is known: no lookback
            reset = np.vstack([np.ones((1, n), dtype=bool), reset])
            value, first = np.vstack([cached[1][None], value]), lo - 1
        step, pending = 4, ~reset[0]
        while pending.any():  # look back until every worker has a reset (round 0 always is one)
            begin = max(0, first - step)
            back_reset, back_value = self._resets(
                self._streams(np.arange(begin, first), n, 0), begin
            )
            reset, value = np.vstack([back_reset, reset]), np.vstack([back_value, value])
            pending &= ~back_reset.any(axis=0)
            first, step = begin, step * 2
        last = np.where(reset, np.arange(reset.shape[0])[:, None], 0)
        np.maximum.accumulate(last, axis=0, out=last)
        state = np.take_along_axis(value, last, axis=0)
        if len(_MARKOV_CACHE) > 64:
            _MARKOV_CACHE.clear()
        _MARKOV_CACHE[(self, n)] = (hi, state[-1].copy())
        return state[rounds - first]

    def _resets(self, u: np.ndarray, first: int) -> tuple[np.ndarray, np.ndarray]:
        """(reset, value) for rows of draws u starting at round `first`."""
        p_enter, p_exit = self.p_enter, self.p_exit
        value = u < p_enter
        reset = value | (u >= 1.0 - p_exit)
        if first == 0 and u.shape[0]:
            reset[0], value[0] = True, u[0] < self.fraction
        return reset, value


TIME_COLUMNS = ("arrival_s", "time_s", "time", "seconds")


@dataclass(frozen=True, kw_only=True)
class TraceDelay(_Model):
    """Replay recorded per-(worker, round) reply times from a CSV with columns round, worker
    and a time column (``column``; by default the first of arrival_s, time_s, time, seconds).

    A results folder (`gradcode train`'s, `compare`'s, a saved simulation's) or its workers.csv
    works as is (records.py: round t = the t-th step). Of a folder of several schemes (a
    comparison) give ``scheme``: one scheme's rounds are replayed, never a merge; without it such a
    folder is a ValueError naming its schemes. Round t replays the trace's round t mod R.
    Without ``minus``, a worker's reply takes the recorded time (extra = time, factor = 0): the
    simulator reproduces the recorded round ends exactly. With ``minus`` (e.g. compute_s) only
    time - minus is replayed as an added delay (factor = 1), so a simulation adds each scheme's
    own compute time (load x t_partition) to the recorded delays.

    An empty time means the worker did not reply in that round (it was a straggler still busy,
    or dead): it replays as ``missing`` seconds, +inf by default (never arrives that round: the
    recorded rounds replay exactly, but a scheme needing that worker cannot finish the round).
    For the runtime's injection give a finite ``missing`` (a real worker cannot sleep forever).
    """

    path: str
    column: str = ""
    minus: str = ""
    missing: float = math.inf
    scheme: str = ""
    times: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (isinstance(self.missing, Real) and self.missing >= 0):
            raise ValueError(f"missing must be a number >= 0 (or inf), got {self.missing!r}")
        header, rows = read_trace(self.path, self.scheme)
        column = self.column or next((c for c in TIME_COLUMNS if c in header), "")
        if not column:
            raise ValueError(
                f"trace {self.path} has no time column: give column=NAME, one of {header}"
            )
        times = _table(self.path, header, rows, column)
        if self.minus:
            times = times - _table(self.path, header, rows, self.minus)
        times[np.isnan(times)] = self.missing
        if (times < 0).any():
            raise ValueError(f"trace {self.path} has negative times in column {column!r}")
        times.flags.writeable = False
        object.__setattr__(self, "column", column)
        object.__setattr__(self, "times", times)

    @property
    def rounds(self) -> int:
        """Rounds recorded in the trace."""
        return self.times.shape[0]

    @property
    def n(self) -> int:
        """Workers recorded in the trace."""
        return self.times.shape[1]

    def _draw(self, rounds: np.ndarray, n: int) -> Sample:
        if n > self.n:
            raise ValueError(f"trace {self.path} has {self.n} workers, cannot replay n={n}")
        extra = self.times[rounds % self.rounds, :n]
        return extra, np.full(extra.shape, 1.0 if self.minus else 0.0)


def _table(path: str, header: list[str], rows: list[dict[str, str]], column: str) -> np.ndarray:
    """(rounds, workers) array of one column; NaN where empty or absent."""
    if column not in header:
        raise ValueError(f"trace {path} has no column {column!r}; columns: {header}")
    try:
        t = np.array([int(r["round"]) for r in rows])
        i = np.array([int(r["worker"]) for r in rows])
        v = np.array([float(r[column]) if r[column].strip() else math.nan for r in rows])
    except ValueError as e:
        raise ValueError(
            f"trace {path}: bad number in column round, worker or {column}: {e}"
        ) from None
    if t.min() < 0 or i.min() < 0:
        raise ValueError(f"trace {path}: rounds and workers must be >= 0")
    out = np.full((t.max() + 1, i.max() + 1), math.nan)
    out[t, i] = v
    return out


DELAYS: dict[str, type] = {
    "none": NoDelay,
    "fixed": FixedStragglers,
    "random": RandomStragglers,
    "exponential": ExponentialDelay,
    "pareto": ParetoDelay,
    "slowdown": SlowdownDelay,
    "bimodal": SlowdownDelay,
    "markov": MarkovDelay,
    "empirical": EmpiricalDelay,
    "trace": TraceDelay,
}


DELAY_REGISTRY = Registry("delay", DELAYS)


def make_delay(name: str, **kw: float | int | str | Sequence[int]) -> DelayModel:
    """Build a delay model by registry name; unknown names or parameters list the valid ones."""
    return DELAY_REGISTRY.build(name, **kw)


def parse_delay(spec: str, *, seed: int | None = None) -> DelayModel:
    """Build a delay model from ``NAME[:KEY=VALUE[;KEY=VALUE...]]`` (see the module docstring).

    ``seed`` is used for seeded models whose spec gives none.
    """
    name, kw = DELAY_REGISTRY.parse(spec)
    if seed is not None and "seed" in DELAY_REGISTRY.params(name):
        kw.setdefault("seed", seed)
    return make_delay(name, **kw)
