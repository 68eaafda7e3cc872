"""Embedded engine: one process per worker, shared memory for parameters and results.

Each worker has its own parameter slot (d float64) and result slots (one per message, d values of
the message dtype) in one anonymous shared mapping that the forked workers inherit (nothing in
/dev/shm, so nothing there can outlive the run); the master writes a worker's parameter slot only
while that worker is idle, so no read is ever torn. Notices (task, reply, idle, error) travel over one
pipe per worker; the master waits on the pipes and the process sentinels together, so a dead
worker is seen at once. One shared integer holds the last round the master finished: a worker
between two chunks of an older round stops there. Workers are forked (POSIX).

Nothing outlives the master: each worker closes the pipe ends it inherited from the master (so it
sees EOF when the master goes) and dies with it (`die_with_parent`: PR_SET_PDEATHSIG on Linux,
a watcher thread elsewhere), whatever signal ends the master, SIGKILL included.
"""

from __future__ import annotations

import contextlib
import mmap
import multiprocessing as mp
import os
import signal
import time
import traceback
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait

import numpy as np

from ..messages import Event, Idle, Reply, WorkerDied
from ..worker import WorkerJob, die_with_parent, limit_blas_threads, never_stop


def _serve(
    job: WorkerJob,
    conn: Connection,
    inherited: Sequence[Connection],
    master: int,
    params: np.ndarray,
    results: np.ndarray,
    done: np.ndarray,
) -> None:
    """Worker loop: `while (task := recv()) is not None: send each message of run(task)`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the master's to handle
    die_with_parent(master)
    for other in inherited:  # the master's pipe ends: only the master may hold them
        other.close()
    limit_blas_threads(job.n)
    i = job.worker
    try:
        multi = len(job.messages) > 1
        while (task := conn.recv()) is not None:
            last = False
            stop = (lambda: done[0] >= task) if multi else never_stop  # noqa: B023 (this task)
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
        self._shm: mmap.mmap | None = None
        self._alive: set[int] = set()

    def start(
        self, jobs: Sequence[WorkerJob], d: int, *, parts: int = 1, dtype: np.dtype = np.float64
    ) -> None:
        ctx = mp.get_context("fork")
        dtype = np.dtype(dtype)
        sizes = [8, self.n * d * 8, self.n * parts * d * dtype.itemsize]  # done, params, results
        self._shm = mmap.mmap(-1, sum(sizes))  # MAP_SHARED | MAP_ANONYMOUS: forked workers share it
        self._done = np.ndarray((1,), np.int64, self._shm)
        self._params = np.ndarray((self.n, d), np.float64, self._shm, sizes[0])
        self._results = np.ndarray((self.n, parts, d), dtype, self._shm, sizes[0] + sizes[1])
        self._done[0] = -1
        views = (self._params, self._results, self._done)
        for job in jobs:
            master_end, worker_end = ctx.Pipe()
            proc = ctx.Process(
                target=_serve,
                args=(job, worker_end, [*self._conns, master_end], os.getpid(), *views),
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
        self._done[0] = round

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
        """Ask every worker to stop; SIGKILL those still running 1 s later (busy or hung)."""
        for i, conn in enumerate(self._conns):
            if self._procs[i].is_alive():
                with contextlib.suppress(BrokenPipeError, OSError):
                    conn.send(None)
        deadline = time.monotonic() + 1.0
        for proc in self._procs:
            proc.join(max(0.0, deadline - time.monotonic()))
        for proc in self._procs:
            if proc.is_alive():
                proc.kill()
        for proc in self._procs:
            proc.join(1.0)
        for conn in self._conns:
            conn.close()
        self._params = self._results = self._done = None  # drop the views before the unmap
        if self._shm is not None:
            with contextlib.suppress(BufferError):  # a view still held elsewhere: freed with it
                self._shm.close()
        self._procs, self._conns, self._shm, self._alive = [], [], None, set()


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        return f"killed by signal {signal.Signals(-code).name}"
    return f"exited with status {code}"
