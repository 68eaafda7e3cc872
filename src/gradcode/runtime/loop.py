"""The master's rounds, written once: broadcast, gather until the code can decode, decode, step,
record. A dead worker is a permanent straggler; when the live ones cannot decode, TrainingError."""

from __future__ import annotations

import math
import time
from typing import Any, Protocol

import numpy as np

from ..codes import GradientCode
from ..codes.blocks import unfold
from .messages import Idle, Reply, WorkerDied
from .result import Result, RoundRecord
from .signals import deferred


class TrainingError(RuntimeError):
    """Training could not go on (too many dead workers for the code); `result` holds what was
    recorded up to the failure."""

    def __init__(self, message: str, result: Result) -> None:
        super().__init__(message)
        self.result = result


class RunState(Protocol):
    """What the loop needs of a run (master._Run): its parts, where it starts, and a hook that
    records each stepped round (journal, checkpoint)."""

    code: GradientCode
    model: Any
    opt: Any
    X: Any
    y: np.ndarray
    start: int  # the first round to run
    theta: np.ndarray
    state: Any  # the optimizer's state at `start`
    result: Result
    config: Any  # the RunConfig: round_timeout, deadline

    def stepped(self, t: int, theta: np.ndarray, state: Any) -> None: ...


class RoundLoop:
    """The master's rounds: broadcast to idle workers, gather messages, decode, step, record."""

    def __init__(self, run: RunState, eng) -> None:
        self.run_, self.code, self.eng, self.model, self.opt = (
            run,
            run.code,
            eng,
            run.model,
            run.opt,
        )
        self.round_timeout, self.deadline = run.config.round_timeout, run.config.deadline
        self.result = run.result
        self.live = np.ones(self.code.n, dtype=bool)
        self.busy = np.zeros(self.code.n, dtype=bool)
        self.stale = self.stopped = 0
        for i in sorted(self.result.dead):  # dead before a resume: dead still
            if i < self.code.n:
                eng.kill(i)
                self.live[i] = False

    def run(self, rounds, eval_every, on_round) -> None:
        run, model, result = self.run_, self.model, self.result
        X, y, m, theta, state = run.X, run.y, run.X.shape[0], run.theta, run.state
        for t in range(run.start, rounds):
            t0 = time.perf_counter()
            a, vectors, arrival, compute = self.gather(t, t0, theta)
            self.eng.round_done(t)
            if self.code.blocks > 1:  # block codes: m block sums of short messages
                g, used = unfold(a, vectors, theta.size)
            else:
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
            with deferred():  # the round is recorded whole, or not at all
                result.rounds.append(record)
                result.theta = theta
                if result.params is not None:
                    result.params.append(theta.copy())
                run.stepped(t, theta, state)
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
