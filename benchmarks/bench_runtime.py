"""Runtime: framework overhead of the master loop, and straggler mitigation end to end.

    .venv/bin/python benchmarks/bench_runtime.py [--quick] [--engine local|mpi|both] [--seed 0]

(a) Overhead. Per round, overhead = wall time (broadcast -> stepped parameters) minus the pure
    compute time of the slowest worker the decode USED (max of compute_s over the survivors), for
    n in {4, 8, 16} workers and d in {1e3, 1e5, 1e6}: cyclic code, s=1 (each worker holds two
    partitions), logistic regression, plain GD, no injected delay, no loss evaluation; the first
    rounds are dropped as warm-up. Reported: medians in ms and the median overhead as % of the
    median round. Target: <= 10% at d=1e5. Data: dense Gaussian-mixture rows for d=1e3 and 1e5
    (0.8 GB each: 100,000 x 1e3 and 1,000 x 1e5), scipy CSR rows with 1,000 nonzeros each for
    d=1e6 (20,000 rows, 240 MB), so a round computes for 0.1-0.3 s. Also reported: the master
    process's CPU time per round (its own work, whatever the scheduler does with it).
(c) Journal. n=8, d=1e5 (part (a)'s data), cyclic s=1: the same run with and without an output
    folder (the journal appends and flushes each round, a background thread fsyncs at most once a
    second; checkpoints every 10 rounds here, instead of about every 30 s), interleaved
    A/B three times; reported: median round time of each, their difference as % of the round, and
    the journal's own cost per round measured directly (appending a round of n=8 workers, in a
    loop). Target: under 1% of the round.
(b) Stragglers. n=6, dense 12000 x 2000 Gaussian mixture, worker 0 sleeps 0.2 s after its gradient
    every round (FixedStragglers), 100 rounds: mean / median / p95 round time (all rounds) of
    naive (s=0), ignore, frc and cyclic (s=1). Targets for each coded scheme (frc, cyclic):
    mean <= 1.2 x median, mean <= naive mean / 5, and mean <= 1.3 x the round's floor on this
    machine, measured in the same run: the larger of the slowest worker's compute alone (its
    message computed in this process with nothing else running) and the CPU seconds of all work
    done during a round (each message computed in it, at its cost alone, plus the master's CPU)
    divided by the usable cores. Beside it, `bare`: the same messages of every worker but the
    straggler computed at once by plain forked processes woken by a pipe (no runtime at all,
    median of BARE_ROUNDS rounds), what this machine itself takes for the round's work when the
    workers share its cores; mean/bare is the runtime's own share.
(d) Scale. n=8, cyclic s=1, logistic regression on CSR rows (20,000 x 1e7, 500 nonzeros per
    row), 12 rounds: round time, the master's CPU per round and its peak resident memory.

"other load %": CPU time that processes outside this benchmark used during each run, as a share
of the machine (from /proc/stat minus this process tree's own CPU time). Other jobs on a shared
box skew every time here; rows with a high value are not comparable.

BLAS threads: every worker is a process, so the benchmark pins OpenBLAS/OMP/MKL to one thread per
process (set before numpy loads, unless already set in the environment); n workers with a
cpu_count-thread BLAS pool each oversubscribe the cores. Set OPENBLAS_NUM_THREADS to measure others.

Engines: `local` runs in this process. `mpi` runs each configuration in its own
`mpiexec -n n+1` job (the mpiexec next to this Python, from the `mpich` wheel) that re-enters this
script with `--one SPEC`: worker ranks serve rank 0 (`serve_if_worker`, no data loaded), rank 0
builds the seeded data, calls `train` and prints its per-round numbers as one JSON line. Both
parts run on every engine asked for; where the mpi engine or mpi4py is missing, its rows say so.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy loads: one BLAS thread per process

import argparse  # noqa: E402
import functools  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass, replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from _common import (  # noqa: E402
    CONSOLE,
    base_parser,
    fmt,
    median_ms,
    print_footer,
    print_header,
    print_table,
    together_ms,
    verdict,
)
from gradcode.data.synthetic import gaussian_mixture  # noqa: E402
from gradcode.delays import parse_delay  # noqa: E402
from gradcode.runtime.master import train  # noqa: E402

JSON_TAG = "BENCH_JSON "
OVERHEAD_TARGET_PCT = 5.0
OVERHEAD_TARGET_D = 100_000  # the target applies at this d and above
FLOOR_RATIO_MAX = 1.3  # part (b): coded mean <= 1.3 x the round's floor
BARE_ROUNDS = 30  # part (b): rounds of the bare harness (no runtime) per scheme
MEAN_OVER_MEDIAN_MAX = 1.2
NAIVE_OVER_CODED_MIN = 5.0
STRAGGLER_DELAY = "fixed:workers=0;delay=0.2"
CODED = ("frc", "cyclic")


@dataclass(frozen=True)
class DataSpec:
    """A seeded logistic-regression data set: dense Gaussian mixture, or sparse CSR rows with
    `nnz` nonzeros each (the same mixture restricted to a random support)."""

    kind: str  # "dense" | "sparse"
    m: int
    d: int
    nnz: int = 0  # nonzeros per row (sparse only)
    seed: int = 0

    def label(self) -> str:
        return "dense" if self.kind == "dense" else f"CSR {self.nnz}/row"

    def megabytes(self) -> float:
        per_value = 8 if self.kind == "dense" else 12  # float64 value (+ int32 column index)
        return self.m * (self.d if self.kind == "dense" else self.nnz) * per_value / 1e6


@dataclass(frozen=True)
class JobSpec:
    """One training run to time; JSON round-trips it to an mpiexec child."""

    engine: str
    scheme: str
    n: int
    s: int
    data: DataSpec
    rounds: int
    delay: str = "none"
    seed: int = 0
    journal: bool = False  # write the run's folder (a temporary one) while it runs
    checkpoint_every: int | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @staticmethod
    def from_json(text: str) -> JobSpec:
        raw = json.loads(text)
        return JobSpec(**{**raw, "data": DataSpec(**raw["data"])})


@dataclass(frozen=True)
class Plan:
    """Sizes of the two parts."""

    n_values: tuple[int, ...]
    data: tuple[DataSpec, ...]  # one per d of part (a)
    rounds: int  # part (a), warm-up included
    warmup: int
    straggler_data: DataSpec
    straggler_rounds: int


FULL = Plan(
    n_values=(4, 8, 16),
    data=(
        DataSpec("dense", m=100_000, d=1_000),
        DataSpec("dense", m=1_000, d=100_000),
        DataSpec("sparse", m=20_000, d=1_000_000, nnz=1_000),
    ),
    rounds=30,
    warmup=2,
    straggler_data=DataSpec("dense", m=12_000, d=2_000),
    straggler_rounds=100,
)
QUICK = Plan(
    n_values=(4, 8),
    data=(DataSpec("dense", m=4_000, d=1_000), DataSpec("sparse", m=2_000, d=10_000, nnz=100)),
    rounds=6,
    warmup=2,
    straggler_data=DataSpec("dense", m=2_400, d=200),
    straggler_rounds=10,
)


# ----------------------------------------------------------------------------- data


@functools.lru_cache(maxsize=1)  # consecutive runs share a data set; one held at a time
def make_data(spec: DataSpec) -> tuple[np.ndarray | sp.csr_matrix, np.ndarray]:
    if spec.kind == "dense":
        return gaussian_mixture(spec.m, spec.d, seed=spec.seed)
    if spec.kind == "sparse":
        return sparse_mixture(spec.m, spec.d, spec.nnz, seed=spec.seed)
    raise ValueError(f"unknown data kind {spec.kind!r}; valid kinds: dense, sparse")


def sparse_mixture(
    m: int, d: int, nnz: int, *, seed: int, separation: float = 3.0
) -> tuple[sp.csr_matrix, np.ndarray]:
    """m CSR rows with `nnz` random columns each (sorted; rare duplicates add up): value
    (2y-1) * (separation/2) * sqrt(d/nnz) * u_j + N(0, 1) for a random unit direction u, so the
    class means on a row's support are about `separation` apart, as in the dense mixture."""
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(d)
    u /= np.linalg.norm(u)
    y = rng.integers(0, 2, size=m).astype(np.float64)
    cols = np.sort(rng.integers(0, d, size=(m, nnz), dtype=np.int32), axis=1)
    scale = (2.0 * y - 1.0)[:, None] * (0.5 * separation * np.sqrt(d / nnz))
    values = scale * u[cols] + rng.standard_normal((m, nnz))
    indptr = np.arange(0, m * nnz + 1, nnz, dtype=np.int64)
    return sp.csr_matrix((values.ravel(), cols.ravel(), indptr), shape=(m, d)), y


