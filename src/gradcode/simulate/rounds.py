"""Rounds of a gradient code under a delay model, vectorised over rounds and workers: reply times
from the work profile and the delay draws, round ends from the code's decoder (see the package
docstring for the model)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from numbers import Real
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..codes import GradientCode, decodable_by_loop
from ..delays import DelayModel, NoDelay, TraceDelay, parse_delay, sample_many
from ..links import Link, parse_link
from ..runtime.journal import load_result, save
from ..runtime.result import Result, RoundRecord

Times = NDArray[np.float64]  # (rounds, n) reply times, seconds after each round's broadcast

BLOCK_ELEMENTS = 1 << 20  # rounds are simulated in blocks of about this many (round, worker) cells
DEFAULT_ROUNDS = 1000


# ---- readiness: the decoder's ------------------------------------------------------------------
def ready_rule(code: GradientCode) -> str | None:
    """The name of the decoder's vectorised readiness rule, or None (it only has the loop)."""
    rule = code.decoder.rule
    return None if rule == "loop" else rule


def ready_times(code: GradientCode, T: Times, *, exact_loop: bool = False) -> NDArray[np.float64]:
    """Per row of message times T (rounds, n*parts): the first moment the arrived messages can
    decode (+inf when even all finite ones cannot), from the decoder (``exact_loop``: by the
    incremental loop)."""
    if exact_loop:
        return ready_times_loop(code, T)
    return code.decodable_at(T)


def ready_times_loop(code: GradientCode, T: Times) -> NDArray[np.float64]:
    """The exact, slow reference: add replies in time order until ``code.can_decode``."""
    return decodable_by_loop(code.decoder, np.where(np.isnan(T), math.inf, T))


