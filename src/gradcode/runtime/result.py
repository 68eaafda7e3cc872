"""One `Result` shape for real runs, comparisons and simulations: per-round records.

journal.py writes it to a folder (during the run, or at once) and reads it back (`load_result`,
`read_results`) in the one file format of records.py."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class RoundRecord:
    """One round: wall time from broadcast to stepped parameters, who arrived when, what was used."""

    round: int
    wall_s: float
    arrival_s: np.ndarray  # (n,) seconds after the broadcast (last message); NaN: none came
    compute_s: np.ndarray  # (n,) pure gradient time of each arrived worker; NaN otherwise
    survivors: tuple[int, ...]  # the workers (messages, for multi-message codes) the decode used
    residual: float  # max|aᵀB - 1| of the decode
    loss: float = math.nan  # training objective at the round's parameters, decoded with g
    error: float = 0.0  # ||aᵀB - 1||²/k: 0 for an exact decode (see GradientCode.error);
    # fixed-time rounds (budget codes): the share of the rows left undone
    messages: int = 0  # messages of this round that arrived before the decode
    stale: int = 0  # messages of earlier rounds that arrived meanwhile (dropped)
    stopped: int = 0  # workers that reported stopping an earlier round early (multi-message)
    metrics: dict[str, float] = field(default_factory=dict)  # evaluated after the run (test_auc..)
    master_cpu_s: float = math.nan  # CPU seconds of the master process over the round
    corrupt: tuple[int, ...] = ()  # workers whose messages were found corrupt (and dropped)
    flagged: bool = False  # corruption found but not located: the round was not stepped on


@dataclass
class Result:
    """A training run: its records, final parameters, dead workers and outcome."""

    config: dict
    rounds: list[RoundRecord] = field(default_factory=list)
    theta: np.ndarray | None = None
    params: list[np.ndarray] | None = None  # per-round parameters, when asked for
    dead: dict[int, str] = field(default_factory=dict)  # worker -> why
    status: str = "running"  # "ok" | "failed" | "interrupted"; read back: "died" (no end)
    error: str = ""
    segments: list[dict] = field(default_factory=list)  # one per start or resume of the run
    master: dict = field(default_factory=dict)  # the master process: peak_rss_bytes, cpu_s

    @property
    def scheme(self) -> str:
        return str(self.config.get("scheme", ""))

    @property
    def wall_s(self) -> np.ndarray:
        return np.array([r.wall_s for r in self.rounds])

    @property
    def time_s(self) -> np.ndarray:
        """Wall-clock time at the end of each round (the cumulative round times)."""
        return np.cumsum(self.wall_s)

    def used(self, r: RoundRecord) -> np.ndarray:
        """(n,) whether each worker's message (any of its messages) went into round r's decode."""
        parts = int(self.config.get("parts", 1))
        used = np.zeros(r.arrival_s.size, dtype=bool)
        used[[j // parts for j in r.survivors if j // parts < used.size]] = True
        return used
