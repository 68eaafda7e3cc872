"""Straggler simulator: round times of a gradient code under a delay model, vectorised over
rounds and workers, with closed-form expectations (order statistics) where they exist.

Worker i's reply in round t takes ``T[t, i] = work_i * t_partition * factor[t, i] + extra[t, i]
+ comm`` seconds after the round's broadcast, where work_i is its data in units of an average
partition (the number of partitions it holds, for equal partitions) and (extra, factor) are the
delay model's draws (the same numbers the runtime injects). Multi-message codes send message p
once the work w_ip of messages 0..p is done, at ``w_ip * t_partition * factor + extra * w_ip /
work_i + comm`` (the runtime spreads the extra seconds over the messages the same way). The round
ends when ``code.can_decode(arrived)`` first holds; its time is that moment plus the master's
``overhead`` (decode and step).

The moment is found per decoder family, for a whole block of rounds at once: "at least k replies"
(uncoded codes, and codes decoding from any n-s) is the k-th order statistic of the row
(``np.partition``); "one reply per group" (FRC) is the max over groups of the min within each
group. Other decoders fall back to the exact incremental loop (add arrivals in time order until
``can_decode``), which is also the tests' oracle for the fast rules.

With ``carryover`` the rounds are chained as the runtime runs them: the master never queues a
second message on a busy worker, so a worker still computing (or sleeping out its delay) for an
old round gets the current round's parameters only when it finishes (a multi-message worker: when
it finishes the message in flight at the round's end, where it stops), and skips the rounds that
ended meanwhile; ``gap`` seconds separate a round's end plus ``overhead`` from the next broadcast
(the master's loss evaluation and bookkeeping). Without it rounds are independent (the textbook
model of the order statistics, and of a runtime that cancels stragglers).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy import special, stats

from .codes import GradientCode, make_code
from .codes.decoders import AtLeast, GroupDecoder, NullSpaceDecoder
from .codes.partial import PartialDecoder
from .delays import (
    DelayModel,
    EmpiricalDelay,
    ExponentialDelay,
    FixedStragglers,
    MarkovDelay,
    NoDelay,
    ParetoDelay,
    TraceDelay,
    parse_delay,
    sample_many,
)

Times = NDArray[np.float64]  # (rounds, n) reply times, seconds after each round's broadcast

BLOCK_ELEMENTS = 1 << 20  # rounds are simulated in blocks of about this many (round, worker) cells
DEFAULT_ROUNDS = 1000
SCHEMES = ("naive", "ignore", "frc", "cyclic", "cyclic-mds")


# ---- readiness rules ---------------------------------------------------------------------------
@dataclass(frozen=True)
class KthArrival:
    """Ready at the k-th reply (uncoded codes; codes that decode from any n-s workers)."""

    k: int

    def times(self, T: Times) -> NDArray[np.float64]:
        k = self.k - 1
        return np.partition(T, k, axis=1)[:, k]


@dataclass(frozen=True)
class OnePerGroup:
    """Ready once every group has replied (fractional repetition): max over groups of the min."""

    group: NDArray[np.intp]
    n_groups: int

    def times(self, T: Times) -> NDArray[np.float64]:
        order = np.argsort(self.group, kind="stable")
        g = self.group[order]
        starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
        if starts.size < self.n_groups:  # a group nobody holds: never ready
            return np.full(T.shape[0], math.inf)
        if not np.array_equal(order, np.arange(order.size)):
            T = T[:, order]
        m = self.size
        if m is not None:  # equal groups, members m apart after the sort: m strided minima
            return np.minimum.reduce([T[:, j::m] for j in range(m)]).max(axis=1)
        return np.minimum.reduceat(T, starts, axis=1).max(axis=1)

    @property
    def size(self) -> int | None:
        """The common group size, or None when groups differ in size."""
        sizes = np.bincount(self.group, minlength=self.n_groups)
        return int(sizes[0]) if np.all(sizes == sizes[0]) else None


Rule = KthArrival | OnePerGroup  # (| FirstAllThen, below)


@dataclass(frozen=True)
class FirstAllThen:
    """Partial-straggler codes: every first message (columns 0, 2, ...), and the inner code's
    rule over the second messages (columns 1, 3, ...)."""

    inner: KthArrival | OnePerGroup

    def times(self, T: Times) -> NDArray[np.float64]:
        return np.maximum(T[:, 0::2].max(axis=1), self.inner.times(T[:, 1::2]))


def _partial_rule(d: PartialDecoder) -> Rule | None:
    inner = ready_rule(d.inner)
    return None if inner is None else FirstAllThen(inner)


RULES: dict[type, Callable[[object], Rule]] = {
    PartialDecoder: _partial_rule,
    AtLeast: lambda d: KthArrival(d.need),  # uncoded and approximate codes
    NullSpaceDecoder: lambda d: KthArrival(d.need),
    GroupDecoder: lambda d: OnePerGroup(d.group, d.n_groups),
}


def ready_rule(code: GradientCode) -> Rule | None:
    """The vectorised readiness rule of the code's decoder, or None (use the exact loop)."""
    for cls in type(code.decoder).__mro__:
        if cls in RULES:
            return RULES[cls](code.decoder)
    return None