# ---- simulation --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Simulation:
    """Simulated rounds of one code: round times (seconds) and, when kept, every reply time.

    `to_result` gives the one result shape (and `save` its folder, as a run's); `from_result`
    and `read` read one back."""

    scheme: str
    n: int
    s: int
    load: int
    delays: str
    round_s: NDArray[np.float64]  # (rounds,) decodable moment + overhead; inf: never decodable
    arrivals: Times | None = None  # (rounds, n*parts) message times after broadcasts, when kept
    method: str = "kth"  # how round ends were found: the decoder's rule or loop
    overhead: float = 0.0  # seconds from the decodable moment to the round's end
    parts: int = 1  # messages per worker: message j is worker j // parts's
    first_round: int = 0  # the delay model's round of the first simulated round

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

    def to_result(self) -> Result:
        """The rounds as a `Result`, recorded as the runtime records them: wall_s the round
        time, each worker's arrival its last message by the decodable moment (NaN: none by then),
        survivors the messages arrived by then. Loss and decoding error are not simulated (NaN);
        without kept arrivals every arrival is NaN."""
        n = self.n
        config = {
            "kind": "simulation",
            "scheme": self.scheme,
            "n": n,
            "s": self.s,
            "load": self.load,
            "parts": self.parts,
            "delay": self.delays,
            "method": self.method,
            "overhead": self.overhead,
            "first_round": self.first_round,
            "rounds": int(self.round_s.size),
        }
        records = []
        for t, wall in enumerate(self.round_s.tolist()):
            arrival, used = np.full(n, math.nan), np.zeros(0, dtype=np.intp)
            if self.arrivals is not None:
                times = self.arrivals[t]
                got = np.isfinite(times) & (times <= wall - self.overhead)
                last = np.where(got, times, -math.inf).reshape(n, self.parts).max(axis=1)
                arrival, used = np.where(np.isfinite(last), last, math.nan), np.flatnonzero(got)
            nan = math.nan
            survivors = tuple(used.tolist())
            record = RoundRecord(
                self.first_round + t, wall, arrival, np.full(n, nan), survivors, nan
            )
            records.append(replace(record, loss=nan, error=nan, messages=len(survivors)))
        return Result(config, rounds=records, status="ok")

    @classmethod
    def from_result(cls, result: Result) -> Simulation:
        """A Simulation of a result's rounds (a saved simulation's, or a real run's: its round
        times). Arrivals are kept for single-message codes (NaN: +inf, never arrived)."""
        c, rounds = result.config, result.rounds
        parts = int(c.get("parts", 1))
        arrivals = None
        if parts == 1 and rounds:
            arrivals = np.array([r.arrival_s for r in rounds])
            arrivals[np.isnan(arrivals)] = math.inf
        first = rounds[0].round if rounds else 0
        return cls(
            str(c.get("scheme", "")), int(c.get("n", 0)), int(c.get("s", 0)),
            int(c.get("load", 0)), str(c.get("delay", "")), result.wall_s, arrivals,
            str(c.get("method", "recorded")), float(c.get("overhead", 0.0)), parts, first,
        )  # fmt: skip

    def save(self, out: str | Path) -> Path:
        """Write the simulation's folder (result.json, rounds.csv, workers.csv), as a run's."""
        return save(self.to_result(), out)

    @classmethod
    def read(cls, out: str | Path) -> Simulation:
        """Read a folder `save` (or `train`) wrote."""
        return cls.from_result(load_result(out))


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
    link: Link | str | float | None = None,
    length: int | None = None,
    dtype: str = "float64",
) -> Simulation:
    """Simulate `rounds` rounds (``first_round`` on) of `code` under `delays` (a model, a spec
    string for `parse_delay`, or None for no delay); see the module docstring for the model.

    `rounds` defaults to the trace's length for a trace, else 1000. `t_partition` (compute
    seconds per partition) and `comm` (seconds added to every reply) are numbers, or delay
    models whose extra draws give each message's value (e.g. `EmpiricalDelay` resampling the
    ones `calibrate` measured). ``exact_loop`` forces the incremental ``can_decode`` loop
    (slow; the reference for the decoders' vectorised rules).

    `link` (a `links.Link`, bytes/s, or its spec text) makes message size cost time: each
    message of ``code.message_length(length)`` values of `dtype` takes the link's latency +
    bytes x seconds per byte, the seconds the runtime's workers sleep before each reply (a
    multi-message worker sends its messages one after another: message p waits p+1 sends).
    `length` is the message vector's length (a real run's workers send d + 1 values: the
    gradient, then the loss; `gradcode.runtime.worker.message_width`).

    A budget code (fixed-time rounds) ends every reply at its T at most (the worker stops
    there, its remaining rows undone), then comm.

    An asynchronous code (``async:staleness=T``, `code.staleness` set) is simulated event by
    event (`_asynchronous`): its rounds are clock steps of the slowest worker, always chained
    (`carryover` and `exact_loop` do not apply), `overhead` is the master's seconds per applied
    message and `gap` its seconds recording each clock step.
    """
    delays = as_delay_model(delays)
    link = parse_link(link)
    if link is not None and not (isinstance(length, (int, np.integer)) and length >= 1):
        raise ValueError(
            f"a link needs length, the message vector's length (d) >= 1, got length={length!r}"
        )
    nbytes = 0 if link is None else code.message_length(int(length)) * np.dtype(dtype).itemsize
    rounds = _rounds(rounds, delays)
    for name, value in (("t_partition", t_partition), ("comm", comm)):
        if isinstance(value, Real):
            _check_seconds(name, value)
    _check_seconds("overhead", overhead)
    _check_seconds("gap", gap)
    prof = profile(code)
    cap = math.inf if code.budget is None else code.budget.T  # fixed-time rounds: T at most
    if code.staleness is not None:  # asynchronous: an event simulation of its clocks
        return _asynchronous(
            code, delays, rounds, prof, t_partition, comm, overhead, gap, first_round,
            keep_arrivals, link, nbytes,
        )  # fmt: skip
    out = np.empty(rounds)
    kept = np.empty((rounds, code.messages)) if keep_arrivals else None
    busy = np.zeros(code.n)  # carryover: seconds each worker is still busy at the next broadcast
    step = max(1, BLOCK_ELEMENTS // code.messages)
    for lo in range(0, rounds, step):
        hi = min(rounds, lo + step)
        T, C = _times(delays, first_round + lo, first_round + hi, prof, t_partition, comm, cap)
        if link is not None:
            T += _link_seconds(link, first_round + lo, first_round + hi, prof, nbytes)
        if carryover:
            out[lo:hi], busy = _chained(code, T, busy, overhead + gap, exact_loop, C)
        else:
            out[lo:hi] = ready_times(code, T, exact_loop=exact_loop)
        if kept is not None:
            kept[lo:hi] = T
    out += overhead
    method = "loop" if exact_loop else code.decoder.rule
    return Simulation(
        code.name, code.n, code.s, code.load, repr(delays), out, kept, method, overhead,
        code.parts, first_round,
    )  # fmt: skip


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
    per_message = code.support @ code.size_of  # work of each message's own partitions
    work = per_message.reshape(code.n, code.parts).sum(axis=1)
    if code.parts == 1:
        return Profile(work)
    counts = np.diff(code.support.indptr).reshape(code.n, code.parts)  # chunks per message
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


def _times(
    delays, lo, hi, prof: Profile, t_partition, comm, cap: float = math.inf
) -> tuple[Times, np.ndarray | None]:
    """Message times T and, for multi-message codes, chunk ends C (hi-lo, n, c) after each
    round's start: done * t_partition * factor + extra * done/work, from one set of draws;
    single messages end by `cap` (a budget code's T) before comm is added."""
    rounds, n = np.arange(lo, hi), prof.work.size
    extra, factor = sample_many(delays, rounds, n)
    tp = _per_worker(t_partition, rounds, n)
    C = None
    if prof.single:
        out = factor if factor.flags.writeable else None
        T = np.multiply(factor, tp * prof.work, out=out)
        T += extra
        np.minimum(T, cap, out=T)
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


def _link_seconds(link: Link, lo: int, hi: int, prof: Profile, nbytes: int) -> Times:
    """(hi-lo, n*parts) seconds each message waits for the link: its own send and, for
    multi-message codes, the sends of the worker's earlier messages."""
    n = prof.work.size
    per = link.seconds(np.arange(lo, hi), n, nbytes)
    if prof.single:
        return per
    parts = prof.last.size // n
    order = np.cumsum((prof.last >= 0).reshape(n, parts), axis=1).ravel()  # sends so far
    return per[:, np.arange(n * parts) // parts] * order


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


def _asynchronous(
    code: GradientCode, delays: DelayModel, rounds: int, prof: Profile, t_partition, comm,
    overhead: float, gap: float, first_round: int, keep_arrivals: bool, link: Link | None,
    nbytes: int,
) -> Simulation:  # fmt: skip
    """Clock steps of an asynchronous code (`staleness` = T), event by event, as
    runtime/async_loop.py runs them.

    Worker i's message of its clock c takes T[c, i] seconds from its send (the synchronous
    model's reply time, from the delay draws of round c: a worker's delays are drawn at its own
    clock). The master applies messages one at a time in arrival order, each `overhead` seconds
    (a message arriving while it is busy waits); right after applying one it sends worker i the
    current θ unless i's clock would exceed the slowest's by more than T (then i waits for the
    slowest to catch up); no worker computes past the last clock. A round is one clock step of
    the slowest worker: from the moment the slowest clock reached c to the moment it reached
    c + 1, after which the master spends `gap` seconds recording it (the runtime journals after
    sending). Arrivals: each worker's last message applied in the window, seconds after the
    window's start (inf: none)."""
    import heapq

    n, T = code.n, int(code.staleness or 0)
    last = first_round + rounds  # no worker computes a clock >= last
    times, _ = _times(delays, first_round, last, prof, t_partition, comm)
    if link is not None:
        times += _link_seconds(link, first_round, last, prof, nbytes)
    clock = np.full(n, first_round)
    floor, free, start = first_round, 0.0, 0.0  # the master is free from `free` on
    out = np.empty(rounds)
    kept = np.full((rounds, n), math.inf) if keep_arrivals else None
    waiting: set[int] = set()
    events = [(float(times[0, i]), i) for i in range(n)]  # (arrival, worker)
    heapq.heapify(events)
    while floor < last:
        at, i = heapq.heappop(events)
        done = max(at, free) + overhead  # applied
        free = done
        if kept is not None:
            kept[floor - first_round, i] = done - start
        clock[i] += 1
        new = int(clock.min())
        for j in [i, *sorted(waiting)]:
            if clock[j] < last and clock[j] - new <= T:
                waiting.discard(j)
                heapq.heappush(events, (done + float(times[clock[j] - first_round, j]), j))
            elif clock[j] < last:
                waiting.add(j)
        if new > floor:  # one clock step of the slowest (one at a time: nobody dies here)
            out[floor - first_round] = done - start
            start, free = done, done + gap
            floor = new
    return Simulation(
        code.name, n, code.s, code.load, repr(delays), out, kept, "async", overhead, 1,
        first_round,
    )  # fmt: skip


def as_delay_model(delays: DelayModel | str | None) -> DelayModel:
    """A delay model from a model, a spec string for `parse_delay`, or None (no delay)."""
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
