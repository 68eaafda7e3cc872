"""What travels between rank 0 and the worker ranks: tags, the reply layout, polling naps.

A reply slot is raw bytes: a float64 header [session, round, compute_s, part, last], then the
message's `width` values (gradient, then loss) in the session's dtype, rounded up to 8 bytes; part -1 says the worker
stopped the round early. See docs/mpi.md for the whole table.
"""

from __future__ import annotations

import time
from enum import IntEnum

import numpy as np

MASTER = 0


class Tag(IntEnum):
    """Message kinds: fixed tags, never computed from rounds or workers (docs/mpi.md's table)."""

    JOB, READY, TASK, REPLY, ERROR, STOP, KILL, BYE, SHUTDOWN, DONE = range(7701, 7711)


ERROR_MAX = 1 << 13  # bytes of an ERROR message (tracebacks keep their last lines)
MAX_NAP = 1e-3  # longest sleep between two polls for a task or a reply (seconds)
HEADER = 5  # reply header: session, round, compute_s, part, last (float64)
EMPTY = np.empty(0, dtype=np.float64)  # the body of STOP, KILL, SHUTDOWN


def reply_bytes(width: int, dtype: np.dtype) -> int:
    """Bytes of one reply slot: the float64 header and `width` values, rounded up to 8."""
    return -(-(8 * HEADER + width * dtype.itemsize) // 8) * 8


def header(slot: np.ndarray) -> np.ndarray:
    """The float64 header of a reply slot (a view)."""
    return slot[: 8 * HEADER].view(np.float64)


def payload(slot: np.ndarray, width: int, dtype: np.dtype) -> np.ndarray:
    """The `width` message values of a reply slot (a view)."""
    return slot[8 * HEADER : 8 * HEADER + width * dtype.itemsize].view(dtype)


def nap(last: float, deadline: float, longest: float = MAX_NAP) -> float:
    """Sleep the `last` nap (never past the deadline); returns the next, doubled up to `longest`.

    Ranks poll with Test and these naps: the mpich wheel's blocking waits spin (sched_yield),
    which on an oversubscribed node takes the CPU from the compute processes."""
    if last:
        time.sleep(min(last, max(deadline - time.perf_counter(), 0.0)))
    return min(max(2 * last, 2e-5), longest)
