"""Embedded engine: one process per worker, shared memory for parameters and results.

Each worker has its own parameter slot and result slot in two shared (n x d) float64 segments; the
master writes a worker's parameter slot only while that worker is idle, so no read is ever torn.
Notices (task, reply, error) travel over one pipe per worker; the master waits on the pipes and the
process sentinels together, so a dead worker is seen at once. Workers are forked (POSIX).
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

from ..messages import Event, Reply, WorkerDied
from ..worker import WorkerJob, limit_blas_threads


def _serve(job: WorkerJob, conn: Connection, params: np.ndarray, results: np.ndarray) -> None:
    """Worker loop: `while (task := recv()) is not None: send(run(task))`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the master's to handle
    limit_blas_threads(job.n)
    i = job.worker
    try:
        while (task := conn.recv()) is not None:
            compute_s = job.compute(task, params[i], results[i])
            conn.send(("reply", task, compute_s))
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

    def start(self, jobs: Sequence[WorkerJob], d: int) -> None:
        ctx = mp.get_context("fork")
        tag = f"gradcode_{os.getpid()}_{secrets.token_hex(4)}"
        size = max(1, self.n * d * 8)
        self._shm = [SharedMemory(f"{tag}_{part}", create=True, size=size) for part in ("p", "r")]
        self._params, self._results = (
            np.ndarray((self.n, d), dtype=np.float64, buffer=s.buf) for s in self._shm
        )
        for job in jobs:
            master_end, worker_end = ctx.Pipe()
            proc = ctx.Process(
                target=_serve,
                args=(job, worker_end, self._params, self._results),
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
                    round_, compute_s = body
                    events.append(Reply(round_, i, compute_s, self._results[i]))
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