def ready_times(code: GradientCode, T: Times, *, exact_loop: bool = False) -> NDArray[np.float64]:
    """Per row of message times T (rounds, n*parts): the first moment the arrived messages can
    decode (+inf when even all finite ones cannot)."""
    if np.isnan(T).any():
        T = np.where(np.isnan(T), math.inf, T)
    rule = None if exact_loop else ready_rule(code)
    return ready_times_loop(code, T) if rule is None else rule.times(T)


def ready_times_loop(code: GradientCode, T: Times) -> NDArray[np.float64]:
    """The exact, slow reference: add replies in time order until ``code.can_decode``."""
    out = np.full(T.shape[0], math.inf)
    for r, row in enumerate(T):
        arrived = np.zeros(code.messages, dtype=bool)
        for i in np.argsort(row, kind="stable"):
            if not np.isfinite(row[i]):
                break
            arrived[i] = True
            if code.can_decode(arrived):
                out[r] = row[i]
                break
    return out


# ---- simulation --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Simulation:
    """Simulated rounds of one code: round times (seconds) and, when kept, every reply time."""

    scheme: str
    n: int
    s: int
    load: int
    delays: str
    round_s: NDArray[np.float64]  # (rounds,) decodable moment + overhead; inf: never decodable
    arrivals: Times | None = None  # (rounds, n*parts) message times after broadcasts, when kept
    method: str = "kth"  # how round ends were found: kth | groups | loop

    @property
    def mean(self) -> float:
        return float(np.mean(self.round_s))

    @property
    def median(self) -> float:
        return self.quantile(0.5)

    @property
    def p95(self) -> float:
        return self.quantile(0.95)

    def quantile(self, q: float) -> float:
        """The q-quantile of the round times (inf where it falls on undecodable rounds)."""
        with np.errstate(invalid="ignore"):
            value = float(np.quantile(self.round_s, q))
        return math.inf if math.isnan(value) else value

    def summary(self) -> dict:
        return {
            "scheme": self.scheme,
            "n": self.n,
            "s": self.s,
            "load": self.load,
            "rounds": int(self.round_s.size),
            "mean_s": self.mean,
            "median_s": self.median,
            "p95_s": self.p95,
            "max_s": float(self.round_s.max()),
        }


