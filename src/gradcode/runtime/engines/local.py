"""Embedded engine: one process per worker, shared memory for parameters and results.

One anonymous shared mapping, inherited by the forked workers (nothing in /dev/shm, so nothing
there can outlive the run), holds the parameters and every worker's result slots (one per
message, `width` values of the message dtype). Parameters are written once per round, not once
per worker: a round's θ goes into one of SHARED shared slots that no busy worker is reading, and
every worker sent that round reads it there; only when a straggler still reads each shared slot
does a worker get θ copied into its own private slot. So no read is ever torn, and a round
costs one copy of θ. A task names the slot to read. Notices (task, reply, idle, error) travel
over one pipe per worker; the master waits on the pipes and the process sentinels together, so a dead
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
import selectors
import signal
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection

import numpy as np

from ..messages import Event, Idle, Reply, WorkerDied
from ..serve import serve
from ..worker import WorkerJob, message_width

SHARED = 2  # shared parameter slots: the round's, and the last one's for its stragglers


class _PipeLink:
    """A worker's end (a `WorkerLink`): tasks and notices over its pipe, its parameters, its
    message slots and the master's last finished round in the shared mapping."""

    def __init__(
        self,
        conn: Connection,
        inherited: Sequence[Connection],
        slots: np.ndarray,
        out: np.ndarray,
        done: np.ndarray,
    ) -> None:
        self.conn, self.inherited = conn, inherited
        self.slots, self.out, self.done = slots, out, done
        self.theta = slots[0]

    def release(self) -> None:
        for other in self.inherited:  # the master's pipe ends: only the master may hold them
            other.close()

    def recv(self) -> int | None:
        task = self.conn.recv()
        if task is None:
            return None
        round_, slot = task
        self.theta = self.slots[slot]
        return round_

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
        self._watch = selectors.DefaultSelector()  # the live workers' pipes and exit sentinels
        self.copies = 0  # θ copies written: one per round, more only for stragglers' sake

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
        dtype, n, width = np.dtype(dtype), self.n, message_width(d) if width is None else width
        slots = SHARED + n  # shared parameter slots, then one private slot per worker
        sizes = [8, slots * d * 8, n * parts * width * dtype.itemsize]  # done, params, results
        # MAP_SHARED | MAP_ANONYMOUS: the forked workers share it; pages never written (the
        # private slots of workers that never need one) take no memory
        self._shm = mmap.mmap(-1, sum(sizes))
        self._done = np.ndarray((1,), np.int64, self._shm)
        self._params = np.ndarray((slots, d), np.float64, self._shm, sizes[0])
        self._results = np.ndarray((n, parts, width), dtype, self._shm, sizes[0] + sizes[1])
        self._done[0] = -1
        self._reading = np.full(n, -1)  # the slot each busy worker reads (-1: none)
        self._published = (-1, -1)  # (round, shared slot) of the newest θ written
        self._watch.close()  # a fresh selector for these workers (a restart: the last closed)
        self._watch = selectors.DefaultSelector()
        for job in jobs:
            i = job.worker
            master_end, worker_end = ctx.Pipe()
            inherited = [*self._conns, master_end]
            link = _PipeLink(worker_end, inherited, self._params, self._results[i], self._done)
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
            self._watch.register(master_end, selectors.EVENT_READ, (i, True))
            self._watch.register(proc.sentinel, selectors.EVENT_READ, (i, False))
        self._alive = set(range(self.n))

    def send(self, worker: int, round: int, theta: np.ndarray) -> None:
        slot = self._slot_for(round, theta, worker)
        self._reading[worker] = slot
        with contextlib.suppress(BrokenPipeError, OSError):  # dead: its sentinel reports it
            self._conns[worker].send((round, slot))

    def _slot_for(self, round: int, theta: np.ndarray, worker: int) -> int:
        """Where `worker` reads round's θ: the round's shared slot (written on its first send),
        else, while busy workers read every shared slot, the worker's own private slot."""
        if self._published[0] == round:
            return self._published[1]
        busy = set(self._reading[self._reading >= 0].tolist())
        free = [k for k in range(SHARED) if k not in busy]
        slot = free[0] if free else SHARED + worker
        self._params[slot] = theta
        self.copies += 1
        if free:
            self._published = (round, slot)
        return slot

    def round_done(self, round: int) -> None:
        self._done[0] = round

    def wait(self, timeout: float) -> list[Event]:
        """What the live workers said (one notice per ready pipe) or that they died, within
        `timeout` seconds. One selector, registered once: nothing is set up per call."""
        events: list[Event] = []
        for key, _ in self._watch.select(max(timeout, 0.0)):
            i, pipe = key.data
            if i not in self._alive:
                continue
            if pipe:
                events.extend(self._drain(i, everything=False))
            else:
                self._procs[i].join(0.1)
                events.extend(self._drain(i))  # a last reply or traceback may precede the exit
                if i in self._alive:
                    self._lost(i)
                    events.append(WorkerDied(i, _exit_reason(self._procs[i].exitcode)))
        return events

    def _lost(self, i: int) -> None:
        """Worker i is dead (or killed): no more notices from it."""
        self._alive.discard(i)
        self._reading[i] = -1
        for fileobj in (self._conns[i], self._procs[i].sentinel):
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._watch.unregister(fileobj)

    def _drain(self, i: int, everything: bool = True) -> list[Event]:
        """Worker i's notices: the one its ready pipe holds, or (everything) all it left."""
        events: list[Event] = []
        conn = self._conns[i]
        try:
            ready = not everything or conn.poll()
            while ready and i in self._alive:
                events.append(self._notice(i, conn.recv()))
                ready = everything and conn.poll()
        except (EOFError, OSError):
            pass  # the sentinel reports the death
        return events

    def _notice(self, i: int, notice: tuple) -> Event:
        """One notice of worker i as an event (and what it says of the slot it reads)."""
        kind, *body = notice
        if kind == "reply":
            round_, part, compute_s, last = body
            if last:
                self._reading[i] = -1
            return Reply(round_, i, compute_s, self._results[i, part], part, last)
        if kind == "idle":
            self._reading[i] = -1
            return Idle(body[0], i)
        self._lost(i)
        return WorkerDied(i, f"raised an exception:\n{body[0]}")

    def kill(self, worker: int) -> None:
        if self._procs[worker].is_alive():
            self._procs[worker].kill()
        self._procs[worker].join(1.0)
        self._lost(worker)

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
        self._watch.close()
        self._procs, self._conns, self._shm, self._alive = [], [], None, set()


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        return f"killed by signal {signal.Signals(-code).name}"
    return f"exited with status {code}"
