"""The small interface every engine implements; the master loop never sees more than this."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from ..messages import Event
from ..worker import WorkerJob


class Engine(Protocol):
    """Transport between the master and n workers.

    The master sends a task to a worker only when that worker is idle (no outstanding task), so a
    worker never holds more than one parameter message; `wait` returns replies and deaths.
    """

    n: int

    def start(
        self,
        jobs: Sequence[WorkerJob],
        d: int,
        *,
        parts: int = 1,
        dtype: np.dtype = np.float64,
        width: int | None = None,
    ) -> None:
        """Launch the n workers, each with its job; d is the parameter dimension, `parts` the
        message slots per worker and round, `dtype` the messages' element type and `width`
        the values in one message (default `message_width(d)`: gradient, then loss; block
        codes: ceil((d+1)/m))."""

    def send(self, worker: int, round: int, theta: np.ndarray) -> None:
        """Give an idle worker the task (round, theta). Every worker of a round is sent the
        same theta: an engine writes it out once per round, not once per worker."""

    def round_done(self, round: int) -> None:
        """The master needs nothing more for rounds <= round: a worker still sending messages
        for one may stop after its current message and report `Idle` (best effort)."""

    def wait(self, timeout: float) -> list[Event]:
        """Events that arrived, blocking up to `timeout` seconds for the first one."""

    def kill(self, worker: int) -> None:
        """Stop a worker for good (a hung worker past the round timeout)."""

    def close(self) -> None:
        """Stop every worker and free every resource; idempotent, safe after any failure."""
