"""The master's rounds, written once: broadcast, gather until the code can decode, decode, step,
record. A dead worker is a permanent straggler; when the live ones cannot decode, TrainingError.

Per round the master's work is O(messages x d) and nothing more: θ goes out once (the engine
writes or sends one buffer for every worker), the decoded gradient, its L2 term and the decoded
training loss come from one fused pass over the arrived messages (combine.py), the optimizer
steps in place. It never passes over the training data: the loss travels in the messages."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..codes import GradientCode
from ..codes.blocks import unfold
from ..models.base import L2Penalty
from ..optim import OptState, update
from .combine import Combiner
from .messages import Idle, Reply, WorkerDied
from .result import Result, RoundRecord
from .signals import deferred
from .trust import Trust, Verdict, finite, nonfinite
from .worker import message_width


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
    m: int  # training rows
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
        self.finished = 0.0  # budget codes: rows the last decoded round's messages finished
        self.offences: dict[int, list[int]] = {}  # worker -> rounds it was caught corrupt
        self.sent_at = np.full(self.code.n, np.nan)  # when each worker's task went out
        self.task_s = np.full(self.code.n, np.nan)  # its last task's send-to-last-reply time
        for i in sorted(self.result.dead):  # dead before a resume: dead still
            if i < self.code.n:
                eng.kill(i)
                self.live[i] = False

    def run(self, rounds, eval_every, on_round) -> None:
        run, model, result = self.run_, self.model, self.result
        theta, state = _own(run.theta), _own_state(run.state)
        d = theta.size
        self.combine = Combiner(message_width(d))
        self.trust = Trust(self.code, message_width(d), run.config.seed, run.config.message_dtype)
        clock = time.process_time()
        for t in range(run.start, rounds):
            t0 = time.perf_counter()
            r = self.gather(t, t0, theta)
            self.eng.round_done(t)
            record_loss = eval_every and t % eval_every == 0 and r.decoded is not None
            loss = math.nan
            if r.decoded is not None:  # a flagged round is recorded, never stepped on
                g, loss_mean = r.decoded[:d], r.decoded[d]  # (1/m) Σ a_i l_i
                if self.l2 is None:
                    g += model.penalty_grad(theta)
                penalty = model.penalty(theta) if record_loss else 0.0
                theta, state = update(self.opt, theta, g, state)
                loss = loss_mean + penalty if record_loss else math.nan
            wall = time.perf_counter() - t0
            residual, error = self.code.misfit(r.a) if r.a is not None else (math.nan, math.nan)
            if self.code.budget is not None and r.decoded is not None:
                error = 1.0 - self.finished / run.m  # fixed-time rounds: the rows left undone
            now = time.process_time()
            cpu, clock = now - clock, now
            record = RoundRecord(
                t,
                wall,
                r.arrival,
                r.compute,
                tuple(r.used.tolist()),
                residual,
                loss,
                error,
                r.messages,
                self.stale,
                self.stopped,
                master_cpu_s=cpu,
                corrupt=r.corrupt,
                flagged=r.decoded is None,
            )
            with deferred():  # the round is recorded whole, or not at all
                result.rounds.append(record)
                result.theta = theta
                if result.params is not None:
                    result.params.append(theta.copy())
                run.stepped(t, theta, state)
            if on_round is not None:
                on_round(record)
            self.punish(t, r.corrupt)
            if self.code.adapt is not None:  # adaptive codes: the speeds seen this round
                self.code.adapt.observe(self.code, self.task_s)
                self.task_s[:] = np.nan
        for ev in self.eng.wait(0):  # deaths already reported, replies of rounds passed
            if isinstance(ev, WorkerDied):
                result.dead[ev.worker] = ev.reason
                self.live[ev.worker] = self.busy[ev.worker] = False
            elif isinstance(ev, Idle) or ev.last:  # idle again: a later run() may send to it
                self._idle(ev.worker)

    def decode(
        self, a: np.ndarray, vectors: dict, theta: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(decoded, used): (1/m) Σ a_i v_i + l2·θ in the gradient's values, the decoded
        training loss last, in one pass over the messages; robust aggregates for baselines.
        Fixed-time rounds (budget codes) weigh by row: Σ v_i / Σ c_i over the used messages, c_i
        the rows message i finished (its last value, kept in `finished`)."""
        code, m, l2, d = self.code, self.run_.m, self.l2, theta.size
        if code.aggregate is not None:  # robust aggregation of the n plain messages
            used = np.flatnonzero(a)
            decoded = code.aggregate(np.stack([vectors[int(i)] for i in used])) / m
        elif code.blocks > 1:  # block codes: m block sums of short messages
            decoded, used = unfold(a, vectors, message_width(d))
            decoded /= m
        else:
            used = np.flatnonzero(a)
            vs = [vectors[int(i)] for i in used]
            if code.budget is not None:
                self.finished = float(sum(v[-1] for v in vs))
                coefs, vs = [1.0 / np.float64(self.finished)] * len(vs), [v[:-1] for v in vs]
            else:
                coefs = [a[i] / m for i in used]
            decoded = self.combine(coefs + ([l2] if l2 else []), vs + ([theta] if l2 else []))
            return decoded, used
        if l2:
            decoded[:d] += l2 * theta
        return decoded, used

    def _idle(self, i: int) -> None:
        """Worker i finished its task (of any round, stale ones too): idle, and timed."""
        self.busy[i] = False
        self.task_s[i] = time.perf_counter() - self.sent_at[i]

    @property
    def l2(self) -> float | None:
        return _l2(self.model)

    def punish(self, t: int, corrupt: tuple[int, ...]) -> None:
        """Count each worker's corrupt rounds; quarantine (kill, as dead) at the configured count."""
        limit = self.run_.config.quarantine
        for i in corrupt:
            self.offences.setdefault(i, []).append(t)
            if limit and len(self.offences[i]) >= limit and self.live[i]:
                self.eng.kill(i)
                self.live[i] = self.busy[i] = False
                self.result.dead[i] = (
                    f"quarantined: corrupt messages in rounds {self.offences[i]} "
                    f"(quarantine after {limit})"
                )

    def gather(self, t: int, t0: float, theta: np.ndarray) -> Gathered:
        """Messages of round t until the trusted ones decode (or the deadline passes), decoded.
        Counts the stale messages and early stops of older rounds seen meanwhile (`self.stale`,
        `self.stopped`)."""
        code, eng, live, busy, result = self.code, self.eng, self.live, self.busy, self.result
        self.stale = self.stopped = 0
        for i in np.flatnonzero(live & ~busy):
            eng.send(int(i), t, theta)
            self.sent_at[i] = t0
        busy[live] = True
        arrived = np.zeros(code.messages, dtype=bool)
        bad = np.zeros(code.messages, dtype=bool)  # this round's messages found corrupt
        arrival = np.full(code.n, np.nan)
        compute = np.full(code.n, np.nan)
        vectors: dict[int, np.ndarray] = {}
        timeout = t0 + self.round_timeout
        soft = math.inf if self.deadline is None else t0 + self.deadline
        deaths = True  # (re)check that the live workers can still decode: now, and after deaths
        trusting = self.trust.fallback  # decodes what is left once corrupt messages are dropped

        def done(verdict: Verdict) -> Gathered | None:
            """The round decoded from the verdict; None: a used message is not finite (dropped
            as corrupt: decode again without it)."""
            bad[list(verdict.dropped)] = True
            if verdict.a is None:
                return Gathered(
                    None,
                    None,
                    np.zeros(0, dtype=np.intp),  # nothing used
                    arrival,
                    compute,
                    len(vectors),
                    _workers(bad, code.parts),
                )
            decoded, used = self.decode(verdict.a, vectors, theta)
            if not finite(decoded):
                culprits = nonfinite(used, vectors)
                if culprits:
                    bad[culprits] = True
                    return None
            return Gathered(
                verdict.a, decoded, used, arrival, compute, len(vectors), _workers(bad, code.parts)
            )

        while True:
            ok = arrived & ~bad
            more = bool((live & busy).any())  # messages of this round may still come
            # enough to locate a corruptions; once workers are lost, all the live ones' messages
            if code.can_decode(ok) or (not more and ok.any() and trusting.can_decode(ok)):
                verdict = self.trust.decide(t, ok, vectors, final=not more)
                if verdict is not None:
                    if (out := done(verdict)) is not None:
                        return out
                    continue  # a used message was not finite: decide again without it
            if bad.any() and not more:  # corrupt messages, and nothing left to replace them
                return done(Verdict(None))
            now = time.perf_counter()
            if now >= soft and ok.any():
                if (out := done(Verdict(code.decode(ok, best_effort=True)))) is not None:
                    return out
                continue
            if deaths and not trusting.can_decode(arrived | np.repeat(live, code.parts)):
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
                    self._idle(i)
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
                    self.sent_at[i] = time.perf_counter()
                    busy[i] = True


