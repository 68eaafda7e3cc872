"""Fault injection for tests and demos: a worker really dies, raises or hangs at a given round."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from typing import Literal

KINDS = ("kill", "raise", "hang")


@dataclass(frozen=True)
class Fault:
    """At round `round`, worker `worker` is SIGKILLed ("kill"), raises ("raise") or freezes ("hang")."""

    worker: int
    round: int
    kind: Literal["kill", "raise", "hang"] = "kill"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.worker < 0 or self.round < 0:
            raise ValueError(f"fault worker and round must be >= 0, got {self}")

    def spec(self) -> str:
        """The `WORKER@ROUND:KIND` text that `parse_fault` reads back."""
        return f"{self.worker}@{self.round}:{self.kind}"

    def strike(self) -> None:
        """Carry the fault out in the calling worker process."""
        if self.kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.kind == "raise":
            raise RuntimeError(f"injected fault: worker {self.worker} raised at round {self.round}")
        while True:  # hang: only the master's round timeout or close() ends this process
            time.sleep(3600)


def parse_fault(spec: str) -> Fault:
    """`WORKER@ROUND[:KIND]`, e.g. `3@10` (SIGKILL worker 3 at round 10) or `0@5:hang`."""
    try:
        where, _, kind = spec.partition(":")
        worker, round_ = (int(x) for x in where.split("@"))
    except ValueError:
        raise ValueError(
            f"fault must look like WORKER@ROUND[:{'|'.join(KINDS)}], got {spec!r}"
        ) from None
    return Fault(worker, round_, kind or "kill")  # type: ignore[arg-type]