def simulate(
    code: GradientCode,
    delays: DelayModel | str | None = None,
    rounds: int | None = None,
    *,
    t_partition: float | DelayModel = 0.01,
    comm: float | DelayModel = 0.0,
    overhead: float = 0.0,
    carryover: bool = False,
    gap: float = 0.0,
    first_round: int = 0,
    keep_arrivals: bool = False,
    exact_loop: bool = False,
) -> Simulation:
    """Simulate `rounds` rounds (``first_round`` on) of `code` under `delays` (a model, a spec
    string for `parse_delay`, or None for no delay); see the module docstring for the model.

    `rounds` defaults to the trace's length for a trace, else 1000. `t_partition` (compute
    seconds per partition) and `comm` (seconds added to every reply) are numbers, or delay
    models whose extra draws give each message's value (e.g. `EmpiricalDelay` resampling the
    ones `calibrate` measured). ``exact_loop`` forces the incremental ``can_decode`` loop
    (slow; the reference for the vectorised rules).
    """
    delays = _delay_model(delays)
    rounds = _rounds(rounds, delays)
    for name, value in (("t_partition", t_partition), ("comm", comm)):
        if isinstance(value, Real):
            _check_seconds(name, value)
    _check_seconds("overhead", overhead)
    _check_seconds("gap", gap)
    rule = None if exact_loop else ready_rule(code)
    prof = profile(code)
    out = np.empty(rounds)
    kept = np.empty((rounds, code.messages)) if keep_arrivals else None
    busy = np.zeros(code.n)  # carryover: seconds each worker is still busy at the next broadcast
    step = max(1, BLOCK_ELEMENTS // code.messages)
    for lo in range(0, rounds, step):
        hi = min(rounds, lo + step)
        T, C = _times(delays, first_round + lo, first_round + hi, prof, t_partition, comm)
        if carryover:
            out[lo:hi], busy = _chained(code, T, busy, overhead + gap, exact_loop, C)
        else:
            out[lo:hi] = ready_times(code, T, exact_loop=exact_loop)
        if kept is not None:
            kept[lo:hi] = T
    out += overhead
    method = {KthArrival: "kth", OnePerGroup: "groups", FirstAllThen: "partial"}.get(
        type(rule), "loop"
    )
    return Simulation(code.name, code.n, code.s, code.load, repr(delays), out, kept, method)


@dataclass(frozen=True)
class Profile:
    """How much work each worker does, in units of an average partition: `work` (n,), and for
    multi-message codes `chunks` (n, c), the cumulative work at the end of each of a worker's
    chunks (one per partition, in order; inf padding: where it may stop) and `last` (n*parts,),
    the chunk that ends each message (-1: a slot never sent)."""

    work: NDArray[np.float64]
    chunks: NDArray[np.float64] | None = None
    last: NDArray[np.intp] | None = None

    @property
    def single(self) -> bool:
        return self.chunks is None


def profile(code: GradientCode) -> Profile:
    """The code's work profile (partition sizes from `code.sizes`)."""
    support = code.B_sparse.copy()
    support.data[:] = 1.0
    per_message = support @ code.size_of  # work of each message's own partitions
    work = per_message.reshape(code.n, code.parts).sum(axis=1)
    if code.parts == 1:
        return Profile(work)
    counts = np.diff(code.B_sparse.indptr).reshape(code.n, code.parts)  # chunks per message
    last = np.where(counts > 0, np.cumsum(counts, axis=1) - 1, -1).ravel()
    sizes = [code.size_of[list(code.partitions(i))] for i in range(code.n)]
    chunks = np.full((code.n, max(map(len, sizes))), math.inf)
    for i, size in enumerate(sizes):
        chunks[i, : size.size] = np.cumsum(size)
    return Profile(work, chunks, last)


def reply_times(
    delays: DelayModel,
    lo: int,
    hi: int,
    prof: Profile,
    t_partition: float | DelayModel,
    comm: float | DelayModel,
) -> Times:
    """T (hi-lo, n*parts) for rounds lo..hi-1: work * t_partition * factor + extra + comm for
    single messages; for multi-message codes the end of each message's last chunk plus comm.

    t_partition and comm are seconds, or delay models whose extra draws give each worker's."""
    return _times(delays, lo, hi, prof, t_partition, comm)[0]


def _times(delays, lo, hi, prof: Profile, t_partition, comm) -> tuple[Times, np.ndarray | None]:
    """Message times T and, for multi-message codes, chunk ends C (hi-lo, n, c) after each
    round's start: done * t_partition * factor + extra * done/work, from one set of draws."""
    rounds, n = np.arange(lo, hi), prof.work.size
    extra, factor = sample_many(delays, rounds, n)
    tp = _per_worker(t_partition, rounds, n)
    C = None
    if prof.single:
        out = factor if factor.flags.writeable else None
        T = np.multiply(factor, tp * prof.work, out=out)
        T += extra
        w = slice(None)
    else:
        sent = np.isfinite(prof.chunks)
        done = np.where(sent, prof.chunks, 0.0)
        share = done / np.maximum(prof.work, 1e-300)[:, None]
        C = (factor * np.broadcast_to(tp, factor.shape))[..., None] * done
        C += extra[..., None] * share
        C[:, ~sent] = math.inf
        w = np.arange(prof.last.size) // (prof.last.size // n)
        T = C[:, w, np.maximum(prof.last, 0)]
        T[:, prof.last < 0] = math.inf
    if not isinstance(comm, Real) or comm:
        T += _per_worker(comm, rounds, n)[..., w]
    return T, C


def _per_worker(x: float | DelayModel, rounds: np.ndarray, n: int):
    """x seconds: a (n,) row for a number, a (rounds, n) array of draws for a model."""
    if isinstance(x, Real):
        return np.full(n, float(x))
    return sample_many(x, rounds, n)[0]


def _chained(
    code, T: Times, busy: np.ndarray, between: float, exact_loop: bool, C: np.ndarray | None
):
    """Round ends of chained rounds (carryover), as the runtime runs them.

    busy[i]: when worker i finishes its current job, relative to the round's broadcast (<= 0:
    idle). A busy worker gets the round's parameters when it finishes, if the round has not
    ended by then; else it never works on that round. A multi-message worker (chunk ends C)
    stops at its first chunk end after the round's end. T is rewritten to the rounds' reply
    times (+inf for a round a worker never started).
    """
    ends = np.empty(T.shape[0])
    n, parts = code.n, code.parts
    for r in range(T.shape[0]):
        start = np.maximum(busy, 0.0)
        reply = np.repeat(start, parts) + T[r]
        ends[r] = end = ready_times(code, reply[None], exact_loop=exact_loop)[0]
        started = start <= end
        T[r] = np.where(np.repeat(started, parts), reply, math.inf)
        if math.isinf(end):  # the round never decodes: nothing after it starts
            busy = np.full(busy.shape, math.inf)
            continue
        # free after the chunk in flight at the round's end (it stops there; a chunk ending at
        # the very end is followed by the next: the worker could not know yet), else after its
        # last message
        R = reply.reshape(n, parts)
        ends_of = R if C is None else start[:, None] + C[r]
        after = np.where(end < ends_of, ends_of, math.inf).min(axis=1)
        last = np.where(np.isfinite(R), R, -math.inf).max(axis=1)
        free = np.where(np.isfinite(after), after, last)
        busy = np.where(started, free, busy) - (end + between)
    return ends, busy


def _delay_model(delays: DelayModel | str | None) -> DelayModel:
    if delays is None:
        return NoDelay()
    return parse_delay(delays) if isinstance(delays, str) else delays


def _rounds(rounds: int | None, delays: DelayModel) -> int:
    if rounds is None:
        return delays.rounds if isinstance(delays, TraceDelay) else DEFAULT_ROUNDS
    if isinstance(rounds, bool) or not (isinstance(rounds, (int, np.integer)) and rounds >= 1):
        raise ValueError(f"rounds must be an integer >= 1, got rounds={rounds!r}")
    return int(rounds)


def _check_seconds(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {name}={value!r}")


# ---- closed forms ------------------------------------------------------------------------------
def expected_round_time(
    code: GradientCode,
    delays: DelayModel | str | None = None,
    *,
    t_partition: float = 0.01,
    comm: float = 0.0,
    overhead: float = 0.0,
) -> float | None:
    """E[round time] in closed form (independent rounds), or None where none is known.

    Known: deterministic models (none, fixed) for any code; for i.i.d. worker times and equal
    loads L (compute = L t_partition, plus comm) and X_(k:n) the k-th order statistic of n:
    exponential (E X_(k:n) = mean (H_n - H_{n-k}) for p = 1, a binomial mixture of those
    otherwise), Pareto (E P_(k:n) = n!/(n-k)! Γ(n-k+1-1/α)/Γ(n+1-1/α)) and the stationary
    Markov model (two-point times: slow iff more than n-k workers are slow); for FRC groups the
    max over G groups of the min of m = s+1 replies.
    """
    delays = _delay_model(delays)
    rule = ready_rule(code)
    if rule is None or not (isinstance(comm, Real) and isinstance(t_partition, Real)):
        return None
    prof = profile(code)
    if isinstance(delays, (NoDelay, FixedStragglers)):  # deterministic: one round is exact
        return float(rule.times(reply_times(delays, 0, 1, prof, t_partition, comm))[0]) + overhead
    loads = prof.work
    closed = CLOSED_FORMS.get(type(delays))
    if closed is None or not prof.single or not np.allclose(loads, loads[0]):
        return None
    if isinstance(rule, KthArrival):
        shape = ("kth", rule.k, code.n)
    elif rule.size is None:
        return None
    else:
        shape = ("groups", rule.n_groups, rule.size)
    return closed(delays, shape, loads[0] * t_partition, comm) + overhead


def harmonic(j: int) -> float:
    """H_j = 1 + 1/2 + ... + 1/j (H_0 = 0)."""
    return float(special.digamma(j + 1) + np.euler_gamma)


def pareto_order_mean(k: int, n: int, alpha: float) -> float:
    """E of the k-th smallest of n i.i.d. Pareto(alpha) (P(X > x) = x^-alpha, x >= 1)."""
    if alpha * (n - k + 1) <= 1:
        return math.inf
    a = 1.0 / alpha
    return math.exp(
        special.gammaln(n + 1)
        - special.gammaln(n - k + 1)
        + special.gammaln(n - k + 1 - a)
        - special.gammaln(n + 1 - a)
    )


def _exponential(d: ExponentialDelay, shape: tuple, compute: float, comm: float) -> float:
    kind, a, b = shape
    if kind == "kth":  # J ~ Bin(n, p) delayed workers; the k-th is the (k-n+J)-th of J exps
        k, n = a, b
        js = range(n - k + 1, n + 1)
        tail = sum(stats.binom.pmf(j, n, d.p) * (harmonic(j) - harmonic(n - k)) for j in js)
    else:  # a group's min is Exp(mean/m) when all m are delayed (p^m), else 0
        G, m = a, b
        q = d.p**m
        tail = sum(stats.binom.pmf(j, G, q) * harmonic(j) for j in range(1, G + 1)) / m
    return compute + comm + d.shift + d.mean * tail


def _pareto(d: ParetoDelay, shape: tuple, compute: float, comm: float) -> float:
    kind, a, b = shape
    if kind == "kth":
        mean = pareto_order_mean(a, b, d.alpha)
    else:  # the min of m Pareto(alpha) is Pareto(m alpha); then the max of G of those
        mean = pareto_order_mean(a, a, d.alpha * b)
    return compute + comm + d.scale * (mean - 1.0)


def _markov(d: MarkovDelay, shape: tuple, compute: float, comm: float) -> float:
    kind, a, b = shape
    if kind == "kth":  # slow round iff more than n-k of the n workers are slow
        p_slow = stats.binom.sf(b - a, b, d.fraction)
    else:  # slow round iff some group is entirely slow
        p_slow = 1.0 - (1.0 - d.fraction**b) ** a
    return compute + comm + (compute * (d.factor - 1.0) + d.delay) * float(p_slow)


CLOSED_FORMS: dict[type, Callable[[object, tuple, float, float], float]] = {
    ExponentialDelay: _exponential,
    ParetoDelay: _pareto,
    MarkovDelay: _markov,
}


# ---- calibration from a real run ---------------------------------------------------------------
@dataclass(frozen=True)
class Calibration:
    """Simulator parameters fitted to a real run (seconds)."""

    t_partition: float  # median compute time per partition held
    comm: float  # median reply time not explained by compute and injected delay
    overhead: float  # median time from the last reply to the stepped parameters
    partition_times: tuple[float, ...] = field(default=(), repr=False)  # every reply's
    messages: tuple[float, ...] = field(default=(), repr=False)  # every reply's comm time

    def kwargs(self, per_message: bool = False, seed: int = 0) -> dict:
        """`simulate` keyword arguments: medians, or with ``per_message`` each reply's
        t_partition and comm drawn from the recorded ones (`EmpiricalDelay`, streams 2 and 3).
        On a busy machine their spread (waiting for a core) shapes the round end, and a
        slowdown factor multiplies the compute time's spread too."""
        if not per_message:
            return {"t_partition": self.t_partition, "comm": self.comm, "overhead": self.overhead}
        return {
            "t_partition": EmpiricalDelay(values=self.partition_times, seed=seed, stream=2),
            "comm": EmpiricalDelay(values=self.messages, seed=seed, stream=3),
            "overhead": self.overhead,
        }


def calibrate(
    code: GradientCode, records: Sequence, delays: DelayModel | str | None = None
) -> Calibration:
    """Fit t_partition, comm and overhead to rounds recorded by `train` (``Result.rounds``: each
    with round, arrival_s, compute_s, wall_s) under `delays` (the run's delay model).

    comm is the median over replies of arrival - (compute * factor + extra): dispatch, transfer,
    the master's pickup and, on an oversubscribed machine, waiting for a core.
    """
    if not records:
        raise ValueError("calibrate needs at least one recorded round")
    load = profile(code).work
    arrival = np.array([r.arrival_s for r in records])
    compute = np.array([r.compute_s for r in records])
    extra, factor = sample_many(_delay_model(delays), [r.round for r in records], code.n)
    got = ~np.isnan(arrival)
    end = np.where(got, arrival, -math.inf).max(axis=1)
    wall = np.array([r.wall_s for r in records])
    per_partition = (compute / load)[got]
    messages = np.maximum((arrival - compute * factor - extra)[got], 0.0)
    return Calibration(
        t_partition=float(np.median(per_partition)),
        comm=float(np.median(messages)),
        overhead=float(np.median(wall - end)),
        partition_times=tuple(per_partition.tolist()),
        messages=tuple(messages.tolist()),
    )


# ---- sweeps and advice ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Point:
    """One configuration of a sweep."""

    scheme: str
    s: int  # stragglers the code tolerates (cyclic-mds may round s up)
    load: int
    exact: bool
    mean: float
    median: float
    p95: float
    expected: float | None  # closed form, where one exists


@dataclass(frozen=True)
class Advice:
    """A sweep and its recommendations: least expected round time and least p95."""

    n: int
    delays: str
    points: tuple[Point, ...]
    best_mean: Point
    best_p95: Point


def sweep(
    n: int,
    delays: DelayModel | str | None = None,
    *,
    schemes: Sequence[str] = SCHEMES,
    s_values: Sequence[int] | None = None,
    rounds: int | None = None,
    seed: int = 0,
    **sim: float | bool,
) -> list[Point]:
    """Simulate every available (scheme, s) for n workers under the same delays.

    Unavailable pairs (frc needs (s+1) | n, naive only s = 0) are skipped, as are repeats (a
    cyclic-mds code built for s+1). `sim` goes to `simulate` (t_partition, comm, carryover ...).
    """
    delays = _delay_model(delays)
    s_values = range(min(n, 9)) if s_values is None else s_values
    points: dict[tuple[str, int], Point] = {}
    for scheme in schemes:
        for s in s_values:
            try:
                code = make_code(scheme, n, s, seed=seed)
            except ValueError:
                continue
            key = ("naive", 0) if code.s == 0 else (scheme, code.s)  # s = 0: all are naive
            if key in points:
                continue
            sim_ = simulate(code, delays, rounds, **sim)
            closed = None
            if not sim.get("carryover"):
                keys = ("t_partition", "comm", "overhead")
                closed = expected_round_time(code, delays, **{k: sim[k] for k in keys if k in sim})
            points[key] = Point(
                key[0], code.s, code.load, code.exact, sim_.mean, sim_.median, sim_.p95, closed
            )
    return list(points.values())


def advise(
    n: int,
    delays: DelayModel | str | None = None,
    *,
    exact_only: bool = True,
    **kw,
) -> Advice:
    """Sweep schemes and s (`sweep`'s arguments) and recommend the least mean and least p95
    round time; inexact codes ("ignore") only compete when ``exact_only`` is False."""
    delays = _delay_model(delays)
    points = sweep(n, delays, **kw)
    eligible = [p for p in points if p.exact or not exact_only]
    if not eligible:
        raise ValueError(f"no scheme is available for n={n} with the given schemes and s values")
    return Advice(
        n,
        repr(delays),
        tuple(points),
        min(eligible, key=lambda p: (p.mean, p.p95, p.load)),
        min(eligible, key=lambda p: (p.p95, p.mean, p.load)),
    )


# ---- figures -----------------------------------------------------------------------------------
def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> list[Path]:
    stem = Path(path).with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for p in out:
        fig.savefig(p, bbox_inches="tight")
    return out


def plot_round_times(sims: Sequence[Simulation], path: str | Path) -> list[Path]:
    """Histogram and empirical CDF of round times per scheme; writes PATH.png and PATH.svg."""
    plt = _plt()
    fig, (hist, cdf) = plt.subplots(1, 2, figsize=(10, 3.8))
    finite = [s.round_s[np.isfinite(s.round_s)] * 1e3 for s in sims]
    values = np.concatenate([f for f in finite if f.size] or [np.zeros(1)])
    bins = np.linspace(values.min(), np.quantile(values, 0.995), 60)
    for sim, ms in zip(sims, finite, strict=True):
        label = f"{sim.scheme} s={sim.s}"
        hist.hist(ms, bins=bins, histtype="step", density=True, label=label)
        cdf.plot(np.sort(ms), np.arange(1, ms.size + 1) / sim.round_s.size, label=label)
    hist.set(xlabel="round time (ms)", ylabel="density", title="round-time distribution")
    cdf.set(xlabel="round time (ms)", ylabel="P(round <= t)", title="empirical CDF")
    for ax in (hist, cdf):
        ax.grid(alpha=0.3)
    cdf.legend(fontsize=8)
    fig.suptitle(f"n={sims[0].n}, delays {sims[0].delays}", fontsize=9)
    out = _save(fig, path)
    plt.close(fig)
    return out


def plot_advice(advice: Advice, path: str | Path) -> list[Path]:
    """Expected (solid) and p95 (dotted) round time against s per scheme, the picks starred."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for scheme in dict.fromkeys(p.scheme for p in advice.points):
        pts = sorted((p for p in advice.points if p.scheme == scheme), key=lambda p: p.s)
        s = [p.s for p in pts]
        label = scheme if pts[0].exact else f"{scheme} (inexact)"
        ms = np.array([[p.mean, p.p95] for p in pts]) * 1e3
        ms[~np.isfinite(ms)] = np.nan  # undecodable configurations leave a gap
        (line,) = ax.plot(s, ms[:, 0], "o-", label=label)
        ax.plot(s, ms[:, 1], ":", color=line.get_color())
    for best, label in ((advice.best_mean, "least mean"), (advice.best_p95, "least p95")):
        y = (best.mean if label == "least mean" else best.p95) * 1e3
        ax.plot([best.s], [y], "*", ms=16, mfc="none", color="k")
        ax.annotate(
            f"{label}: {best.scheme} s={best.s}",
            (best.s, y),
            (6, 6),
            "data",
            textcoords="offset points",
            fontsize=8,
        )
    ax.set(
        xlabel="s (stragglers tolerated)",
        ylabel="round time (ms)",
        title=f"n={advice.n}: expected (solid) and p95 (dotted) round time",
    )
    ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    out = _save(fig, path)
    plt.close(fig)
    return out