# ----------------------------------------------------------------------------- one run


def run_job(spec: JobSpec) -> dict | None:
    """Train as `spec` says; per round: wall time, the master's CPU time, the slowest used
    worker's compute time and whether worker 0 was used. None where train returns None."""
    X, y = make_data(spec.data)
    with tempfile.TemporaryDirectory(prefix="gradcode-bench-") as folder:
        result = _train(spec, X, y, Path(folder) / "run" if spec.journal else None)
    if result is None:
        return None
    used = [list(r.survivors) for r in result.rounds]
    return {
        "wall_s": [r.wall_s for r in result.rounds],
        "master_cpu_s": [r.master_cpu_s for r in result.rounds],
        "master_peak_rss_mb": result.master.get("peak_rss_bytes", 0) / 2**20,
        "compute_s": [
            float(np.max(r.compute_s[u])) for r, u in zip(result.rounds, used, strict=True)
        ],
        "worker0_used": [0 in u for u in used],
        "used": used,
        "replied": [np.flatnonzero(np.isfinite(r.arrival_s)).tolist() for r in result.rounds],
        "stale": [r.stale for r in result.rounds],
    }


def _train(spec: JobSpec, X, y, out: Path | None):
    return train(
        spec.scheme,
        X,
        y,
        n=spec.n,
        s=spec.s,
        seed=spec.seed,
        model="logistic",
        optimizer="gd",
        lr=0.1,
        rounds=spec.rounds,
        engine=spec.engine,
        delay=parse_delay(spec.delay, seed=spec.seed),
        eval_every=0,
        out=out,
        checkpoint_every=spec.checkpoint_every,
    )


