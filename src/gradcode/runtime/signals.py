"""SIGINT, SIGTERM and SIGHUP end a run the same way: an `Interrupted` exception in the master.

The exception is raised where the master is (waiting for replies, usually), except inside a
`deferred()` section (a journal append, a checkpoint), which finishes first.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal; `exit_status` is the shell's 128 + signal number."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.result = None  # set by train: what was recorded, as saved
        super().__init__(f"interrupted by {self.signame}")

    @property
    def signame(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_status(self) -> int:
        return 128 + self.signum


class _State:
    depth = 0  # interruptible() sections entered
    deferring = 0  # deferred() sections entered
    pending: int | None = None  # a signal that came during a deferred section
    received: int | None = None  # the last signal received in an interruptible section


def _handler(signum: int, frame) -> None:
    _State.received = signum
    if _State.deferring:
        _State.pending = signum
        return
    raise Interrupted(signum)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within: the SIGNALS raise Interrupted (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _handler) for s in SIGNALS}
    _State.depth += 1
    if _State.depth == 1:
        _State.received = _State.pending = None
    try:
        yield
    finally:
        _State.depth -= 1
        for s, h in previous.items():
            signal.signal(s, h)


@contextlib.contextmanager
def deferred(*, drop: bool = False) -> Iterator[None]:
    """Within: a signal waits until the section ends, then Interrupted is raised (`drop`: never;
    for the clean-up that a first signal started, which a second one must not cut short)."""
    _State.deferring += 1
    try:
        yield
    finally:
        _State.deferring -= 1
        if drop and not _State.deferring:
            _State.pending = None
    if not _State.deferring and _State.pending is not None:
        signum, _State.pending = _State.pending, None
        raise Interrupted(signum)


def received() -> int | None:
    """The signal that arrived during the current interruptible section, if any."""
    return _State.received
