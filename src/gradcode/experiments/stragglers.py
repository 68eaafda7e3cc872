"""Straggler attribution: per worker, how often and by how much it straggled, and whether
persistently, from a run's recorded arrivals (a `Result`: a real run's, a comparison's scheme
or a saved simulation's).

Round t's stragglers are the workers that arrived strictly after its (n-s)-th arrival (its s
slowest, ties at that arrival excluded), a worker that never arrived (NaN: not by the round's
end, or dead) counting as slower than any arrival; when more than s never arrived, all of them
straggled. s is the run's (at least 1: a round always has a slowest
worker). A worker's slowdown in a round is its arrival time over the round's median arrival
(never arrived: the round's wall time over the median, a lower bound); its compute slowdown is
its compute time over the median compute time of the workers that arrived.

The verdict (`persistent`): if stragglers were i.i.d. across workers, each worker would
straggle in a round with probability p0 = (stragglers per round, averaged) / n, which is s/n
when each round has exactly s. Worker i with x straggling rounds of N is *persistent* when the
one-sided binomial test of x ~ Bin(N, p0) against a higher rate gives p < level / n (level 0.01,
Bonferroni over the n workers: under i.i.d. stragglers the chance that anyone is named is at
most `level`). The lag-1 autocorrelation r1 of its 0/1 straggling sequence says whether it
straggles in runs: *bursty* when r1 sqrt(N) > z_(1 - level/n) (r1 is about N(0, 1/N) for an
independent sequence), a verdict given to a worker that is not persistent. A dead worker is
*dead*.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ..codes import GradientCode
from ..runtime.result import Result
from .tables import load_folder

LEVEL = 0.01  # family-wise error of the verdicts under i.i.d. stragglers
COLUMNS = (
    "worker",
    "rounds",
    "straggled",
    "rate",
    "median_slowdown",
    "p90_slowdown",
    "compute_slowdown",
    "missing",
    "p_value",
    "autocorr",
    "verdict",
)


@dataclass(frozen=True)
class WorkerStragglers:
    """One worker's straggling over a run's rounds."""

    worker: int
    rounds: int  # rounds recorded for it
    straggled: int  # rounds it was among the round's s slowest or never arrived
    rate: float  # straggled / rounds
    median_slowdown: float  # its arrival over the round's median arrival, median over rounds
    p90_slowdown: float  # the same, 90th percentile
    compute_slowdown: float  # its compute time over the round's median, median (NaN: none)
    missing: int  # rounds it never arrived (by the round's end)
    p_value: float  # one-sided binomial test of straggled ~ Bin(rounds, p0), rate > p0
    autocorr: float  # lag-1 autocorrelation of its straggling (NaN: constant or < 3 rounds)
    verdict: str  # "persistent", "bursty", "dead" or "" (nothing to say)


@dataclass(frozen=True)
class Attribution:
    """The workers of one run, slowest first, and the rule's parameters."""

    scheme: str
    n: int
    s: int  # stragglers per round counted (the run's s, at least 1)
    rounds: int
    p0: float  # a worker's straggling probability if stragglers were i.i.d. across workers
    level: float
    workers: tuple[WorkerStragglers, ...]

    @property
    def persistent(self) -> list[int]:
        return [w.worker for w in self.workers if w.verdict == "persistent"]

    def rows(self) -> list[dict]:
        """One dict per worker, the columns of `COLUMNS`."""
        return [asdict(w) for w in self.workers]


def straggling(result: Result, s: int) -> tuple[np.ndarray, np.ndarray]:
    """(rounds, n) booleans: who straggled, who never arrived. A worker straggled when it never
    arrived or arrived strictly after the round's (n-s)-th arrival (so at most s of those that
    arrived; a tie at that arrival is no straggler)."""
    A = _arrivals(result)
    missing = np.isnan(A)
    times = np.where(missing, math.inf, A)
    n = times.shape[1]
    cut = np.partition(times, n - s - 1, axis=1)[:, n - s - 1 : n - s]  # the (n-s)-th arrival
    return missing | (times > cut), missing


def attribute(result: Result, *, s: int | None = None, level: float = LEVEL) -> Attribution:
    """Per worker of `result`: straggling rounds, slowdowns, missing rounds and the verdict of
    the module docstring's rule, slowest first (by rate, then median slowdown)."""
    from scipy.stats import binomtest, norm  # scipy.stats: half a second to import

    if not 0 < level < 1:
        raise ValueError(f"level must satisfy 0 < level < 1, got level={level!r}")
    if not result.rounds:
        raise ValueError(f"the run of {result.scheme or 'its scheme'} has no rounds to attribute")
    A = _arrivals(result)
    N, n = A.shape
    if np.isnan(A).all():
        raise ValueError(
            f"the run of {result.scheme or 'its scheme'} records no arrivals (a simulation "
            "saved without keep_arrivals?): nothing to attribute"
        )
    s = max(1, int(result.config.get("s", 1)) if s is None else int(s))
    if not 0 < s < n:
        raise ValueError(f"s must satisfy 0 < s < n, got s={s}, n={n}")
    slow, missing = straggling(result, s)
    p0 = float(slow.sum(axis=1).mean()) / n
    ratio = _slowdowns(A, result.wall_s)
    compute = _compute(result, n)
    z = float(norm.isf(level / n))
    workers = []
    for i in range(n):
        x = int(slow[:, i].sum())
        p = float(binomtest(x, N, p0, alternative="greater").pvalue) if p0 < 1 else 1.0
        r1 = _autocorr(slow[:, i])
        verdict = ""
        if i in result.dead:
            verdict = "dead"
        elif p < level / n:
            verdict = "persistent"
        elif math.isfinite(r1) and r1 * math.sqrt(N) > z:
            verdict = "bursty"
        workers.append(
            WorkerStragglers(
                i,
                N,
                x,
                x / N,
                _q(ratio[:, i], 50),
                _q(ratio[:, i], 90),
                _q(compute[:, i], 50),
                int(missing[:, i].sum()),
                p,
                r1,
                verdict,
            )  # fmt: skip
        )
    workers.sort(key=lambda w: (-w.rate, -_finite(w.median_slowdown), w.worker))
    return Attribution(result.scheme, n, s, N, p0, level, tuple(workers))


