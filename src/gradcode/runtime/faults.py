"""Fault injection for tests and demos: a worker really dies, raises or hangs at a given round, or
turns Byzantine and corrupts its messages from a given round on (`gradcode.attacks`)."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from typing import Literal

from ..attacks import ATTACKS, Attack

KINDS = ("kill", "raise", "hang", "corrupt")
SPEC = f"WORKER@ROUND[:{'|'.join(KINDS[:3])}|corrupt[=MODEL[:SCALE]]]"


@dataclass(frozen=True)
class Fault:
    """At round `round`, worker `worker` is SIGKILLed ("kill"), raises ("raise") or freezes
    ("hang"); or ("corrupt") from round `round` on, every message it sends is rewritten by the
    attack `attack` (one of `gradcode.attacks.ATTACKS`) at `scale` (None: the attack's default),
    the worker otherwise alive and on time. `attack` and `scale` belong to corrupt faults only."""

    worker: int
    round: int
    kind: Literal["kill", "raise", "hang", "corrupt"] = "kill"
    attack: str = "sign"
    scale: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.worker < 0 or self.round < 0:
            raise ValueError(f"fault worker and round must be >= 0, got {self}")
        if self.kind == "corrupt":
            if self.attack not in ATTACKS:
                raise ValueError(
                    f"corrupt fault attack must be one of {', '.join(ATTACKS)}, got {self.attack!r}"
                )
            if self.scale is not None:
                object.__setattr__(self, "scale", Attack(self.attack, self.scale).scale)
        elif self.attack != "sign" or self.scale is not None:
            raise ValueError(f"attack and scale are for corrupt faults only, got {self!r}")

    def __repr__(self) -> str:
        extra = ""
        if self.kind == "corrupt":
            extra = f", attack={self.attack!r}"
            extra += "" if self.scale is None else f", scale={self.scale!r}"
        return f"Fault(worker={self.worker}, round={self.round}, kind={self.kind!r}{extra})"

    def spec(self) -> str:
        """The `WORKER@ROUND:KIND` text (corrupt: `WORKER@ROUND:corrupt=MODEL[:SCALE]`) that
        `parse_fault` reads back."""
        if self.kind != "corrupt":
            return f"{self.worker}@{self.round}:{self.kind}"
        scale = "" if self.scale is None else f":{self.scale!r}"
        return f"{self.worker}@{self.round}:corrupt={self.attack}{scale}"

    def active(self, round: int) -> bool:
        """Whether the fault acts at `round`: from its round on (a straggler may never be sent
        the fault's own round)."""
        return self.round <= round

    def as_attack(self) -> Attack:
        """A corrupt fault's attack, its scale resolved."""
        if self.kind != "corrupt":
            raise ValueError(f"{self!r} is not a corrupt fault: it has no attack")
        return Attack(self.attack, self.scale)

    def strike(self) -> None:
        """Carry a kill, raise or hang fault out in the calling worker process (a corrupt fault
        is carried out on the messages, by `WorkerJob.run`)."""
        if self.kind == "corrupt":
            raise ValueError(f"{self!r} corrupts messages: it does not strike the worker")
        if self.kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.kind == "raise":
            raise RuntimeError(f"injected fault: worker {self.worker} raised at round {self.round}")
        while True:  # hang: only the master's round timeout or close() ends this process
            time.sleep(3600)


def parse_fault(spec: str) -> Fault:
    """`WORKER@ROUND[:KIND]`, e.g. `3@10` (SIGKILL worker 3 at round 10), `0@5:hang`, or
    `3@0:corrupt=alie` (worker 3 sends ALIE messages from round 0 on; `corrupt` alone: sign;
    `corrupt=noise:2`: noise at scale 2)."""
    try:
        where, _, kind = spec.partition(":")
        worker, round_ = (int(x) for x in where.split("@"))
    except ValueError:
        raise ValueError(f"fault must look like {SPEC}, got {spec!r}") from None
    kind, eq, attack = kind.partition("=")
    if kind != "corrupt":
        if eq:
            raise ValueError(f"only corrupt faults take =MODEL, got {spec!r}")
        return Fault(worker, round_, kind or "kill")  # type: ignore[arg-type]
    if eq and not attack:
        raise ValueError(
            f"corrupt fault needs a model after '=', one of {', '.join(ATTACKS)}, got {spec!r}"
        )
    model, colon, scale = (attack or "sign").partition(":")
    try:
        level = float(scale) if colon else None
    except ValueError:
        raise ValueError(
            f"corrupt fault scale must be a number, got {scale!r} in {spec!r}"
        ) from None
    return Fault(worker, round_, "corrupt", model, level)
