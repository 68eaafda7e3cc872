"""One worker's job and its round computation, shared by every engine."""

from __future__ import annotations

import os
import time
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


@dataclass
class WorkerJob:
    """What worker `worker` holds: its rows (the union of its partitions) and their weights B[i, j].

    Its coded gradient is the gradient of the B-weighted loss, one pass over its rows.
    """

    worker: int
    n: int
    X: object  # ndarray or scipy CSR, rows of the worker's partitions
    y: np.ndarray
    w: np.ndarray  # per-row weight B[worker, partition of the row]
    model: Model
    delay: DelayModel = field(default_factory=NoDelay)
    faults: tuple[Fault, ...] = ()

    def compute(self, round: int, theta: np.ndarray, out: np.ndarray) -> float:
        """Write the coded gradient at theta into `out`; really wait out the injected delay.

        Returns the pure compute time in seconds (before the delay)."""
        for fault in self.faults:
            if fault.round <= round:  # a straggler may never be sent the fault's own round
                fault.strike()
        t0 = time.perf_counter()
        kw = {"round": round} if getattr(self.model, "takes_round", False) else {}  # coded SGD
        out[:] = self.model.grad(theta, self.X, self.y, self.w, **kw) if self.y.size else 0.0
        compute_s = time.perf_counter() - t0
        extra, factor = self.delay.sample(round, self.n)
        wait = extra[self.worker] + (factor[self.worker] - 1.0) * compute_s
        if wait > 0:
            time.sleep(wait)
        return compute_s
