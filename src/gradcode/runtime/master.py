"""The master loop, written once: broadcast, gather until the code can decode, decode, step, record."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..codes import GradientCode, make_code
from ..data import split_rows, worker_rows
from ..delays import DelayModel, NoDelay
from ..models import Model, make_model
from ..optim import Optimizer, make_optimizer
from .engines import make_engine
from .faults import Fault
from .messages import Idle, Reply, WorkerDied
from .result import Result, RoundRecord
from .worker import Segment, WorkerJob


class TrainingError(RuntimeError):
    """Training could not go on (too many dead workers for the code); `result` holds what was
    recorded up to the failure."""

    def __init__(self, message: str, result: Result) -> None:
        super().__init__(message)
        self.result = result


def make_jobs(
    code: GradientCode,
    X,
    y: np.ndarray,
    model: Model,
    delay: DelayModel,
    faults: Sequence[Fault],
    row_time: float = 0.0,
) -> list[WorkerJob]:
    """Split the m rows into k partitions (in the code's relative `sizes`, else sizes differing
    by at most one) and give worker i, per message slot, the rows of that row of B's partitions,
    each row weighted by B[msg, j]: one chunk for single-message codes, a chunk per partition
    for multi-message codes (their workers may stop between chunks)."""
    parts = split_rows(X.shape[0], code.k, code.sizes)

    def segment(msg: int, held: tuple[int, ...]) -> Segment:
        rows, w = worker_rows(held, code.B[msg], parts)
        return Segment(X[rows], y[rows], w)

    jobs = []
    for i in range(code.n):
        messages: list[tuple[Segment, ...] | None] = []
        for msg in range(i * code.parts, (i + 1) * code.parts):
            held = code.message_partitions(msg)
            chunks = [held] if code.parts == 1 else [(j,) for j in held]
            messages.append(tuple(segment(msg, c) for c in chunks) if held else None)
        mine = tuple(f for f in faults if f.worker == i)
        jobs.append(WorkerJob(i, code.n, tuple(messages), model, delay, mine, row_time))
    return jobs


def train(
    code: GradientCode | str,
    X,
    y: np.ndarray,
    *,
    n: int | None = None,
    s: int = 0,
    seed: int = 0,
    model: Model | str = "logistic",
    optimizer: Optimizer | str = "nesterov",
    lr: float = 0.1,
    rounds: int = 100,
    engine: str = "local",
    delay: DelayModel | None = None,
    faults: Sequence[Fault] = (),
    round_timeout: float = 60.0,
    deadline: float | None = None,
    message_dtype: str = "float64",
    row_time: float = 0.0,
    eval_every: int = 1,
    record_params: bool = False,
    theta0: np.ndarray | None = None,
    out: str | Path | None = None,
    on_round: Callable[[RoundRecord], None] | None = None,
) -> Result:
    """Coded distributed gradient descent on F(θ) = (1/m) Σ_r l_r(θ) + penalty(θ).

    `code` is a GradientCode or a scheme name or spec (then `n`, `s`, `seed` build it). Every
    round the master sends θ to every idle worker, gathers messages until `code.can_decode`,
    decodes Σ a_i g_i, steps the optimizer and records timings. With a `deadline` (seconds after
    the broadcast) it stops waiting then and steps with the best approximation the arrived
    messages give (recording its error). Messages travel as `message_dtype` ("float64" or
    "float32"); the master sums in float64. `row_time` adds emulated work: each worker sleeps
    that many seconds per row it processes, times its delay factor (a heavier model, or dedicated
    machines, on a host whose cores the workers share). A dead worker is a permanent straggler; when the
    live workers can no longer decode, `TrainingError` is raised with the partial result (also
    written to `out`, as is every result).
    """
    code, model, opt, X, y = _check(
        code, X, y, n, s, seed, model, optimizer, lr, rounds, round_timeout, faults
    )
    if deadline is not None and not (isinstance(deadline, (int, float)) and deadline > 0):
        raise ValueError(f"deadline must be a number of seconds > 0 or None, got {deadline!r}")
    if not (isinstance(row_time, (int, float)) and 0 <= row_time < math.inf):
        raise ValueError(f"row_time must be a number of seconds >= 0, got {row_time!r}")
    if message_dtype not in MESSAGE_DTYPES:
        raise ValueError(
            f"message_dtype must be one of {', '.join(MESSAGE_DTYPES)}, got {message_dtype!r}"
        )
    delay = delay or NoDelay()
    m, d = X.shape
    config = {
        "scheme": code.name,
        "n": code.n,
        "s": code.s,
        "k": code.k,
        "parts": code.parts,
        "seed": seed,
        "model": repr(model),
        "optimizer": repr(opt),
        "rounds": rounds,
        "engine": engine,
        "delay": repr(delay),
        "faults": [repr(f) for f in faults],
        "m": m,
        "d": d,
        "round_timeout": round_timeout,
        "deadline": deadline,
        "message_dtype": message_dtype,
        "row_time": row_time,
    }
    result = Result(config, params=[] if record_params else None)
    eng = make_engine(engine, code.n)
    try:
        theta = np.array(model.init(d) if theta0 is None else theta0, dtype=np.float64)
        jobs = make_jobs(code, X, y, model, delay, faults, row_time)
        eng.start(jobs, theta.size, parts=code.parts, dtype=np.dtype(message_dtype))
        loop = _Loop(code, eng, model, opt, round_timeout, deadline, result)
        loop.run(X, y, theta, rounds, eval_every, on_round)
        result.status = "ok"
    except TrainingError as e:
        result.status, result.error = "failed", str(e)
        raise
    except KeyboardInterrupt:
        result.status, result.error = "interrupted", "interrupted by the user (Ctrl-C)"
        raise
    finally:
        eng.close()
        if out is not None:
            result.save(out)
    return result


MESSAGE_DTYPES = ("float64", "float32")


class _Loop:
    """The master's rounds: broadcast to idle workers, gather messages, decode, step, record."""

    def __init__(self, code, eng, model, opt, round_timeout, deadline, result) -> None:
        self.code, self.eng, self.model, self.opt = code, eng, model, opt
        self.round_timeout, self.deadline, self.result = round_timeout, deadline, result
        self.live = np.ones(code.n, dtype=bool)
        self.busy = np.zeros(code.n, dtype=bool)
        self.stale = self.stopped = 0

    def run(self, X, y, theta, rounds, eval_every, on_round) -> None:
        model, result, m = self.model, self.result, X.shape[0]
        state = self.opt.init(theta)
        for t in range(rounds):
            t0 = time.perf_counter()
            a, vectors, arrival, compute = self.gather(t, t0, theta)
            self.eng.round_done(t)
            used = np.flatnonzero(a)
            g = np.zeros_like(theta)
            for i in used:
                g += a[i] * vectors[int(i)]
            g = g / m + model.penalty_grad(theta)
            theta_t = theta
            theta, state = self.opt.step(theta, g, state)
            wall = time.perf_counter() - t0
            loss = math.nan
            if eval_every and t % eval_every == 0:
                loss = model.loss(theta_t, X, y) / m + model.penalty(theta_t)
            residual, error = self.code.misfit(a)
            record = RoundRecord(
                t,
                wall,
                arrival,
                compute,
                tuple(used.tolist()),
                residual,
                loss,
                error,
                len(vectors),
                self.stale,
                self.stopped,
            )
            result.rounds.append(record)
            result.theta = theta
            if result.params is not None:
                result.params.append(theta.copy())
            if on_round is not None:
                on_round(record)
        for ev in self.eng.wait(0):  # deaths already reported but never waited for
            if isinstance(ev, WorkerDied):
                result.dead[ev.worker] = ev.reason

    def gather(self, t: int, t0: float, theta: np.ndarray):
        """Messages of round t until the code decodes (or the deadline passes): the decoding
        vector a, the messages by id, per-worker arrival and compute times. Counts the stale
        messages and early stops of older rounds seen meanwhile (`self.stale`, `self.stopped`)."""
        code, eng, live, busy, result = self.code, self.eng, self.live, self.busy, self.result
        self.stale = self.stopped = 0
        for i in np.flatnonzero(live & ~busy):
            eng.send(int(i), t, theta)
        busy[live] = True
        arrived = np.zeros(code.messages, dtype=bool)
        arrival = np.full(code.n, np.nan)
        compute = np.full(code.n, np.nan)
        vectors: dict[int, np.ndarray] = {}
        timeout = t0 + self.round_timeout
        soft = math.inf if self.deadline is None else t0 + self.deadline
        deaths = True  # (re)check that the live workers can still decode: now, and after deaths
        while not code.can_decode(arrived):
            now = time.perf_counter()
            if now >= soft and arrived.any():
                return code.decode(arrived, best_effort=True), vectors, arrival, compute
            if deaths and not code.can_decode(arrived | np.repeat(live, code.parts)):
                _fail(code, t, result, f"workers {sorted(result.dead)} are dead")
            deaths = False
            if now >= timeout:
                for i in np.flatnonzero(live & busy):
                    eng.kill(int(i))
                    live[i] = busy[i] = False
                    result.dead[int(i)] = (
                        f"no reply within the round timeout of {self.round_timeout} s (hung)"
                    )
                deaths = True
                continue
            for ev in eng.wait(min(timeout, soft) - now if now < soft else timeout - now):
                if isinstance(ev, WorkerDied):
                    live[ev.worker] = busy[ev.worker] = False
                    result.dead[ev.worker] = ev.reason
                    deaths = True
                    continue
                i = ev.worker
                if isinstance(ev, Idle) or ev.last:
                    busy[i] = False
                if isinstance(ev, Reply) and ev.round == t:
                    msg = i * code.parts + ev.part
                    arrived[msg] = True
                    vectors[msg] = ev.vector
                    arrival[i] = time.perf_counter() - t0
                    compute[i] = np.nansum([compute[i], ev.compute_s])
                    continue
                self.stale += isinstance(ev, Reply)
                self.stopped += isinstance(ev, Idle)
                if not busy[i]:  # an older round's and idle: hand it the newest parameters
                    eng.send(i, t, theta)
                    busy[i] = True
        return code.decode(arrived), vectors, arrival, compute


