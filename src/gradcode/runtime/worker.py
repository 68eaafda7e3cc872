"""One worker's job and its round computation, shared by every engine."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
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


@dataclass(frozen=True)
class Segment:
    """The rows behind one message and their weights B[msg, partition of the row]."""

    X: object  # ndarray or scipy CSR
    y: np.ndarray
    w: np.ndarray


@dataclass
class WorkerJob:
    """What worker `worker` holds: one `Segment` per message slot of the code (None: a slot it
    never sends). A message is the gradient of its segment's B-weighted loss, one pass over its
    rows; single-message codes have one segment, the union of the worker's partitions.
    """

    worker: int
    n: int
    segments: tuple[Segment | None, ...]
    model: Model
    delay: DelayModel = field(default_factory=NoDelay)
    faults: tuple[Fault, ...] = ()
    row_time: float = 0.0  # emulated seconds of work per row (slowed by the delay factor too)

    def run(
        self, round: int, theta: np.ndarray, out: np.ndarray
    ) -> Iterator[tuple[int, float, bool]]:
        """Compute the messages in order, message p into out[p]; after each yield
        (p, compute_s, last). The injected delay is really waited out: the slowdown factor on
        each message's compute (and on the emulated `row_time` per row), the extra seconds
        spread over the messages by their rows.

        The caller may stop iterating early (the master no longer needs this round)."""
        for fault in self.faults:
            if fault.round <= round:  # a straggler may never be sent the fault's own round
                fault.strike()
        extra, factor = self.delay.sample(round, self.n)
        extra, factor = extra[self.worker], factor[self.worker]
        todo = [p for p, seg in enumerate(self.segments) if seg is not None]
        rows = sum(self.segments[p].y.size for p in todo) or 1
        kw = {"round": round} if getattr(self.model, "takes_round", False) else {}  # coded SGD
        for p in todo:
            seg = self.segments[p]
            t0 = time.perf_counter()
            out[p] = self.model.grad(theta, seg.X, seg.y, seg.w, **kw) if seg.y.size else 0.0
            compute_s = time.perf_counter() - t0
            emulated = self.row_time * seg.y.size
            wait = extra * seg.y.size / rows + (factor - 1.0) * compute_s + factor * emulated
            if wait > 0:
                time.sleep(wait)
            yield p, compute_s, p == todo[-1]