def recorded_bound(result: Result, code: GradientCode) -> float:
    """T* estimated from a run's recorded speeds: the mean over rounds of W / sum_i w_i / a_ti,
    worker i's work w_i (partitions, `simulate.profile`) over its arrival a_ti, or over the
    round's wall time where it did not arrive (which overstates its speed); W = code.k. The
    oracle bound of `simulate.bounds` where reply times scale with the load (work-proportional
    delays); NaN without rounds or a matching code."""
    from ..simulate import profile

    A = _arrivals(result)
    if not result.rounds or A.shape[1] != code.n:
        return math.nan
    work = profile(code).work
    seen = np.where(np.isnan(A), result.wall_s[:, None], A)
    with np.errstate(divide="ignore"):
        speed = (work / seen).sum(axis=1)
        T = float(code.size_of.sum()) / speed
    return float(np.mean(T))


def read_runs(folder: str | Path) -> dict[str, Result]:
    """The runs of a run's folder (one) or a comparison's (one per scheme, each with the dead
    workers its journal recorded), by scheme."""
    return with_dead(folder, load_folder(folder).results)


def with_dead(folder: str | Path, results: dict[str, Result]) -> dict[str, Result]:
    """`results` of a comparison's folder with the dead workers of each scheme's journal
    (`runs/NN-scheme/result.json`; the comparison's tables do not hold them)."""
    results = dict(results)
    for path in sorted(Path(folder).glob("runs/*/result.json")):
        meta = json.loads(path.read_text())
        name = meta.get("config", {}).get("scheme")
        if name in results and not results[name].dead:
            dead = {int(k): v for k, v in meta.get("dead_workers", {}).items()}
            results[name] = replace(results[name], dead=dead)
    return results


def formatted(row: dict) -> list[str]:
    """A worker's row as text, in the order of `COLUMNS` (slowdowns as 1.23x, "-": none)."""
    return [
        str(row["worker"]),
        str(row["rounds"]),
        str(row["straggled"]),
        f"{row['rate']:.3f}",
        _times(row["median_slowdown"]),
        _times(row["p90_slowdown"]),
        _times(row["compute_slowdown"]),
        str(row["missing"]),
        f"{row['p_value']:.2g}",
        "-" if math.isnan(row["autocorr"]) else f"{row['autocorr']:+.2f}",
        row["verdict"] or "-",
    ]


HEADERS = (
    "worker", "rounds", "straggled", "rate", "median slowdown", "p90 slowdown",
    "compute slowdown", "missing", "p-value", "lag-1 autocorr", "verdict",
)  # fmt: skip
NOTE = (
    "slowdown: arrival over the round's median arrival (a worker that never arrived counts "
    "the round's wall time: a lower bound); compute slowdown: compute time over the round's "
    "median; persistent: straggles significantly more often than the i.i.d. rate p0 (one-sided "
    "binomial test, p < level/n); bursty: straggles in runs (lag-1 autocorrelation)."
)


def title(a: Attribution) -> str:
    return (
        f"{a.scheme}: n={a.n}, {a.rounds} rounds, the {a.s} slowest or missing per round "
        f"straggle; i.i.d. rate p0={a.p0:.3g}; persistent: binomial p < {a.level:g}/n"
    )


def _times(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.2f}x"


def _arrivals(result: Result) -> np.ndarray:
    """(rounds, n) arrival seconds, NaN where none (rounds recording fewer workers padded)."""
    n = max(int(result.config.get("n", 0)), *(r.arrival_s.size for r in result.rounds))
    A = np.full((len(result.rounds), n), math.nan)
    for t, r in enumerate(result.rounds):
        A[t, : r.arrival_s.size] = r.arrival_s
    return A


def _slowdowns(A: np.ndarray, wall: np.ndarray) -> np.ndarray:
    """Arrival over the round's median (never arrived: +inf in the median, wall in the ratio)."""
    times = np.where(np.isnan(A), math.inf, A)
    median = np.median(times, axis=1, keepdims=True)
    seen = np.where(np.isnan(A), wall[:, None], A)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = seen / median
    return np.where(np.isfinite(median) & (median > 0), ratio, math.nan)


def _compute(result: Result, n: int) -> np.ndarray:
    C = np.full((len(result.rounds), n), math.nan)
    for t, r in enumerate(result.rounds):
        C[t, : r.compute_s.size] = r.compute_s
    C[~np.isfinite(C)] = math.nan
    out = np.full(C.shape, math.nan)
    some = ~np.isnan(C).all(axis=1)
    median = np.nanmedian(C[some], axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[some] = np.where(median > 0, C[some] / median, math.nan)
    return out


def _q(x: np.ndarray, q: float) -> float:
    x = x[np.isfinite(x)]
    return float(np.percentile(x, q)) if x.size else math.nan


def _finite(x: float) -> float:
    return x if math.isfinite(x) else -math.inf


def _autocorr(x: np.ndarray) -> float:
    """Lag-1 autocorrelation of a 0/1 sequence (NaN: fewer than 3 values or constant)."""
    if x.size < 3 or x.min() == x.max():
        return math.nan
    v = x.astype(float) - x.mean()
    return float(v[:-1] @ v[1:] / (v @ v))
