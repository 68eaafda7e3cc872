"""Embedded engine: one process per worker, shared memory for parameters and results.

Each worker has its own parameter slot (d float64) and result slots (one per message, d values of
the message dtype) in one anonymous shared mapping that the forked workers inherit (nothing in
/dev/shm, so nothing there can outlive the run); the master writes a worker's parameter slot only
while that worker is idle, so no read is ever torn. Notices (task, reply, idle, error) travel over one
pipe per worker; the master waits on the pipes and the process sentinels together, so a dead
worker is seen at once. One shared integer holds the last round the master finished: a worker
between two chunks of an older round stops there. Workers are forked (POSIX).

Nothing outlives the master: each worker closes the pipe ends it inherited from the master (so it
sees EOF when the master goes) and dies with it (`die_with_parent`: PR_SET_PDEATHSIG on Linux, a
watcher thread elsewhere), whatever signal ends the master, SIGKILL included. The worker loop is
`gradcode.runtime.serve`, shared with the MPI engine; `_PipeLink` is this engine's transport.
"""

from __future__ import annotations

import contextlib
import mmap
import multiprocessing as mp
import os
import signal
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection, wait

import numpy as np

from ..messages import Event, Idle, Reply, WorkerDied
from ..serve import serve
from ..worker import WorkerJob


class _PipeLink:
    """A worker's end (a `WorkerLink`): tasks and notices over its pipe, its parameters, its
    message slots and the master's last finished round in the shared mapping."""

    def __init__(
        self,
        conn: Connection,
        inherited: Sequence[Connection],
        theta: np.ndarray,
        out: np.ndarray,
        done: np.ndarray,
    ) -> None:
        self.conn, self.inherited = conn, inherited
        self.theta, self.out, self.done = theta, out, done

    def release(self) -> None:
        for other in self.inherited:  # the master's pipe ends: only the master may hold them
            other.close()

    def recv(self) -> int | None:
        return self.conn.recv()

    def finished(self) -> int:
        return int(self.done[0])

    def send(self, round: int, part: int, compute_s: float, last: bool) -> None:
        self.conn.send(("reply", round, part, compute_s, last))

    def idle(self, round: int) -> None:
        self.conn.send(("idle", round))

    def error(self, text: str) -> None:
        self.conn.send(("error", text))


class LocalEngine:
    """multiprocessing engine (the default): no extra install, one machine."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._procs: list[mp.Process] = []
        self._conns: list[Connection] = []
        self._shm: mmap.mmap | None = None
        self._alive: set[int] = set()

    def start(
        self,
        jobs: Sequence[WorkerJob],
        d: int,
        *,
        parts: int = 1,
        dtype: np.dtype = np.float64,
        width: int | None = None,
    ) -> None:
        ctx = mp.get_context("fork")
        dtype = np.dtype(dtype)
        w = d if width is None else width  # message length
        sizes = [8, self.n * d * 8, self.n * parts * w * dtype.itemsize]  # done, params, results
        self._shm = mmap.mmap(-1, sum(sizes))  # MAP_SHARED | MAP_ANONYMOUS: forked workers share it
        self._done = np.ndarray((1,), np.int64, self._shm)
        self._params = np.ndarray((self.n, d), np.float64, self._shm, sizes[0])
        self._results = np.ndarray((self.n, parts, w), dtype, self._shm, sizes[0] + sizes[1])
        self._done[0] = -1
        for job in jobs:
            i = job.worker
            master_end, worker_end = ctx.Pipe()
            inherited = [*self._conns, master_end]
            link = _PipeLink(worker_end, inherited, self._params[i], self._results[i], self._done)
            proc = ctx.Process(
                target=serve,
                args=(job, link, os.getpid()),
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
