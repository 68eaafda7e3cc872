"""One `Result` shape for real runs (and later the simulator): per-round records, saved tidy."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

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
    loss: float = math.nan  # training objective at the round's parameters (outside the timing)
    error: float = 0.0  # ||aᵀB - 1||²/k: 0 for an exact decode (see GradientCode.error)
    messages: int = 0  # messages of this round that arrived before the decode
    stale: int = 0  # messages of earlier rounds that arrived meanwhile (dropped)
    stopped: int = 0  # workers that reported stopping an earlier round early (multi-message)


@dataclass
class Result:
    """A training run: its records, final parameters, dead workers and outcome."""

    config: dict
    rounds: list[RoundRecord] = field(default_factory=list)
    theta: np.ndarray | None = None
    params: list[np.ndarray] | None = None  # per-round parameters, when asked for
    dead: dict[int, str] = field(default_factory=dict)  # worker -> why
    status: str = "running"  # "ok" | "failed" | "interrupted"
    error: str = ""

    @property
    def wall_s(self) -> np.ndarray:
        return np.array([r.wall_s for r in self.rounds])

    def save(self, out: str | Path) -> Path:
        """Write rounds.csv, workers.csv, result.json (+ theta.npy, params.npy) into `out`."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "rounds.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(
                [
                    "round",
                    "wall_s",
                    "n_survivors",
                    "survivors",
                    "residual",
                    "loss",
                    "error",
                    "messages",
                    "stale",
                    "stopped",
                ]
            )
            for r in self.rounds:
                ids = " ".join(map(str, r.survivors))
                w.writerow(
                    [
                        r.round,
                        r.wall_s,
                        len(r.survivors),
                        ids,
                        r.residual,
                        _num(r.loss),
                        r.error,
                        r.messages,
                        r.stale,
                        r.stopped,
                    ]
                )
        with open(out / "workers.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["round", "worker", "arrival_s", "compute_s", "used"])
            parts = int(self.config.get("parts", 1))
            for r in self.rounds:
                used = {j // parts for j in r.survivors}
                for i, (at, c) in enumerate(zip(r.arrival_s, r.compute_s, strict=True)):
                    w.writerow([r.round, i, _num(at), _num(c), int(i in used)])
        summary = {
            "status": self.status,
            "error": self.error,
            "rounds_completed": len(self.rounds),
            "dead_workers": {str(k): v for k, v in sorted(self.dead.items())},
            "config": self.config,
        }
        (out / "result.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
        if self.theta is not None:
            np.save(out / "theta.npy", self.theta)
        if self.params:
            np.save(out / "params.npy", np.stack(self.params))
        return out


def _num(x: float) -> str | float:
    return "" if math.isnan(x) else x