@dataclass(frozen=True)
class Gathered:
    """One gathered round: the decoding vector and the decoded [gradient, loss] (None: flagged),
    the messages used, arrival and compute times per worker, messages arrived, corrupt workers."""

    a: np.ndarray | None
    decoded: np.ndarray | None
    used: np.ndarray
    arrival: np.ndarray
    compute: np.ndarray
    messages: int
    corrupt: tuple[int, ...]


def _workers(bad: np.ndarray, parts: int) -> tuple[int, ...]:
    """The workers that sent the messages in `bad`."""
    return tuple(sorted({int(i) // parts for i in np.flatnonzero(bad)}))


def _summary(reason: str) -> str:
    """One line of why a worker died: its exception's last line where it raised one."""
    lines = [ln for ln in reason.splitlines() if ln.strip()]
    if len(lines) > 1 and lines[0].startswith("raised an exception"):
        return f"raised {lines[-1].strip()}"
    return lines[0] if lines else reason


def _l2(model) -> float | None:
    """The model's L2 weight where its penalty gradient is l2·θ (it then joins the fused sum);
    None: the loop adds `penalty_grad(θ)` itself."""
    return float(model.l2) if isinstance(model, L2Penalty) else None


def _own(theta: np.ndarray) -> np.ndarray:
    """θ as a float64 array of the loop's own, which the in-place steps may overwrite."""
    return np.array(theta, dtype=np.float64)


def _own_state(state: Any) -> Any:
    """The optimizer state with buffers of the loop's own (no alias of θ or of a caller's)."""
    if isinstance(state, OptState):
        return OptState(state.step, tuple(np.array(b, dtype=np.float64) for b in state.bufs))
    return state


def _fail(code: GradientCode, t: int, result: Result, why: str):
    reasons = "; ".join(f"worker {i}: {_summary(r)}" for i, r in sorted(result.dead.items()))
    raise TrainingError(
        f"round {t}: cannot decode: {why} ({reasons}); {code!r} needs "
        f"{code.decoder.requirement}. {len(result.rounds)} completed rounds were kept.",
        result,
    )