def mpi_unavailable() -> str | None:
    """Why the mpi engine cannot run here, or None when it can."""
    if importlib.util.find_spec("mpi4py") is None:
        return "mpi4py is not installed (pip install 'gradcode[mpi]')"
    if importlib.util.find_spec("gradcode.runtime.engines.mpi") is None:
        return "gradcode.runtime.engines.mpi does not exist yet"
    if not mpiexec().exists():
        return f"no mpiexec at {mpiexec()}"
    return None


def mpiexec() -> Path:
    return Path(sys.executable).parent / "mpiexec"


def run_mpi_job(spec: JobSpec, timeout_s: float = 900.0) -> dict:
    """`run_job(spec)` under `mpiexec -n n+1` (this script with --one); rank 0's JSON line."""
    cmd = [str(mpiexec()), "-n", str(spec.n + 1), sys.executable, __file__, "--one"]
    proc = subprocess.run(
        [*cmd, spec.to_json()], capture_output=True, text=True, timeout=timeout_s, check=False
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(JSON_TAG)]
    if proc.returncode != 0 or len(lines) != 1:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"mpiexec exited {proc.returncode}: {' | '.join(tail)}")
    return json.loads(lines[0][len(JSON_TAG) :])


def run(spec: JobSpec) -> dict:
    """The run's per-round numbers, plus `other_load_pct`: the share of the machine's CPU time
    that other processes used meanwhile (the box may be shared; that skews every time here)."""
    before = cpu_snapshot()
    if spec.engine == "mpi":
        out = run_mpi_job(spec)
    else:
        local = run_job(spec)
        assert local is not None  # the local engine always returns the master's Result
        out = local
    return {**out, "other_load_pct": other_load_pct(before, cpu_snapshot())}