def _fail(code: GradientCode, t: int, result: Result, why: str):
    reasons = "; ".join(f"worker {i}: {r.splitlines()[0]}" for i, r in sorted(result.dead.items()))
    raise TrainingError(
        f"round {t}: cannot decode: {why} ({reasons}); {code!r} needs "
        f"{code.decoder.requirement}. {len(result.rounds)} completed rounds were kept.",
        result,
    )


def _check(code, X, y, n, s, seed, model, optimizer, lr, rounds, round_timeout, faults):
    """Every argument checked before any process starts."""
    if isinstance(code, str):
        if n is None:
            raise ValueError(f"scheme {code!r} given by name: pass n (the number of workers)")
        code = make_code(code, n, s, seed=seed)
    elif not isinstance(code, GradientCode):
        raise ValueError(f"code must be a GradientCode or a scheme name, got {code!r}")
    elif n is not None and n != code.n:
        raise ValueError(f"n={n} does not match the code's n={code.n} workers")
    model = make_model(model) if isinstance(model, str) else model
    opt = make_optimizer(optimizer, lr=lr) if isinstance(optimizer, str) else optimizer
    X, y = model.check_data(X, y)
    if X.shape[0] < code.k:
        raise ValueError(
            f"{X.shape[0]} rows cannot fill k={code.k} partitions: need at least k rows"
        )
    if not (isinstance(rounds, int) and rounds >= 1):
        raise ValueError(f"rounds must be an integer >= 1, got rounds={rounds!r}")
    if not round_timeout > 0:
        raise ValueError(f"round_timeout must be > 0 seconds, got {round_timeout!r}")
    for f in faults:
        if not 0 <= f.worker < code.n:
            raise ValueError(
                f"fault worker {f.worker} is out of range: worker ids are 0..{code.n - 1}"
            )
    return code, model, opt, X, y
