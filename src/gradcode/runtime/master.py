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
from .messages import WorkerDied
from .result import Result, RoundRecord
from .worker import WorkerJob


class TrainingError(RuntimeError):
    """Training could not go on (too many dead workers for the code); `result` holds what was
    recorded up to the failure."""

    def __init__(self, message: str, result: Result) -> None:
        super().__init__(message)
        self.result = result


def make_jobs(
    code: GradientCode, X, y: np.ndarray, model: Model, delay: DelayModel, faults: Sequence[Fault]
) -> list[WorkerJob]:
    """Split the m rows into k partitions (sizes differ by at most one) and give worker i the
    partitions in the support of row i of B, each row weighted by B[i, j]."""
    parts = split_rows(X.shape[0], code.k)
    jobs = []
    for i in range(code.n):
        rows, w = worker_rows(code.partitions(i), code.B[i], parts)
        mine = tuple(f for f in faults if f.worker == i)
        jobs.append(WorkerJob(i, code.n, X[rows], y[rows], w, model, delay, mine))
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
    eval_every: int = 1,
    record_params: bool = False,
    theta0: np.ndarray | None = None,
    out: str | Path | None = None,
    on_round: Callable[[RoundRecord], None] | None = None,
) -> Result:
    """Coded distributed gradient descent on F(θ) = (1/m) Σ_r l_r(θ) + penalty(θ).

    `code` is a GradientCode or a scheme name (then `n`, `s`, `seed` build it). Every round the
    master sends θ to every idle worker, gathers replies until `code.can_decode`, decodes
    Σ a_i g_i, steps the optimizer and records timings. A dead worker is a permanent straggler;
    when the live workers can no longer decode, `TrainingError` is raised with the partial result
    (also written to `out`, as is every result).
    """
    code, model, opt, X, y = _check(
        code, X, y, n, s, seed, model, optimizer, lr, rounds, round_timeout, faults
    )
    delay = delay or NoDelay()
    m, d = X.shape
    config = {
        "scheme": code.name,
        "n": code.n,
        "s": code.s,
        "k": code.k,
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
    }
    result = Result(config, params=[] if record_params else None)
    eng = make_engine(engine, code.n)
    try:
        theta = np.array(model.init(d) if theta0 is None else theta0, dtype=np.float64)
        eng.start(make_jobs(code, X, y, model, delay, faults), theta.size)
        state = opt.init(theta)
        _run(
            code,
            eng,
            X,
            y,
            model,
            opt,
            theta,
            state,
            rounds,
            round_timeout,
            eval_every,
            result,
            on_round,
        )
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


def _run(
    code, eng, X, y, model, opt, theta, state, rounds, round_timeout, eval_every, result, on_round
):
    n, m = code.n, X.shape[0]
    live = np.ones(n, dtype=bool)
    busy = np.zeros(n, dtype=bool)
    for t in range(rounds):
        t0 = time.perf_counter()
        for i in np.flatnonzero(live & ~busy):
            eng.send(int(i), t, theta)
        busy[live] = True
        arrived = np.zeros(n, dtype=bool)
        arrival = np.full(n, np.nan)
        compute = np.full(n, np.nan)
        vectors: dict[int, np.ndarray] = {}
        deadline = t0 + round_timeout
        while not code.can_decode(arrived):
            if not code.can_decode(live):
                _fail(code, t, result, f"workers {sorted(result.dead)} are dead")
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                hung = np.flatnonzero(live & ~arrived)
                for i in hung:
                    eng.kill(int(i))
                    live[i] = busy[i] = False
                    result.dead[int(i)] = (
                        f"no reply within the round timeout of {round_timeout} s (hung)"
                    )
                continue
            for ev in eng.wait(remaining):
                if isinstance(ev, WorkerDied):
                    live[ev.worker] = busy[ev.worker] = False
                    result.dead[ev.worker] = ev.reason
                    continue
                busy[ev.worker] = False
                if ev.round == t:
                    arrived[ev.worker] = True
                    arrival[ev.worker] = time.perf_counter() - t0
                    compute[ev.worker] = ev.compute_s
                    vectors[ev.worker] = ev.vector
                else:  # stale: drop it, hand the worker the newest parameters
                    eng.send(ev.worker, t, theta)
                    busy[ev.worker] = True
        a = code.decode(arrived)
        survivors = np.flatnonzero(a)
        g = np.zeros_like(theta)
        for i in survivors:
            g += a[i] * vectors[int(i)]
        g = g / m + model.penalty_grad(theta)
        theta_t = theta
        theta, state = opt.step(theta, g, state)
        wall = time.perf_counter() - t0
        loss = math.nan
        if eval_every and t % eval_every == 0:
            loss = model.loss(theta_t, X, y) / m + model.penalty(theta_t)
        record = RoundRecord(
            t, wall, arrival, compute, tuple(survivors.tolist()), code.residual(a), loss
        )
        result.rounds.append(record)
        result.theta = theta
        if result.params is not None:
            result.params.append(theta.copy())
        if on_round is not None:
            on_round(record)
    for ev in eng.wait(0):  # deaths already reported but never waited for
        if isinstance(ev, WorkerDied):
            result.dead[ev.worker] = ev.reason


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