def cpu_snapshot() -> tuple[float, float, float]:
    """(wall s, CPU s of the whole machine since boot, CPU s of this process + reaped children);
    machine CPU is NaN where /proc/stat is missing."""
    own = os.times()
    try:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:]]
        machine = (sum(ticks[:3]) + ticks[5] + ticks[6]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        machine = float("nan")
    mine = own.user + own.system + own.children_user + own.children_system
    return time.perf_counter(), machine, mine


def other_load_pct(before: tuple[float, float, float], after: tuple[float, float, float]) -> float:
    wall, machine, mine = (b - a for a, b in zip(before, after, strict=True))
    return 100.0 * max(0.0, machine - mine) / (wall * (os.cpu_count() or 1))


# ----------------------------------------------------------------------------- part (a)


def overhead_stats(raw: dict, warmup: int) -> dict[str, float]:
    wall = np.asarray(raw["wall_s"][warmup:])
    compute = np.asarray(raw["compute_s"][warmup:])
    over = wall - compute
    master_cpu = np.asarray(raw["master_cpu_s"][max(warmup, 1) :])
    return {
        "rounds": float(wall.size),
        "wall_ms": 1e3 * float(np.median(wall)),
        "compute_ms": 1e3 * float(np.median(compute)),
        "over_ms": 1e3 * float(np.median(over)),
        "over_p90_ms": 1e3 * float(np.percentile(over, 90)),
        "master_cpu_ms": 1e3 * float(np.median(master_cpu)),
        "over_pct": 100.0 * float(np.median(over) / np.median(wall)),
        "other_load_pct": raw["other_load_pct"],
    }


def part_a(plan: Plan, engines: list[str], seed: int) -> list[tuple[str, DataSpec, int, dict]]:
    """Every (engine, d, n) configuration; stats dict, or {"error": why}."""
    rows = []
    for engine in engines:
        why = mpi_unavailable() if engine == "mpi" else None
        for data in plan.data:
            for n in plan.n_values:
                if why is not None:
                    rows.append((engine, data, n, {"error": why}))
                    continue
                spec = JobSpec(
                    engine, "cyclic", n, 1, replace(data, seed=seed), plan.rounds, seed=seed
                )
                try:
                    stats = overhead_stats(run(spec), plan.warmup)
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    stats = {"error": str(e)}
                rows.append((engine, data, n, stats))
    return rows


def print_part_a(rows: list[tuple[str, DataSpec, int, dict]], plan: Plan) -> None:
    columns = [
        "engine",
        "d",
        "data",
        "m",
        "X MB",
        "n",
        "round ms",
        "compute ms",
        "overhead ms",
        "overhead %",
        "p90 ovh ms",
        "master CPU ms",
        "read floor ms",
        "target",
        "other load %",
    ]
    table: list[list[str] | None] = []
    errors: dict[str, list[str]] = {}
    last = None
    for engine, data, n, st in rows:
        if last is not None and (engine, data.d) != last:
            table.append(None)
        last = (engine, data.d)
        head = [engine, power10(data.d), data.label(), f"{data.m:,}", fmt(data.megabytes()), str(n)]
        if "error" in st:
            errors.setdefault(st["error"], []).append(f"{engine} d={power10(data.d)} n={n}")
            table.append([*head, "n/a", *[""] * 8])
            continue
        target = verdict(st["over_pct"] <= OVERHEAD_TARGET_PCT)
        floor = read_floor_ms(n, 1, data.d)
        table.append(
            [
                *head,
                fmt(st["wall_ms"]),
                fmt(st["compute_ms"]),
                fmt(st["over_ms"], ".2f"),
                fmt(st["over_pct"], ".2f"),
                fmt(st["over_p90_ms"], ".2f"),
                fmt(st["master_cpu_ms"], ".2f"),
                fmt(floor, ".2f"),
                target if data.d >= OVERHEAD_TARGET_D else "",
                fmt(st["other_load_pct"], ".0f"),
            ]
        )
    measured = plan.rounds - plan.warmup
    print_table(
        f"(a) framework overhead: cyclic s=1, GD, no delay; medians over {measured} rounds "
        f"(first {plan.warmup} dropped); overhead = round - slowest used worker's compute; "
        f"target <= {OVERHEAD_TARGET_PCT:.0f}% at d >= {power10(OVERHEAD_TARGET_D)}; read floor = "
        "one pass over the n-s messages a round decodes (a gemv over them, stacked, here)",
        columns,
        table,
    )
    for why, where in errors.items():
        CONSOLE.print(f"n/a ({', '.join(where)}): {why}", markup=False)


@functools.cache
def read_floor_ms(n: int, s: int, d: int) -> float:
    """The least a master can spend on a round's messages: one read of the n-s of them that
    decode (d + 1 values each: gradient and loss), measured as one gemv over them already
    stacked in one array (median of 7, ms)."""
    rng = np.random.default_rng(0)
    V, a = rng.standard_normal((n - s, d + 1)), rng.standard_normal(n - s)
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        a @ V
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def power10(x: int) -> str:
    """1000 -> '1e3'."""
    exponent = round(np.log10(x))
    return f"1e{exponent}" if 10**exponent == x else f"{x:,}"


# ----------------------------------------------------------------------------- part (b)


def straggler_stats(raw: dict) -> dict[str, float]:
    wall = np.asarray(raw["wall_s"])
    return {
        "mean_ms": 1e3 * float(wall.mean()),
        "median_ms": 1e3 * float(np.median(wall)),
        "p95_ms": 1e3 * float(np.percentile(wall, 95)),
        "w0_used_pct": 100.0 * float(np.mean(raw["worker0_used"])),
        "total_s": float(wall.sum()),
        "other_load_pct": raw["other_load_pct"],
        "master_cpu_ms": 1e3 * float(np.nanmedian(raw["master_cpu_s"][1:])),
    }


def round_floor(raw: dict, alone: list[float], master_cpu_ms: float) -> dict[str, float]:
    """The round's floor on this machine: the larger of the slowest used worker's compute alone
    and the CPU work of the round (each message computed during it, at its alone cost, plus the
    master's CPU) over the usable cores; medians over the rounds (ms). Alone costs come from
    `alone_compute_ms`, measured with nothing else running, so other load on the box cannot
    lower the bar."""
    slowest, work = [], []
    for used, replied, stale in zip(raw["used"], raw["replied"], raw["stale"], strict=True):
        slowest.append(max(alone[i] for i in used))
        work.append(sum(alone[i] for i in replied) + stale * float(np.mean(alone)))
    cores = usable_cores()
    per_round = np.maximum(slowest, (np.asarray(work) + master_cpu_ms) / cores)
    return {
        "alone_ms": float(np.median(slowest)),
        "cpu_cores_ms": float(np.median((np.asarray(work) + master_cpu_ms) / cores)),
        "floor_ms": float(np.median(per_round)),
    }


def round_messages(scheme: str, s: int, data: DataSpec, seed: int) -> list:
    """Per worker of part (b)'s code: a call that computes its messages of a round (as its
    worker does, without the delay), for timing them outside the runtime."""
    from gradcode.codes import make_code
    from gradcode.delays import NoDelay
    from gradcode.models import make_model
    from gradcode.runtime.master import make_jobs

    X, y = make_data(data)
    code = make_code(scheme, 6, s, seed=seed)
    jobs = make_jobs(code, X, y, make_model("logistic", l2=1e-4), NoDelay(), ())
    theta = np.zeros(X.shape[1])

    def messages(job, out: np.ndarray) -> None:
        for _ in job.run(0, theta, out):
            pass

    width = X.shape[1] + 1
    return [functools.partial(messages, job, np.zeros((code.parts, width))) for job in jobs]


def alone_compute_ms(calls: list) -> list[float]:
    """Each worker's messages of a round computed alone (in this process, nothing else running,
    one BLAS thread): median of 5 per worker (ms)."""
    return [median_ms(call, 5) for call in calls]


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def part_b(plan: Plan, engine: str, seed: int) -> dict[str, dict]:
    """naive (s=0), ignore, frc, cyclic (s=1) on the same data and stragglers; RuntimeError or
    TimeoutExpired when an mpiexec job fails."""
    data = replace(plan.straggler_data, seed=seed)
    out = {}
    for scheme in ("naive", "ignore", "frc", "cyclic"):
        s = 0 if scheme == "naive" else 1
        spec = JobSpec(engine, scheme, 6, s, data, plan.straggler_rounds, STRAGGLER_DELAY, seed)
        raw = run(spec)
        st = straggler_stats(raw)
        calls = round_messages(scheme, s, data, seed)
        alone = alone_compute_ms(calls)
        # the same round's work with no runtime: every worker but the straggler at once
        bare = together_ms(calls[1:], BARE_ROUNDS)
        out[scheme] = st | round_floor(raw, alone, st["master_cpu_ms"]) | {"bare_ms": bare}
    return out


def print_part_b(stats: dict[str, dict], plan: Plan, engine: str) -> bool:
    naive_mean = stats["naive"]["mean_ms"]
    rows = []
    for scheme, st in stats.items():
        rows.append(
            [
                scheme,
                "0" if scheme == "naive" else "1",
                fmt(st["mean_ms"]),
                fmt(st["median_ms"]),
                fmt(st["p95_ms"]),
                fmt(st["mean_ms"] / st["median_ms"], ".2f"),
                fmt(naive_mean / st["mean_ms"], ".2f"),
                fmt(st["alone_ms"]),
                fmt(st["cpu_cores_ms"]),
                fmt(st["floor_ms"]),
                fmt(st["mean_ms"] / st["floor_ms"], ".2f"),
                fmt(st["bare_ms"]),
                fmt(st["mean_ms"] / st["bare_ms"], ".2f"),
                fmt(st["w0_used_pct"], ".0f"),
                fmt(st["total_s"], ".2f"),
                fmt(st["other_load_pct"], ".0f"),
            ]
        )
    data = plan.straggler_data
    print_table(
        f"(b) stragglers on the {engine} engine: n=6, dense {data.m} x {data.d}, worker 0 +0.2 s "
        f"every round, {plan.straggler_rounds} rounds (all counted), GD",
        [
            "scheme",
            "s",
            "mean ms",
            "median ms",
            "p95 ms",
            "mean/median",
            "naive/mean",
            "alone ms",
            "CPU/cores ms",
            "floor ms",
            "mean/floor",
            "bare ms",
            "mean/bare",
            "w0 used %",
            "total s",
            "other load %",
        ],
        rows,
    )
    ok = True
    for scheme in CODED:
        st = stats[scheme]
        tail = st["mean_ms"] <= MEAN_OVER_MEDIAN_MAX * st["median_ms"]
        speed = st["mean_ms"] <= naive_mean / NAIVE_OVER_CODED_MIN
        floor = st["mean_ms"] <= FLOOR_RATIO_MAX * st["floor_ms"]
        ok &= tail and speed and floor
        CONSOLE.print(
            f"{verdict(floor)}  {scheme}: mean {st['mean_ms']:.1f} ms <= {FLOOR_RATIO_MAX} x the "
            f"round's floor {st['floor_ms']:.1f} ms"
        )
        CONSOLE.print(
            f"{verdict(tail)}  {scheme}: mean {st['mean_ms']:.1f} ms <= "
            f"{MEAN_OVER_MEDIAN_MAX} x median {st['median_ms']:.1f} ms"
        )
        CONSOLE.print(
            f"{verdict(speed)}  {scheme}: mean {st['mean_ms']:.1f} ms <= naive mean / "
            f"{NAIVE_OVER_CODED_MIN:.0f} = {naive_mean / NAIVE_OVER_CODED_MIN:.1f} ms"
        )
    return ok


# ----------------------------------------------------------------------------- part (c)

JOURNAL_TARGET_PCT = 1.0
JOURNAL_N, JOURNAL_REPEATS = 8, 3


def part_c(plan: Plan, engine: str, seed: int) -> dict:
    """Round times with and without the journal (interleaved), and the journal's direct cost."""
    at_target = [d for d in plan.data if d.d == OVERHEAD_TARGET_D]
    data = replace(at_target[0] if at_target else plan.data[0], seed=seed)
    walls: dict[bool, list[float]] = {False: [], True: []}
    cpus: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(JOURNAL_REPEATS):
        for journal in (False, True):
            spec = JobSpec(engine, "cyclic", JOURNAL_N, 1, data, plan.rounds, seed=seed,
                           journal=journal, checkpoint_every=10 if journal else None)  # fmt: skip
            raw = run(spec)
            walls[journal] += raw["wall_s"][plan.warmup :]
            cpus[journal] += raw["master_cpu_s"][max(plan.warmup, 1) :]
    return {
        "data": data,
        "wall_ms": {k: 1e3 * float(np.median(v)) for k, v in walls.items()},
        "cpu_ms": {k: 1e3 * float(np.median(v)) for k, v in cpus.items()},
        "append_ms": 1e3 * journal_append_s(JOURNAL_N),
        "rounds": len(walls[True]),
    }


def journal_append_s(n: int, rounds: int = 2000) -> float:
    """Seconds per round that the master spends journaling a round of n workers (median of 5
    loops of `rounds` appends, flush included)."""
    from gradcode.runtime.journal import Journal
    from gradcode.runtime.result import Result, RoundRecord

    rng = np.random.default_rng(0)
    record = RoundRecord(0, 0.1, rng.random(n), rng.random(n), tuple(range(n - 1)), 1e-15, 0.5)
    times = []
    with tempfile.TemporaryDirectory(prefix="gradcode-bench-") as folder:
        journal = Journal(Path(folder), Result({"parts": 1, "d": 10}))
        for _ in range(5):
            t0 = time.perf_counter()
            for t in range(rounds):
                journal.append(replace(record, round=t))
            times.append((time.perf_counter() - t0) / rounds)
        journal.close()
    return float(np.median(times))


def print_part_c(c: dict, engine: str) -> bool:
    off, on = c["wall_ms"][False], c["wall_ms"][True]
    diff_pct = 100.0 * (on - off) / off
    direct_pct = 100.0 * c["append_ms"] / off
    data = c["data"]
    print_table(
        f"(c) journal cost on the {engine} engine: cyclic n={JOURNAL_N} s=1, d={power10(data.d)}"
        f" ({data.label()}, m={data.m:,}), GD; {c['rounds']} rounds each, interleaved "
        f"x{JOURNAL_REPEATS}; checkpoint every 10 rounds",
        ["journal", "round ms (median)", "master CPU ms", "vs without %"],
        [
            ["off", fmt(off), fmt(c["cpu_ms"][False], ".2f"), ""],
            ["on", fmt(on), fmt(c["cpu_ms"][True], ".2f"), fmt(diff_pct, "+.2f")],
        ],
    )
    ok = direct_pct <= JOURNAL_TARGET_PCT
    CONSOLE.print(
        f"{verdict(ok)}  journaling a round (n={JOURNAL_N}, direct): {c['append_ms'] * 1e3:.1f} us"
        f" = {direct_pct:.3f}% of the median round (target < {JOURNAL_TARGET_PCT:.0f}%); "
        f"end to end the difference of medians is {diff_pct:+.2f}% (noise included)"
    )
    return ok


# ----------------------------------------------------------------------------- part (d)

SCALE_DATA = DataSpec("sparse", m=20_000, d=10_000_000, nnz=500)
SCALE_QUICK = DataSpec("sparse", m=2_000, d=1_000_000, nnz=100)


def part_d(quick: bool, engine: str, seed: int) -> dict:
    data = replace(SCALE_QUICK if quick else SCALE_DATA, seed=seed)
    raw = run(JobSpec(engine, "cyclic", 8, 1, data, 4 if quick else 12, seed=seed))
    st = overhead_stats(raw, 2)
    return {**st, "data": data, "rss_mb": raw["master_peak_rss_mb"]}


def print_part_d(rows: dict[str, dict]) -> None:
    table = []
    for engine, st in rows.items():
        if "error" in st:
            table.append([engine, "n/a", *[""] * 6])
            continue
        data = st["data"]
        table.append([engine, power10(data.d), f"{data.m:,} x {data.nnz}/row", fmt(st["wall_ms"]),
                      fmt(st["compute_ms"]), fmt(st["over_pct"], ".1f"),
                      fmt(st["master_cpu_ms"]), fmt(st["rss_mb"], ".0f")])  # fmt: skip
    print_table(
        "(d) scale: cyclic n=8 s=1, logistic, GD, sparse rows; medians after 2 warm-up rounds",
        ["engine", "d", "rows", "round ms", "compute ms", "overhead %", "master CPU ms",
         "master peak RSS MB"],
        table,
    )  # fmt: skip


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--engine",
        choices=("local", "mpi", "both"),
        default="local",
        help="engine(s) to measure (default: local)",
    )
    parser.add_argument(
        "--part", choices=("a", "b", "c", "d", "all"), default="all", help="run one part only"
    )
    parser.add_argument(
        "--n", type=int, action="append", help="part (a): only these n (repeat the option)"
    )
    parser.add_argument(
        "--d", type=float, action="append", help="part (a): only these d, e.g. 1e5 (repeatable)"
    )
    parser.add_argument("--one", metavar="SPEC", help=argparse.SUPPRESS)  # mpiexec child
    return parser.parse_args(argv)


