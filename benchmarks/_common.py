"""Helpers shared by the decoding benchmarks: run header, codes, straggler sets, the paper's
decoder, timing and table output."""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from itertools import combinations

import numpy as np
import scipy
from numpy.typing import NDArray
from rich import box
from rich.console import Console
from rich.table import Table

import gradcode as gc
from gradcode.codes import GradientCode

Masks = NDArray[np.bool_]  # (sets, n): True for the workers that replied
Row = Sequence[str] | None  # a table row; None starts a new section

SCHEMES = ("frc", "cyclic", "cyclic-mds")
# Wide and colourless when piped, so the tables copy into BENCHMARKS.md unwrapped.
CONSOLE = Console(width=200, highlight=False)


def base_parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark takes (--quick, --seed)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small smoke run (seconds)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    return parser


def print_header(title: str) -> float:
    """Print the command line and the machine (numpy/scipy versions, BLAS, CPU count, load);
    return the start time for `print_footer`."""
    blas = np.__config__.CONFIG.get("Build Dependencies", {}).get("blas", {})
    threads = {k: v for k, v in os.environ.items() if k.endswith("_NUM_THREADS")}
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        f"command: {shlex.join([os.path.relpath(sys.executable), *sys.argv])}",
        f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"gradcode {gc.__version__}, BLAS {blas.get('name', '?')} {blas.get('version', '')}",
        f"cpu: {cpu_model()}; os.cpu_count()={os.cpu_count()}, "
        f"usable={len(os.sched_getaffinity(0))}; {platform.platform()}; "
        f"thread env: {threads or 'unset'}; load average (1/5/15 min) before the run: {load}",
    ]
    CONSOLE.rule(title)
    for line in lines:
        CONSOLE.print(line, markup=False)
    return time.perf_counter()


def print_footer(start: float) -> None:
    """Wall time since `start` and the load average now (other jobs on shared cores skew times)."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    CONSOLE.print(f"wall time {time.perf_counter() - start:.0f} s; load average now: {load}")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def available(name: str, n: int, s: int) -> bool:
    """Whether scheme `name` exists for (n, s): frc needs (s+1) | n, the cyclic codes any n."""
    return name != "frc" or n % (s + 1) == 0


def make_codes(n: int, s: int, seed: int, schemes: Sequence[str] = SCHEMES) -> list[GradientCode]:
    """The codes of `schemes` available for (n, s), in order."""
    return [gc.make_code(name, n, s, seed=seed) for name in schemes if available(name, n, s)]


def random_survivor_masks(n: int, s: int, count: int, rng: np.random.Generator) -> Masks:
    """`count` independent, uniformly random sets of exactly s stragglers (n-s survivors)."""
    stragglers = np.argsort(rng.random((count, n)), axis=1)[:, :s]
    masks = np.ones((count, n), dtype=bool)
    np.put_along_axis(masks, stragglers, False, axis=1)
    return masks


def all_survivor_masks(n: int, s: int) -> Masks:
    """Every one of the C(n, s) sets of s stragglers, in lexicographic order."""
    masks = np.ones((math.comb(n, s), n), dtype=bool)
    for row, stragglers in enumerate(combinations(range(n), s)):
        masks[row, list(stragglers)] = False
    return masks


def survivor_masks(n: int, s: int, count: int, rng: np.random.Generator) -> tuple[Masks, bool]:
    """All straggler sets when there are at most `count`, else `count` random ones; the flag says
    whether the sets are exhaustive."""
    if math.comb(n, s) <= count:
        return all_survivor_masks(n, s), True
    return random_survivor_masks(n, s, count, rng), False


def paper_decode(B: NDArray[np.float64], mask: NDArray[np.bool_]) -> NDArray[np.float64]:
    """The paper's per-round decoder: a least-squares solve of B_Fᵀ a_F = 1 over the survivors F
    (numpy's default cutoff, no residual check), zero elsewhere."""
    a = np.zeros(B.shape[0])
    a[mask] = np.linalg.lstsq(B[mask].T, np.ones(B.shape[1]), rcond=None)[0]
    return a


def seconds(fn: Callable[[], object]) -> float:
    """Wall time of one call of fn."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median over `repeats` calls of fn's wall time."""
    return float(np.median([seconds(fn) for _ in range(repeats)]))


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def fmt(x: float, spec: str | None = None) -> str:
    """A number for a table cell: one decimal below 100, none above (thousands separated), or
    `spec`; NaN (not measured) prints as '-'."""
    if math.isnan(x):
        return "-"
    return format(x, spec or (".1f" if abs(x) < 100 else ",.0f"))


def print_table(title: str, columns: Sequence[str], rows: Sequence[Row], left: int = 1) -> None:
    """A table, right-aligned but for its first `left` columns; a None row starts a section."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i < left else "right")
    for row in rows:
        if row is None:
            table.add_section()
        else:
            table.add_row(*row)
    CONSOLE.print(table)


def median_ms(fn: Callable[[], object], calls: int) -> float:
    """Median wall time of `calls` calls of fn, in this process (ms)."""
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def _serve(fn: Callable[[], object], conn) -> None:
    while conn.recv():
        fn()
        conn.send(1)


def together_ms(fns: Sequence[Callable[[], object]], rounds: int) -> float:
    """Median time (ms, first 2 rounds dropped) until all of `fns` are done when started at
    once, each in a forked process of its own woken by a pipe, as a round's workers are: what
    the machine itself takes for that work, with no framework around it."""
    ctx = mp.get_context("fork")
    links, procs = [], []
    for fn in fns:
        here, there = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(fn, there), daemon=True)
        proc.start()
        links.append(here)
        procs.append(proc)
    times = []
    try:
        for _ in range(rounds):
            t0 = time.perf_counter()
            for link in links:
                link.send(1)
            for link in links:
                link.recv()
            times.append(time.perf_counter() - t0)
    finally:
        for link in links:
            link.send(0)
        for proc in procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
    return 1e3 * float(np.median(times[2:]))
