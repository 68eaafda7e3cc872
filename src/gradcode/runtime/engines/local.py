"""Embedded engine: one process per worker, shared memory for parameters and results.

Each worker has its own parameter slot (d float64) and result slots (one per message, d values of
the message dtype) in two shared segments; the master writes a worker's parameter slot only while
that worker is idle, so no read is ever torn. Notices (task, reply, idle, error) travel over one
pipe per worker; the master waits on the pipes and the process sentinels together, so a dead
worker is seen at once. One shared integer holds the last round the master finished: a worker
between two chunks of an older round stops there. Workers are forked (POSIX).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import secrets
import signal
import traceback
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.shared_memory import SharedMemory

import numpy as np

from ..messages import Event, Idle, Reply, WorkerDied
from ..worker import WorkerJob, limit_blas_threads, never_stop


def _serve(job: WorkerJob, conn: Connection, params, results, done) -> None:
    """Worker loop: `while (task := recv()) is not None: send each message of run(task)`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the master's to handle
    limit_blas_threads(job.n)
    i = job.worker
    try:
        multi = len(job.messages) > 1
        while (task := conn.recv()) is not None:
            last = False
            stop = (lambda: done.value >= task) if multi else never_stop  # noqa: B023 (this task)
            for part, compute_s, last in job.run(task, params[i], results[i], stop):
                conn.send(("reply", task, part, compute_s, last))
            if not last:  # stopped early: the master had finished the round
                conn.send(("idle", task))
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass  # master went away
    except BaseException:
        conn.send(("error", traceback.format_exc()))
        raise SystemExit(1) from None


class LocalEngine:
    """multiprocessing engine (the default): no extra install, one machine."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._procs: list[mp.Process] = []
        self._conns: list[Connection] = []
        self._shm: list[SharedMemory] = []
        self._alive: set[int] = set()

    def start(
        self, jobs: Sequence[WorkerJob], d: int, *, parts: int = 1, dtype: np.dtype = np.float64
    ) -> None:
        ctx = mp.get_context("fork")
        tag = f"gradcode_{os.getpid()}_{secrets.token_hex(4)}"
        shapes = {
            "p": ((self.n, d), np.dtype(np.float64)),
            "r": ((self.n, parts, d), np.dtype(dtype)),
        }
        self._shm = [
            SharedMemory(
                f"{tag}_{key}", create=True, size=max(1, int(np.prod(shape)) * dt.itemsize)
            )
            for key, (shape, dt) in shapes.items()
        ]
        self._params, self._results = (
            np.ndarray(shape, dtype=dt, buffer=shm.buf)
            for (shape, dt), shm in zip(shapes.values(), self._shm, strict=True)
        )
        self._done = ctx.RawValue("q", -1)
        for job in jobs:
            master_end, worker_end = ctx.Pipe()
            proc = ctx.Process(
                target=_serve,
                args=(job, worker_end, self._params, self._results, self._done),
                name=f"gradcode-worker-{job.worker}",
                daemon=True,
            )
            proc.start()
            worker_end.close()
            self._procs.append(proc)
            self._conns.append(master_end)
        self._alive = set(range(self.n))

    def send(self, worker: int, round: int, theta: np.ndarray) -> None:
        self._params[worker] = theta
        with contextlib.suppress(BrokenPipeError, OSError):  # dead: its sentinel reports it
            self._conns[worker].send(round)

    def round_done(self, round: int) -> None:
        self._done.value = round

    def wait(self, timeout: float) -> list[Event]:
        watch = {self._conns[i]: i for i in self._alive}
        watch |= {self._procs[i].sentinel: i for i in self._alive}
        events: list[Event] = []
        for ready in wait(list(watch), timeout):
            i = watch[ready]
            if i not in self._alive:
                continue
            if isinstance(ready, Connection):
                events.extend(self._drain(i))
            else:
                self._procs[i].join(0.1)
                events.extend(self._drain(i))  # a last reply or traceback may precede the exit
                if i in self._alive:
                    self._alive.discard(i)
                    events.append(WorkerDied(i, _exit_reason(self._procs[i].exitcode)))
        return events

    def _drain(self, i: int) -> list[Event]:
        events: list[Event] = []
        conn = self._conns[i]
        try:
            while i in self._alive and conn.poll():
                kind, *body = conn.recv()
                if kind == "reply":
                    round_, part, compute_s, last = body
                    events.append(Reply(round_, i, compute_s, self._results[i, part], part, last))
                elif kind == "idle":
                    events.append(Idle(body[0], i))
                else:
                    self._alive.discard(i)
                    events.append(WorkerDied(i, f"raised an exception:\n{body[0]}"))
        except (EOFError, OSError):
            pass  # the sentinel reports the death
        return events

    def kill(self, worker: int) -> None:
        if self._procs[worker].is_alive():
            self._procs[worker].kill()
        self._procs[worker].join(1.0)
        self._alive.discard(worker)

    def close(self) -> None:
        for i, conn in enumerate(self._conns):
            if self._procs[i].is_alive():
                with contextlib.suppress(BrokenPipeError, OSError):
                    conn.send(None)
        for proc in self._procs:
            proc.join(1.0)
            if proc.is_alive():
                proc.kill()
                proc.join(1.0)
        for conn in self._conns:
            conn.close()
        self._params = self._results = None  # drop the views before the segments close
        for shm in self._shm:
            shm.close()
            shm.unlink()
        self._procs, self._conns, self._shm, self._alive = [], [], [], set()


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        return f"killed by signal {signal.Signals(-code).name}"
    return f"exited with status {code}"