def only(plan: Plan, n: list[int] | None, d: list[float] | None) -> Plan:
    """`plan` with part (a) cut to the n and d asked for (all where not asked)."""
    data = tuple(x for x in plan.data if d is None or x.d in {int(v) for v in d})
    n_values = tuple(x for x in plan.n_values if n is None or x in n)
    if not data or not n_values:
        raise SystemExit(
            f"--n {n} --d {d} select nothing: part (a) has n in {list(plan.n_values)} and d in "
            f"{[power10(x.d) for x in plan.data]}"
        )
    return replace(plan, data=data, n_values=n_values)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.one is not None:  # one configuration, on every rank of an mpiexec job
        spec = JobSpec.from_json(args.one)
        if spec.engine == "mpi":
            from gradcode.runtime.engines.mpi import serve_if_worker

            serve_if_worker()  # worker ranks serve rank 0, then exit here without loading data
        out = run_job(spec)
        if out is not None:
            print(JSON_TAG + json.dumps(out), flush=True)
        return 0
    plan = only(QUICK if args.quick else FULL, args.n, args.d)
    engines = ["local", "mpi"] if args.engine == "both" else [args.engine]
    start = print_header("gradcode runtime" + (" (quick)" if args.quick else ""))
    CONSOLE.print(f"mpi engine: {mpi_unavailable() or 'available'}; mpiexec: {mpiexec()}")
    ok = True
    if args.part in ("a", "all"):
        rows = part_a(plan, engines, args.seed)
        print_part_a(rows, plan)
        at_target = [st for _, data, _, st in rows if data.d >= OVERHEAD_TARGET_D]
        ok &= all("error" not in st and st["over_pct"] <= OVERHEAD_TARGET_PCT for st in at_target)
    for engine in engines if args.part in ("b", "all") else []:
        why = mpi_unavailable() if engine == "mpi" else None
        try:
            stats = part_b(plan, engine, args.seed) if why is None else {}
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            why = str(e)
        if why is None:
            ok &= print_part_b(stats, plan, engine)
        else:
            ok = False
            CONSOLE.print(f"(b) on the {engine} engine: not measured: {why}", markup=False)
    for engine in engines if args.part in ("c", "all") else []:
        why = mpi_unavailable() if engine == "mpi" else None
        if why is None:
            ok &= print_part_c(part_c(plan, engine, args.seed), engine)
        else:
            CONSOLE.print(f"(c) on the {engine} engine: not measured: {why}", markup=False)
    if args.part in ("d", "all"):
        scale = {}
        for engine in engines:
            why = mpi_unavailable() if engine == "mpi" else None
            try:
                scale[engine] = {"error": why} if why else part_d(args.quick, engine, args.seed)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                scale[engine] = {"error": str(e)}
        print_part_d(scale)
    CONSOLE.print(f"overall: {verdict(ok)}")
    print_footer(start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
