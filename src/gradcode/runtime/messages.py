"""Typed events the master receives from an engine. Round ids travel with every message."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Reply:
    """Worker `worker` finished round `round`; `vector` is its coded gradient (engine-owned view,
    valid until that worker is sent its next task)."""

    round: int
    worker: int
    compute_s: float  # pure gradient time, before any injected delay
    vector: np.ndarray
    part: int = 0  # message slot of the worker (multi-message codes)
    last: bool = True  # the worker's last message of the round: it is idle now


@dataclass(frozen=True)
class Idle:
    """Worker `worker` stopped round `round` early, as the master asked (`Engine.round_done`),
    and is idle now."""

    round: int
    worker: int


@dataclass(frozen=True)
class WorkerDied:
    """Worker `worker` is gone (killed, crashed, raised, or hung past the round timeout)."""

    worker: int
    reason: str  # exit status, or the worker's traceback


Event = Reply | Idle | WorkerDied
