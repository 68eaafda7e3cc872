"""The master of asynchronous SGD with a staleness bound: stale synchronous parallel (Ho et al.,
NIPS 2013) in the master/worker form, for a code with `staleness` = T (``async:staleness=T``).

Worker i holds partition i (B = I) and computes its message, the gradient and loss of its rows,
at the θ it was last sent. The master applies each message as it arrives,

    θ <- θ - lr_c (g_i / m + ∇penalty(θ_i) / n),

g_i / m being the partition's share of the full gradient and ∇penalty(θ_i) / n an n-th of the
penalty's, both at θ_i, the θ the message was computed at (so worker i's message is the
gradient of its component F_i = L_i/m + penalty/n of F = Σ_i F_i, all at one stale θ), with
lr_c the rate at the message's clock c. Then it hands worker i the current θ at once, unless
worker i's clock (its messages applied) would exceed the slowest live worker's by more than T:
then worker i waits until the slowest catches up. A message computed at clock c therefore
saw every update of clocks < c - T (its staleness c - (the slowest's clock when it was sent)
is at most T), and with T = 0 every clock's n gradients are computed at one θ: the trajectory
sampled every n applied messages is naive gradient descent's (summed in another order).

One recorded round (`RoundRecord`, rounds.csv) is one clock step of the slowest live worker:
the window from the moment the slowest clock reached c to the moment it reached c + 1, with its
wall time, each worker's arrival (its last message applied in the window, seconds after the
window's start) and compute time (summed over its messages in the window), the workers whose
messages were applied (`survivors`) and how many (`messages`), and the parameters at the
window's end. `metrics` hold the applied messages' staleness in clocks (`staleness_max`,
`staleness_mean`: at most T) and in updates (`delay_max`, `delay_mean`: messages applied
between the send of a message's θ and its own application). `loss` is Σ_i F_i at the θ_i of
the clock-c messages (F at θ_c for T = 0; NaN once a worker is dead: its share never comes).
No worker computes past clock `rounds` - 1, so a run applies n·rounds messages when none die.

Tasks are sent with a monotone id, the θ version (the number of messages applied so far in
this start of the run): every worker sent one version reads one copy of θ (the engines'
shared slots and task buffers are per id), and a stale reply is one whose id is not its
worker's current task. The worker's delays and faults are drawn at its own clock, which the
worker counts itself (`WorkerJob.clock`): each task it serves is its next clock.

A dead worker leaves the clock: the others go on without it (`result.dead` says why); only
when every worker is dead does the run fail. A worker busy past `round_timeout` since its task
was sent is killed as hung. A message that is not finite is never applied (the worker is
recorded in `corrupt`, its turn counts, and after `quarantine` such messages it is killed).
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..optim import GD, OptState, learning_rate
from .loop import TrainingError, _l2, _own, _summary
from .messages import Idle, Reply, WorkerDied
from .result import RoundRecord
from .signals import deferred
from .trust import finite

ASYNC_METRICS = ("staleness_max", "staleness_mean", "delay_max", "delay_mean")


def check_async(code, opt, config) -> None:
    """Refuse what asynchronous SGD is not: any optimizer but plain GD, and a deadline."""
    if code.staleness is None:
        return
    if type(opt) is not GD:
        raise ValueError(
            f"scheme {code.name!r} (asynchronous SGD) steps with plain gradient descent: "
            f"optimizer must be 'gd', got {opt!r} (momentum, Nesterov or Adam applied per "
            "arrival would not be the asynchronous SGD the codes are compared against)"
        )
    if config.deadline is not None:
        raise ValueError(
            f"scheme {code.name!r} (asynchronous SGD) applies every message as it arrives and "
            f"never waits for a round: deadline must be None, got deadline={config.deadline!r}"
        )


class AsyncLoop:
    """The master of an asynchronous code: apply each message as it arrives, release workers
    within the staleness bound, record one round per clock step of the slowest live worker."""

    def __init__(self, run, eng) -> None:
        self.run_, self.code, self.eng, self.model = run, run.code, eng, run.model
        self.T = int(run.code.staleness)
        self.round_timeout = run.config.round_timeout
        self.result = run.result
        n = self.code.n
        self.live = np.ones(n, dtype=bool)
        self.busy = np.zeros(n, dtype=bool)
        self.offences: dict[int, int] = {}  # worker -> messages of it found not finite
        for i in sorted(self.result.dead):  # dead before a resume: dead still
            if i < n:
                eng.kill(i)
                self.live[i] = False

    # -- the run ------------------------------------------------------------------------------

    def run(self, rounds: int, eval_every: int, on_round) -> None:
        run, code, eng, result = self.run_, self.code, self.eng, self.result
        n, start = code.n, run.start
        theta = _own(run.theta)
        self.theta, self.d, self.m = theta, theta.size, run.m
        self.rounds, self.eval_every, self.on_round = rounds, eval_every, on_round
        self.lr, self.l2 = run.opt.lr, _l2(self.model)
        self.scratch = np.empty(self.d)
        self.clock = np.full(n, start, dtype=np.int64)  # messages applied, per worker
        self.floor = start  # the slowest live worker's clock
        self.version = 0  # messages applied in this start: the id of the θ sent next
        self.sent = np.full(n, -1, dtype=np.int64)  # the version each busy worker computes at
        self.lag = np.zeros(n, dtype=np.int64)  # the slowest clock when its task was sent
        self.sent_at = np.zeros(n)
        self.held: dict[int, list] = {}  # version -> [workers at it, penalty grad / n, value / n]
        self.losses: dict[int, list[float]] = {}  # clock -> [Σ F_i(θ_i), messages]
        self.waiting: set[int] = set()
        self.cpu = time.process_time()
        self._window(time.perf_counter())
        if not self.live.any():
            self._fail("every worker is dead")
        for w in np.flatnonzero(self.live).tolist():
            self._release(w)
        while self.floor < rounds:
            now = time.perf_counter()
            hung = [int(i) for i in np.flatnonzero(self.busy & self.live)
                    if now - self.sent_at[i] >= self.round_timeout]  # fmt: skip
            for i in hung:
                eng.kill(i)
                self._dead(i, f"no reply within the round timeout of {self.round_timeout} s (hung)")
            if hung:
                continue
            busy = np.flatnonzero(self.busy & self.live)
            if not busy.size:  # nobody computing and the bound holds everyone: cannot happen
                self._fail("no worker is computing")
            timeout = float(self.sent_at[busy].min()) + self.round_timeout - now
            for ev in eng.wait(max(timeout, 0.0)):
                i = ev.worker
                if isinstance(ev, WorkerDied):
                    self._dead(i, ev.reason)
                elif isinstance(ev, Reply) and self.busy[i] and ev.round == self.sent[i]:
                    self._arrived(ev)
                else:  # not the worker's current task (cannot happen: one task at a time)
                    self.stale += isinstance(ev, Reply)
                    if isinstance(ev, Idle) and self.busy[i] and ev.round == self.sent[i]:
                        self._drop(i)
                        self._release(i)
        for ev in eng.wait(0):  # deaths already reported but never waited for
            if isinstance(ev, WorkerDied):
                result.dead[ev.worker] = ev.reason

    # -- one message ---------------------------------------------------------------------------

    def _arrived(self, ev: Reply) -> None:
        """Apply worker i's message (unless not finite), advance its clock, release workers."""
        i, theta, d = ev.worker, self.theta, self.d
        v, c = int(self.sent[i]), int(self.clock[i])
        now = time.perf_counter()
        vec = ev.vector
        if finite(vec):
            _, pen, value = self.held[v]
            rate = learning_rate(self.lr, c)
            np.multiply(vec[:d], rate / self.m, out=self.scratch, dtype=np.float64)
            theta -= self.scratch
            if pen is not None:
                np.multiply(pen, rate, out=self.scratch)
                theta -= self.scratch
            self.applied.append(i)
            self.staleness.append(c - int(self.lag[i]))
            self.delays.append(self.version - v)
            self.version += 1
            if self.eval_every and c % self.eval_every == 0:
                acc = self.losses.setdefault(c, [0.0, 0])
                acc[0] += float(vec[d]) / self.m + value
                acc[1] += 1
        else:
            self.corrupt.append(i)
            self.offences[i] = self.offences.get(i, 0) + 1
        self.arrival[i] = now - self.w0
        self.compute[i] = np.nansum([self.compute[i], ev.compute_s])
        self._drop(i)
        self.clock[i] += 1
        limit = self.run_.config.quarantine
        if limit and self.offences.get(i, 0) >= limit:
            self.eng.kill(i)
            self._dead(
                i,
                f"quarantined: {self.offences[i]} messages not finite (quarantine after {limit})",
            )
            return
        self._advance(i)

    def _advance(self, i: int | None) -> None:
        """Worker i's clock (or the live set) changed: send every worker the bound now lets go
        (i first, then the waiting ones), then record the clock steps the slowest took (the
        workers compute while the master journals)."""
        live = np.flatnonzero(self.live)
        floor = min(int(self.clock[live].min()) if live.size else self.rounds, self.rounds)
        before, now = self.floor, time.perf_counter()
        self.floor = max(floor, before)
        for j in ([] if i is None else [i]) + sorted(self.waiting):
            self.waiting.discard(j)
            if self.live[j] and not self.busy[j]:
                self._release(j)
        for c in range(before, self.floor):  # more than one only when the slowest died
            self._record(c, now)

    def _release(self, i: int) -> None:
        """Send worker i the current θ, unless it is done or the bound holds it back."""
        if self.clock[i] >= self.rounds:
            return  # no worker computes past the last clock
        if self.clock[i] - self.floor > self.T:
            self.waiting.add(i)
            return
        v = self.version
        if v not in self.held:
            pen, value = self._penalty()
            self.held[v] = [0, pen, value]
        self.held[v][0] += 1
        self.eng.send(i, v, self.theta)
        self.busy[i], self.sent[i], self.lag[i] = True, v, self.floor
        self.sent_at[i] = time.perf_counter()

    def _penalty(self) -> tuple[np.ndarray | None, float]:
        """(∇penalty(θ)/n or None where it is zero, penalty(θ)/n where the loss is recorded) at
        the current θ: what each message computed at it adds."""
        n, theta = self.code.n, self.theta
        if self.l2 is not None:
            pen = None if self.l2 == 0 else (self.l2 / n) * theta
        else:
            pen = np.asarray(self.model.penalty_grad(theta), dtype=np.float64) / n
        value = float(self.model.penalty(theta)) / n if self.eval_every else 0.0
        return pen, value

    def _drop(self, i: int) -> None:
        """Worker i no longer computes at its version: free the version's θ terms when unused."""
        v = int(self.sent[i])
        self.busy[i] = False
        held = self.held.get(v)
        if held is not None:
            held[0] -= 1
            if held[0] <= 0:
                del self.held[v]

    def _dead(self, i: int, reason: str) -> None:
        if not self.live[i]:
            return
        if self.busy[i]:
            self._drop(i)
        self.live[i] = False
        self.waiting.discard(i)
        self.result.dead[i] = reason
        if not self.live.any():
            self._fail("every worker is dead")
        self._advance(None)

    # -- records -------------------------------------------------------------------------------

    def _window(self, now: float) -> None:
        """Start a new window (clock step) at `now`."""
        n = self.code.n
        self.w0 = now
        self.arrival, self.compute = np.full(n, math.nan), np.full(n, math.nan)
        self.applied: list[int] = []
        self.staleness: list[int] = []
        self.delays: list[int] = []
        self.corrupt: list[int] = []
        self.stale = 0

    def _record(self, c: int, now: float) -> None:
        """Clock step c of the slowest ended at `now`: its record, journal and checkpoint."""
        run, result, theta = self.run_, self.result, self.theta
        acc = self.losses.pop(c, None)
        whole = acc is not None and acc[1] == self.code.n  # a dead worker's share never comes
        loss = acc[0] if acc is not None and whole else math.nan
        cpu = time.process_time()
        record = RoundRecord(
            c,
            now - self.w0,
            self.arrival,
            self.compute,
            tuple(sorted(set(self.applied))),
            math.nan,  # no decode: no residual, no decoding error
            loss,
            math.nan,
            len(self.applied),
            self.stale,
            0,
            metrics=_stats(self.staleness, self.delays),
            master_cpu_s=cpu - self.cpu,
            corrupt=tuple(sorted(set(self.corrupt))),
        )
        self.cpu = cpu
        with deferred():  # the round is recorded whole, or not at all
            result.rounds.append(record)
            result.theta = theta
            if result.params is not None:
                result.params.append(theta.copy())
            run.stepped(c, theta, OptState(c + 1))
        if self.on_round is not None:
            self.on_round(record)
        self._window(now)

    def _fail(self, why: str):
        result = self.result
        reasons = "; ".join(f"worker {i}: {_summary(r)}" for i, r in sorted(result.dead.items()))
        raise TrainingError(
            f"clock {self.floor}: {why} ({reasons}); {self.code!r} goes on while one worker "
            f"lives. {len(result.rounds)} completed rounds were kept.",
            result,
        )


def _stats(staleness: list[int], delays: list[int]) -> dict[str, float]:
    """The window's staleness (clocks) and delay (updates) statistics; NaN for no messages."""
    if not staleness:
        return dict.fromkeys(ASYNC_METRICS, math.nan)
    return {
        "staleness_max": float(max(staleness)),
        "staleness_mean": float(np.mean(staleness)),
        "delay_max": float(max(delays)),
        "delay_mean": float(np.mean(delays)),
    }
