"""A worker rank: a thin relay between rank 0 and the rank's compute process, one per session.

The rank receives a task straight into the memory it shares with its compute process (`Child`),
sends each finished message from there, and watches rank 0 for DONE, STOP and KILL meanwhile.
Whatever the compute process does (dies, raises, hangs), the rank stays in the MPI job.
"""

from __future__ import annotations

import contextlib
import math
import mmap
import pickle
import signal
import traceback

import numpy as np
from mpi4py import MPI

from .child import Child
from .wire import EMPTY, ERROR_MAX, MASTER, Tag, header, nap, reply_bytes

IDLE_NAP = 0.01  # longest sleep between two probes for the next session (seconds)
CHILD_POLL = 0.05  # how often a busy worker rank looks for STOP/KILL (seconds)
CHILD_POLL_MULTI = 0.002  # ... and for DONE, which its multi-message worker checks per chunk


def serve_forever(comm: MPI.Comm) -> None:
    """Serve one session per JOB from rank 0 until SHUTDOWN."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # the master's to handle: it
        signal.signal(sig, signal.SIG_IGN)  # saves the run, then releases the worker ranks
    status = MPI.Status()
    while True:
        _idle_probe(comm, status)
        tag = status.Get_tag()
        if tag == Tag.JOB:
            _Session(comm, *comm.recv(source=MASTER, tag=Tag.JOB)).serve()
            continue
        # SHUTDOWN, or a STOP/KILL left over from a session that failed to start
        comm.Recv([np.empty(status.Get_count(MPI.BYTE), np.uint8), MPI.BYTE], MASTER, tag)
        if tag == Tag.SHUTDOWN:
            return


def _idle_wait(req: MPI.Request, status: MPI.Status) -> None:
    """Wait for a receive with Test and growing naps (never MPICH's spinning blocking wait)."""
    pause = 0.0
    while not req.Test(status):
        pause = nap(pause, math.inf)


def _idle_probe(comm: MPI.Comm, status: MPI.Status) -> None:
    """Probe for the master's next message (between sessions), napping like _idle_wait."""
    pause = 0.0
    while not comm.Iprobe(MASTER, MPI.ANY_TAG, status):
        pause = nap(pause, math.inf, IDLE_NAP)


class _Session:
    """One training session on a worker rank: relay tasks to the compute process, replies back."""

    def __init__(
        self, comm: MPI.Comm, session: int, d: int, dtype: str, parts: int, job: bytes, width: int
    ) -> None:
        self.comm, self.session = comm, session
        size = reply_bytes(width, np.dtype(dtype))  # width: the message length (d, or ceil(d/m))
        self.shm = mmap.mmap(-1, 8 * (d + 2) + parts * size)  # shared with the compute process
        self.task = np.ndarray((d + 2,), np.float64, self.shm)  # [round, theta, done round]
        self.reply = np.ndarray((parts, size), np.uint8, self.shm, 8 * (d + 2))  # reply slots
        for slot in self.reply:
            header(slot)[0] = session
        self.task[-1] = -1  # no round finished yet
        self.idle = np.array([session, 0, 0, -1, 1], dtype=np.float64)  # header: stopped early
        self.poll = CHILD_POLL_MULTI if parts > 1 else CHILD_POLL
        self.child: Child | None = None
        self.dead = ""
        try:
            self.child = Child(pickle.loads(job), self.task, self.reply, np.dtype(dtype), width)
        except BaseException:  # an unpicklable job, a failed fork: this worker cannot serve
            self.dead = f"could not start its compute process:\n{traceback.format_exc()}"

    def serve(self) -> None:
        """Answer the master until STOP, then say BYE: no message of this session follows it."""
        comm = self.comm
        comm.Send(np.array([self.session], np.float64), MASTER, Tag.READY)
        if self.dead:
            self._report(self.dead)
        status = MPI.Status()
        try:
            while True:
                _idle_wait(comm.Irecv(self.task[:-1], MASTER, MPI.ANY_TAG), status)  # STOP: empty
                tag = status.Get_tag()  # (a DONE that crossed the last reply lands in task[0])
                if tag == Tag.STOP:
                    break
                if tag == Tag.KILL:
                    self._kill("killed by the master")
                elif tag == Tag.TASK and self.child is not None and self._run() == Tag.STOP:
                    break
        finally:
            self._kill("session over")
            self.task = self.reply = EMPTY  # drop the views before the mapping closes
            with contextlib.suppress(BufferError):
                self.shm.close()
        comm.Send(np.array([self.session], np.float64), MASTER, Tag.BYE)

    def _run(self) -> int:
        """Compute one task; returns REPLY, ERROR, KILL or STOP (what happened)."""
        child = self.child
        assert child is not None
        child.go()
        status = MPI.Status()
        while True:
            outcome = child.poll(self.poll)
            if isinstance(outcome, int):  # a message is ready in that slot
                reply = self.reply[outcome]
                self.comm.Send([reply, MPI.BYTE], MASTER, Tag.REPLY)
                if header(reply)[4]:
                    return Tag.REPLY
                continue
            if outcome == "idle":  # stopped early: the master had asked (DONE)
                self.idle[1] = self.task[0]
                self.comm.Send(self.idle, MASTER, Tag.REPLY)
                return Tag.REPLY
            if outcome:
                self.child = None
                self._report(outcome)
                return Tag.ERROR
            if self.comm.Iprobe(MASTER, MPI.ANY_TAG, status):
                tag = status.Get_tag()
                if tag == Tag.DONE:
                    self.comm.Recv(self.task[-1:], MASTER, Tag.DONE)
                elif tag in (Tag.STOP, Tag.KILL):
                    self.comm.Recv(EMPTY, MASTER, tag)
                    self._kill("killed by the master")
                    return tag

    def _kill(self, why: str) -> None:
        if self.child is not None:
            self.child.close()
            self.child = None
            self.dead = self.dead or why

    def _report(self, reason: str) -> None:
        text = f"{self.session}\n".encode() + reason.encode("utf-8", "replace")
        if len(text) > ERROR_MAX:  # keep the head line and the end of the traceback
            cut = len(text) - ERROR_MAX + 16
            head, _, body = text.partition(b"\n")
            text = head + b"\n[...]" + body[cut:]
        self.comm.Send([np.frombuffer(text, np.uint8), MPI.BYTE], MASTER, Tag.ERROR)
