"""A comparison as tidy tables: rounds, workers, summary; saved as CSV and read back for plots."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import CompareConfig, load_config

ROUND_COLUMNS = (
    "scheme",
    "s",
    "round",
    "wall_s",
    "time_s",
    "n_survivors",
    "messages",
    "error",
    "train_loss",
    "test_loss",
    "test_auc",
    "test_acc",
)
WORKER_COLUMNS = ("scheme", "round", "worker", "arrival_s", "compute_s", "used")
SUMMARY_COLUMNS = (
    "scheme",
    "s",
    "exact",
    "load",
    "mean_ms",
    "median_ms",
    "p95_ms",
    "speedup_vs_naive",
    "mean_error",
    "final_train_loss",
    "final_test_loss",
    "final_test_auc",
    "final_test_acc",
    "target_auc",
    "time_to_target_s",
    "dead_workers",
)


@dataclass
class Comparison:
    """rounds: one row per (scheme, round) with round 0 = the initial parameters (no wall time);
    workers: one row per (scheme, round, worker); summary: one row per scheme."""

    config: CompareConfig
    rounds: list[dict]
    workers: list[dict]
    summary: list[dict]

    def save(self, out: str | Path) -> Path:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.toml").write_text(self.config.to_toml())
        for name, rows, cols in (
            ("rounds", self.rounds, ROUND_COLUMNS),
            ("workers", self.workers, WORKER_COLUMNS),
            ("summary", self.summary, SUMMARY_COLUMNS),
        ):
            with open(out / f"{name}.csv", "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=cols)
                w.writeheader()
                w.writerows({k: _cell(r[k]) for k in cols} for r in rows)
        return out

    def series(self, scheme: str, column: str) -> np.ndarray:
        return np.array([r[column] for r in self.rounds if r["scheme"] == scheme], dtype=float)

    @property
    def schemes(self) -> list[str]:
        return [r["scheme"] for r in self.summary]


def _cell(v):
    if isinstance(v, float) and math.isnan(v):
        return ""
    return v


def time_to_target(time_s: np.ndarray, metric: np.ndarray, target: float) -> float:
    """First wall-clock time at which `metric` reaches `target` (NaN if never)."""
    hit = np.flatnonzero(metric >= target)
    return float(time_s[hit[0]]) if hit.size else math.nan


def from_runs(config: CompareConfig, runs: list) -> Comparison:
    rounds, workers, summary = [], [], []
    naive_mean = next(
        (np.mean([r.wall_s for r in run.rounds]) for run in runs if run.code.name == "naive"),
        math.nan,
    )
    target = config.target_auc
    if target is None:
        base = next((run for run in runs if run.code.name == "naive"), runs[0])
        target = round(0.99 * float(base.test_auc[-1]), 4)
    for run in runs:
        name = run.code.name
        for t in range(len(run.time_s)):
            rec = run.rounds[t - 1] if t else None
            rounds.append(
                {
                    "scheme": name,
                    "s": run.code.s,
                    "round": t,
                    "wall_s": rec.wall_s if rec else math.nan,
                    "time_s": float(run.time_s[t]),
                    "n_survivors": len(rec.survivors) if rec else math.nan,
                    "messages": rec.messages if rec else math.nan,
                    "error": rec.error if rec else math.nan,
                    "train_loss": float(run.train_loss[t]),
                    "test_loss": float(run.test_loss[t]),
                    "test_auc": float(run.test_auc[t]),
                    "test_acc": float(run.test_acc[t]),
                }
            )
        for rec in run.rounds:
            used = {j // run.code.parts for j in rec.survivors}
            for i in range(run.code.n):
                workers.append(
                    {
                        "scheme": name,
                        "round": rec.round + 1,
                        "worker": i,
                        "arrival_s": float(rec.arrival_s[i]),
                        "compute_s": float(rec.compute_s[i]),
                        "used": int(i in used),
                    }
                )
        wall = np.array([r.wall_s for r in run.rounds])
        summary.append(
            {
                "scheme": name,
                "s": run.code.s,
                "exact": run.code.exact,
                "load": run.code.load,
                "mean_ms": 1e3 * wall.mean(),
                "median_ms": 1e3 * float(np.median(wall)),
                "p95_ms": 1e3 * float(np.percentile(wall, 95)),
                "speedup_vs_naive": naive_mean / wall.mean(),
                "mean_error": float(np.mean([r.error for r in run.rounds])),
                "final_train_loss": float(run.train_loss[-1]),
                "final_test_loss": float(run.test_loss[-1]),
                "final_test_auc": float(run.test_auc[-1]),
                "final_test_acc": float(run.test_acc[-1]),
                "target_auc": target,
                "time_to_target_s": time_to_target(run.time_s, run.test_auc, target),
                "dead_workers": " ".join(map(str, sorted(run.dead))),
            }
        )
    return Comparison(config, rounds, workers, summary)


def load_comparison(out: str | Path) -> Comparison:
    """Read a saved comparison folder back (for `gradcode plot` / `gradcode report`)."""
    out = Path(out)
    missing = [
        f
        for f in ("config.toml", "rounds.csv", "workers.csv", "summary.csv")
        if not (out / f).is_file()
    ]
    if missing:
        raise ValueError(f"{out} is not a comparison folder: missing {', '.join(missing)}")
    return Comparison(
        load_config(out / "config.toml"),
        _read(out / "rounds.csv"),
        _read(out / "workers.csv"),
        _read(out / "summary.csv"),
    )


def _read(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _parse(v: str):
    if v == "":
        return math.nan
    if v in ("True", "False"):
        return v == "True"
    for kind in (int, float):
        try:
            return kind(v)
        except ValueError:
            pass
    return v
