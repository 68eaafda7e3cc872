"""A worker rank's compute process: forked per session, it runs the worker loop and never calls MPI.

It shares the task buffer [round, theta, done round] and the reply slots with its rank and talks
to it over two pipes: the rank writes b"g" for a task; the child answers b"d" + slot after each
message (written into that reply slot, header and payload), b"i" when it stopped the round early
(the master's last finished round, task[-1], reached the task's), or b"e" + length + traceback
before it exits on an exception.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import struct
import sys
import time
import warnings

import numpy as np

from ...serve import serve
from ...worker import WorkerJob
from .wire import ERROR_MAX, header, payload


class Child:
    """The rank's handle on its compute process: start it, give it a task, read its answers."""

    def __init__(
        self, job: WorkerJob, task: np.ndarray, reply: np.ndarray, dtype: np.dtype, width: int
    ) -> None:
        to_child, self._to_child = os.pipe()
        self._from_child, from_child = os.pipe()
        sys.stdout.flush()  # or the child would print what the rank had buffered, again
        sys.stderr.flush()
        rank_pid = os.getpid()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork in a threaded process
            self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - runs in the child
            rank_fds = (self._to_child, self._from_child)
            link = _RankLink(task, reply, dtype, to_child, from_child, rank_fds, width)
            _main(job, link, rank_pid)
        os.close(to_child)
        os.close(from_child)

    def go(self) -> None:
        os.write(self._to_child, b"g")

    def poll(self, timeout: float) -> str | int:
        """'' while computing, the slot of a finished message, 'idle', or why it died."""
        ready, _, _ = select.select([self._from_child], [], [], timeout)
        if not ready:
            return ""
        head = os.read(self._from_child, 1)
        if head == b"d":
            return struct.unpack("<I", _read_exactly(self._from_child, 4))[0]
        if head == b"i":
            return "idle"
        if head == b"e":
            size = struct.unpack("<I", _read_exactly(self._from_child, 4))[0]
            text = _read_exactly(self._from_child, size).decode("utf-8", "replace")
            self._reap(1.0)
            return f"raised an exception:\n{text}"
        return _exit_reason(self._reap(1.0))

    def close(self) -> None:
        """Stop the compute process: EOF when idle, SIGKILL when it does not go at once."""
        with contextlib.suppress(OSError):
            os.close(self._to_child)
        with contextlib.suppress(OSError):
            os.close(self._from_child)
        if self._reap(0.05) is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self._reap(5.0)

    def _reap(self, timeout: float) -> int | None:
        """waitpid with a timeout: the raw wait status, or None while it still runs."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return 0
            if pid:
                return status
            if time.monotonic() >= deadline:
                return None
            time.sleep(1e-3)


class _RankLink:
    """The compute process's end (a `WorkerLink`): tasks and notices over the pipes, the
    parameters and the replies in the memory shared with the rank."""

    def __init__(
        self,
        task: np.ndarray,
        reply: np.ndarray,
        dtype: np.dtype,
        rfd: int,
        wfd: int,
        rank_fds: tuple[int, ...],
        width: int,
    ) -> None:
        self.task, self.reply, self.dtype, self.rfd, self.wfd = task, reply, dtype, rfd, wfd
        self.rank_fds = rank_fds
        self.d = width  # the message length (d, or ceil(d/m) for block codes)
        self.theta = task[1:-1]
        self.out = np.zeros((reply.shape[0], self.d), dtype)
        self.slot = 0  # the reply slot of the next message of this task

    def release(self) -> None:
        pmi_fd = os.environ.get("PMI_FD", "")  # the process manager watches the rank, not us
        for fd in (*self.rank_fds, *([int(pmi_fd)] if pmi_fd.isdigit() else [])):
            with contextlib.suppress(OSError):
                os.close(fd)

    def recv(self) -> int | None:
        if os.read(self.rfd, 1) != b"g":
            return None  # EOF: the session is over
        self.slot = 0
        return int(self.task[0])

    def finished(self) -> int:
        return int(self.task[-1])

    def send(self, round: int, part: int, compute_s: float, last: bool) -> None:
        slot = self.reply[self.slot]
        payload(slot, self.d, self.dtype)[:] = self.out[part]
        header(slot)[1:] = round, compute_s, part, last
        os.write(self.wfd, b"d" + struct.pack("<I", self.slot))
        self.slot += 1

    def idle(self, round: int) -> None:
        os.write(self.wfd, b"i")

    def error(self, text: str) -> None:
        data = text.encode("utf-8", "replace")[-ERROR_MAX // 2 :]
        os.write(self.wfd, b"e" + struct.pack("<I", len(data)) + data)


def _main(job: WorkerJob, link: _RankLink, rank_pid: int) -> None:
    """Body of the compute process; always ends in os._exit (never returns into MPI code)."""
    code = 1
    try:
        serve(job, link, rank_pid)
        code = 0
    except BaseException:  # SystemExit(1) after an error went back, or an error in the setup
        pass
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _read_exactly(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left > 0:
        chunk = os.read(fd, left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _exit_reason(status: int | None) -> str:
    if status is None:
        return "compute process stopped answering"
    if os.WIFSIGNALED(status):
        return f"killed by signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"
