"""A comparison, or one run, in the one result shape: a `Result` per scheme and a summary row
each (round-time statistics, decoding error, final metrics, time to a target test AUC).

A comparison's folder holds, beside each scheme's run journal (`runs/NN-scheme/`, written by
`train` during the run), the tables of the whole comparison, written by the journal's writer:
`rounds.csv` and `workers.csv` are the schemes' journals concatenated (round t = the t-th step,
a `scheme` column), with `loss` (the training objective) and the test metrics evaluated after
the run; `initial.csv` holds the same metrics at the starting parameters (not a round);
`summary.csv` one row per scheme. `load_folder` reads a comparison's folder or a run's.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..codes import GradientCode, make_code
from ..records import ROUND_COLUMNS, WORKER_COLUMNS, read_table, write_table
from ..runtime.async_loop import ASYNC_METRICS
from ..runtime.journal import load_result, read_results, round_row, write_tables
from ..runtime.result import Result
from .config import CompareConfig, load_config

SUMMARY_COLUMNS = (
    "scheme",
    "s",
    "exact",
    "load",
    "mean_load",
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


METRICS = ("test_loss", "test_auc", "test_acc")  # evaluated after the run, on the test rows
INITIAL_COLUMNS = ("scheme", "train_loss", *METRICS)
ROUND_SERIES = {"wall_s", "loss", "error", "residual", "messages", "stale", "stopped"}
FILES = ("config.toml", "rounds.csv", "workers.csv", "initial.csv", "summary.csv")


@dataclass(frozen=True)
class SchemeRun:
    """One scheme's run, its records' loss and metrics evaluated (outside the timed path), and
    the same metrics at the starting parameters."""

    code: GradientCode
    result: Result
    initial: dict[str, float]


@dataclass
class Comparison:
    """results: one Result per scheme, in order; initial: per scheme the metrics at the starting
    parameters (none for a run's folder); summary: one row per scheme; config: the comparison's
    (None for a run's folder, whose config is its result's)."""

    config: CompareConfig | None
    results: dict[str, Result]
    initial: dict[str, dict] = field(default_factory=dict)
    summary: list[dict] = field(default_factory=list)

    @property
    def schemes(self) -> list[str]:
        return list(self.results)

    def series(self, scheme: str, column: str) -> np.ndarray:
        """(R+1,): `column` at the starting parameters (NaN where not evaluated; time 0), then
        after each round. Columns: time_s, the round columns, train_loss (= loss), the metrics."""
        result = self.results[scheme]
        column = "loss" if column == "train_loss" else column
        if column == "time_s":
            return np.concatenate([[0.0], result.time_s])
        start = self.initial.get(scheme, {}).get("train_loss" if column == "loss" else column)
        if column == "n_survivors":
            values = [len(r.survivors) for r in result.rounds]
        elif column in ROUND_SERIES:
            values = [getattr(r, column) for r in result.rounds]
        else:
            values = [r.metrics.get(column, math.nan) for r in result.rounds]
        return np.array([math.nan if start is None else start, *values], dtype=float)

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metric columns of rounds.csv: `METRICS`, then asynchronous runs' staleness."""
        had = {m for res in self.results.values() for r in res.rounds for m in r.metrics}
        return METRICS + tuple(m for m in ASYNC_METRICS if m in had)

    @property
    def rounds(self) -> list[dict]:
        """One row per (scheme, round), as in rounds.csv: the round columns and the metrics."""
        metrics = self.metrics
        columns = ROUND_COLUMNS + metrics
        return [
            dict(zip(columns, round_row(res, r, metrics), strict=True))
            for res in self.results.values()
            for r in res.rounds
        ]

    @property
    def workers(self) -> list[dict]:
        """One row per (scheme, round, worker): arrival_s, compute_s, used."""
        return [
            dict(zip(WORKER_COLUMNS, (name, r.round, i, at, c, int(u)), strict=True))
            for name, res in self.results.items()
            for r in res.rounds
            for i, (at, c, u) in enumerate(zip(r.arrival_s, r.compute_s, res.used(r), strict=True))
        ]

    @property
    def title(self) -> str:
        if self.config is not None:
            cfg = self.config
            return f"n={cfg.n}, s={cfg.s}, {cfg.dataset}, delays: {cfg.delay}"
        cfg = next(iter(self.results.values())).config
        return f"{cfg.get('scheme')} n={cfg.get('n')}, s={cfg.get('s')}, delays: {cfg.get('delay')}"

    def has(self, column: str) -> bool:
        """Whether some scheme has a finite value of `column` after some round."""
        return any(np.isfinite(self.series(s, column)[1:]).any() for s in self.schemes)

    def save(self, out: str | Path) -> Path:
        """config.toml, rounds.csv and workers.csv (the journal's writer), initial.csv,
        summary.csv."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        if self.config is not None:
            (out / "config.toml").write_text(self.config.to_toml())
        write_tables(out, list(self.results.values()), self.metrics)
        initial = [{"scheme": s, **m} for s, m in self.initial.items()]
        write_table(out / "initial.csv", INITIAL_COLUMNS, initial)
        write_table(out / "summary.csv", SUMMARY_COLUMNS, self.summary)
        return out


def from_runs(config: CompareConfig, runs: list[SchemeRun]) -> Comparison:
    results = {run.code.name: run.result for run in runs}
    initial = {run.code.name: run.initial for run in runs}
    c = Comparison(config, results, initial)
    c.summary = summarize(c, {run.code.name: run.code for run in runs}, config.target_auc)
    return c


def load_folder(out: str | Path) -> Comparison:
    """A comparison's folder (`load_comparison`) or a run's (`train --out`, killed or not)."""
    out = Path(out)
    if (out / "result.json").is_file() and not (out / "summary.csv").is_file():
        result = load_result(out)
        c = Comparison(None, {result.scheme: result})
        c.summary = summarize(c, {result.scheme: _code_of(result)}, None)
        return c
    return load_comparison(out)


def load_comparison(out: str | Path) -> Comparison:
    """Read a saved comparison folder back (for `gradcode plot` / `gradcode report`)."""
    out = Path(out)
    missing = [f for f in FILES if not (out / f).is_file()]
    if missing:
        raise ValueError(
            f"{out} is not a comparison folder: missing {', '.join(missing)} "
            "(nor a run's: no result.json)"
        )
    configs = {}  # each scheme's run config, from its journal (parts: which worker was used)
    for path in sorted(out.glob("runs/*/result.json")):
        config = json.loads(path.read_text()).get("config", {})
        configs[config.get("scheme")] = config
    summary = read_table(out / "summary.csv")
    results = {
        name: Result(configs.get(name, {"scheme": name}), rounds=rounds, status="ok")
        for name, rounds in read_results(out).items()
    }
    initial = {row.pop("scheme"): row for row in read_table(out / "initial.csv")}
    return Comparison(load_config(out / "config.toml"), results, initial, summary)


def time_to_target(time_s: np.ndarray, metric: np.ndarray, target: float) -> float:
    """First wall-clock time at which `metric` reaches `target` (NaN if never)."""
    hit = np.flatnonzero(metric >= target)
    return float(time_s[hit[0]]) if hit.size else math.nan


def _final(values: np.ndarray) -> float:
    """The last finite value (NaN if none)."""
    finite = values[np.isfinite(values)]
    return float(finite[-1]) if finite.size else math.nan


def summarize(
    c: Comparison, codes: dict[str, GradientCode | None], target: float | None
) -> list[dict]:
    """The summary rows of `c`; `target` AUC defaults to 99% of naive's (else the first
    scheme's) final test AUC; `codes` give s, exactness and load (None: unknown)."""
    names = c.schemes
    base = "naive" if "naive" in names else names[0]
    if target is None:
        auc = _final(c.series(base, "test_auc"))
        target = round(0.99 * auc, 4) if math.isfinite(auc) else math.nan
    naive_mean = float(np.mean(c.results["naive"].wall_s)) if "naive" in names else math.nan
    rows = []
    for name in names:
        result, code = c.results[name], codes.get(name)
        wall = result.wall_s if result.rounds else np.full(1, math.nan)
        auc = c.series(name, "test_auc")
        rows.append(
            {
                "scheme": name,
                "s": code.s if code else result.config.get("s", math.nan),
                "exact": code.exact if code else math.nan,
                "load": code.load if code else math.nan,
                "mean_load": _mean_load(code) if code else math.nan,
                "mean_ms": 1e3 * wall.mean(),
                "median_ms": 1e3 * float(np.median(wall)),
                "p95_ms": 1e3 * float(np.percentile(wall, 95)),
                "speedup_vs_naive": naive_mean / wall.mean(),
                "mean_error": float(np.mean([r.error for r in result.rounds])),
                "final_train_loss": _final(c.series(name, "loss")),
                "final_test_loss": _final(c.series(name, "test_loss")),
                "final_test_auc": _final(auc),
                "final_test_acc": _final(c.series(name, "test_acc")),
                "target_auc": target,
                "time_to_target_s": time_to_target(c.series(name, "time_s"), auc, target),
                "dead_workers": " ".join(map(str, sorted(result.dead))),
            }
        )
    return rows


def _mean_load(code: GradientCode) -> float:
    """Partitions per worker, averaged over the workers (`load` is the most one holds)."""
    return float(np.mean([len(code.partitions(i)) for i in range(code.n)]))


def _code_of(result: Result) -> GradientCode | None:
    """The run's code rebuilt from its config (None when its name builds no code)."""
    cfg = result.config
    try:
        return make_code(str(cfg["scheme"]), int(cfg["n"]), int(cfg["s"]), seed=cfg.get("seed", 0))
    except (KeyError, TypeError, ValueError):
        return None
