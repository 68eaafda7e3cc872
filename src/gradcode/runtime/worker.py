"""One worker's job and its round computation, shared by every engine."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from ..delays import DelayModel, NoDelay
from ..models import Model
from .faults import Fault


def limit_blas_threads(n_workers: int) -> None:
    """Give each of n worker processes an equal share of the cores for BLAS (numpy, scipy).

    Left alone, every worker starts a BLAS pool of cpu_count threads and n workers fight over the
    cores (measured: 191 ms against 120 ms a round at n=16, d=1e5 on 2 cores)."""
    from threadpoolctl import threadpool_limits

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threadpool_limits(max(1, (cpus or 1) // max(1, n_workers)))


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


@dataclass(frozen=True)
class Segment:
    """Rows of one message (or of one chunk of it) and their weights B[msg, partition of row]."""

    X: object  # ndarray or scipy CSR
    y: np.ndarray
    w: np.ndarray


Message = tuple[Segment, ...]  # the chunks of one message, computed in order


def never_stop() -> bool:
    """The `stop` of single-message codes: their one message is always finished."""
    return False


@dataclass
class WorkerJob:
    """What worker `worker` holds: per message slot of the code, the chunks (`Segment`s) of that
    message, or None for a slot it never sends. A message is the sum of its chunks' B-weighted
    loss gradients. Single-message codes have one message of one chunk, the union of the
    worker's partitions (one pass); multi-message codes have a chunk per partition, and their
    workers can stop between chunks once the master has decoded the round.
    """

    worker: int
    n: int
    messages: tuple[Message | None, ...]
    model: Model
    delay: DelayModel = field(default_factory=NoDelay)
    faults: tuple[Fault, ...] = ()
    row_time: float = 0.0  # emulated seconds of work per row (slowed by the delay factor too)

    def run(
        self,
        round: int,
        theta: np.ndarray,
        out: np.ndarray,
        stop: Callable[[], bool] = never_stop,
    ) -> Iterator[tuple[int, float, bool]]:
        """Compute the messages in order, message p into out[p]; after each yield
        (p, compute_s, last). The injected delay is really waited out, chunk by chunk: the
        slowdown factor on each chunk's compute (and on the emulated `row_time` per row), the
        extra seconds spread over the chunks by their rows.

        Before every chunk `stop()` is asked; when true (the master no longer needs this round)
        the iteration ends before the last message: the worker is idle."""
        for fault in self.faults:
            if fault.round <= round:  # a straggler may never be sent the fault's own round
                fault.strike()
        extra, factor = self.delay.sample(round, self.n)
        extra, factor = extra[self.worker], factor[self.worker]
        todo = [p for p, chunks in enumerate(self.messages) if chunks is not None]
        rows = sum(seg.y.size for p in todo for seg in self.messages[p]) or 1
        kw = {"round": round} if getattr(self.model, "takes_round", False) else {}  # coded SGD
        for p in todo:
            compute_s = 0.0
            for c, seg in enumerate(self.messages[p]):
                if stop():
                    return
                t0 = time.perf_counter()
                g = self.model.grad(theta, seg.X, seg.y, seg.w, **kw) if seg.y.size else 0.0
                if c:
                    out[p] += g
                else:
                    out[p] = g
                spent = time.perf_counter() - t0
                compute_s += spent
                emulated = self.row_time * seg.y.size
                wait = extra * seg.y.size / rows + (factor - 1.0) * spent + factor * emulated
                if wait > 0:
                    time.sleep(wait)
            yield p, compute_s, p == todo[-1]
