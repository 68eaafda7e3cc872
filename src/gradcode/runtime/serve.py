"""The worker loop, written once for every engine (the shape of mpi4py.futures' `server_exec`).

`while (round := link.recv()) is not None: run the job -> link.send(each message)`. An engine
supplies only its `WorkerLink`: how a task arrives, how each message, an early stop and an
error go back, and where the master's last finished round is read. Also here: what every
worker process does first (`die_with_parent`, `limit_blas_threads`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import traceback
from typing import Protocol

import numpy as np

from .worker import WorkerJob, never_stop


def limit_blas_threads(n_workers: int) -> None:
    """Give each of n worker processes an equal share of the cores for BLAS (numpy, scipy).

    Left alone, every worker starts a BLAS pool of cpu_count threads and n workers fight over the
    cores (measured: 191 ms against 120 ms a round at n=16, d=1e5 on 2 cores)."""
    from threadpoolctl import threadpool_limits

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threadpool_limits(max(1, (cpus or 1) // max(1, n_workers)))


def yield_to_master() -> None:
    """Schedule this worker process as a batch job (Linux SCHED_BATCH: CPU-bound, it never
    preempts another task when it wakes), so that where the workers share cores with the
    master, a worker handed its task does not take the core from the master while it is still
    sending the round's other tasks or decoding. Elsewhere, or where refused: no change."""
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))


def die_with_parent(parent: int, poll: float = 0.5) -> None:
    """End this (forked) process as soon as its parent `parent` dies, by any signal.

    Linux: the kernel SIGKILLs it (PR_SET_PDEATHSIG); elsewhere, or if prctl fails, a daemon
    thread polls the parent pid every `poll` seconds. A parent already gone ends it at once."""
    armed = False
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            armed = ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL) == 0  # PDEATHSIG
    if os.getppid() != parent:  # died before prctl took effect
        os._exit(1)
    if not armed:

        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(poll)
            os._exit(1)

        threading.Thread(target=watch, name="gradcode-parent-watch", daemon=True).start()


class WorkerLink(Protocol):
    """A worker's end of its engine's transport."""

    theta: np.ndarray  # (d,) the current task's parameters, written by the master side
    out: np.ndarray  # (parts, d) message slots the job computes into

    def release(self) -> None:
        """Close what this (forked) process inherited and only its parent may hold."""

    def recv(self) -> int | None:
        """Block for the next task: its round (theta is in place), or None to stop serving."""

    def finished(self) -> int:
        """The last round the master has finished (-1 before the first)."""

    def send(self, round: int, part: int, compute_s: float, last: bool) -> None:
        """Message `part` of `round` is in out[part]: tell the master."""

    def idle(self, round: int) -> None:
        """The worker stopped `round` early (the master had finished it) and is idle."""

    def error(self, text: str) -> None:
        """The job raised; `text` is the traceback."""


def serve(job: WorkerJob, link: WorkerLink, parent: int) -> None:
    """Serve tasks until `link.recv()` says stop or the master goes away (a forked process).

    Multi-message codes stop between chunks once the master has finished the round; a
    single message is never cut short. An exception goes back with its traceback, then
    SystemExit(1). SIGINT is ignored: Ctrl-C is the master's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        die_with_parent(parent)
        link.release()
        limit_blas_threads(job.n)
        yield_to_master()
        job = job.loaded()  # rows given by reference: read this worker's own, here
        multi = len(job.messages) > 1
        served = 0
        while (round_ := link.recv()) is not None:
            last = False
            stop = (lambda: link.finished() >= round_) if multi else never_stop  # noqa: B023 (this task)
            at = job.round_of(round_, served)  # asynchronous codes: the worker's own clock
            served += 1
            for part, compute_s, last in job.run(at, link.theta, link.out, stop):
                link.send(round_, part, compute_s, last)
            if not last:  # stopped early: the master had finished the round
                link.idle(round_)
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass  # the master went away
    except BaseException:
        with contextlib.suppress(OSError):
            link.error(traceback.format_exc())
        raise SystemExit(1) from None
