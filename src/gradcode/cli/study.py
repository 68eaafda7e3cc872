"""`gradcode study`: decoding error of approximate and exact codes against stragglers and load."""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ..experiments.plots import plot_study
from ..runtime.journal import prepare
from ..spec import int_ranges, split_specs
from ..study import DEFAULT_SCHEMES, Study, study
from .parsing import hidden_alias
from .tables import print_json, print_table, status


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("study", help="gradient error vs stragglers and load, with the bounds")
    p.add_argument("-n", type=int, default=24, help="workers")
    p.add_argument("--loads", default="2,3", help="partitions per worker: '2,3' or '2-5'")
    p.add_argument(
        "--stragglers", default="", help="t values: '0-12' or '0,2,4' (default: 9 up to n/2)"
    )
    p.add_argument("--samples", type=int, default=200, help="random straggler sets per point")
    p.add_argument("--schemes", default=",".join(DEFAULT_SCHEMES), help="comma-separated")
    hidden_alias(p, "--scheme", "schemes")
    p.add_argument("--seed", type=int, default=0, help="seed of the codes and straggler sets")
    p.add_argument("--at", type=int, help="stragglers of the error-vs-load panel (default ~n/4)")
    p.add_argument(
        "--out", type=Path, default=Path("study"), help="write OUT.csv, OUT.png and OUT.svg"
    )
    p.add_argument("--json", action="store_true", help="print the points as one JSON object")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    n = args.n
    ts = int_ranges(args.stragglers, "--stragglers") or sorted(
        {round(i * (n // 2) / 8) for i in range(9)}
    )
    loads, schemes = int_ranges(args.loads, "--loads"), split_specs(args.schemes)
    prepare(args.out.parent)  # OUT.csv and the figures are written after the work
    with status(f"decoding {args.samples} straggler sets per point"):
        result = study(n, loads, ts, samples=args.samples, seed=args.seed, schemes=schemes)
    if args.json:
        print_json({**asdict(result), "points": [asdict(p) for p in result.points]})
    else:
        show(result)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for line in result.skipped:
        err.print(f"skipped {line}", markup=False)
    if result.points:
        err.print(f"wrote {result.to_csv(args.out.with_suffix('.csv'))}")
        for path in plot_study(result, args.out, at=args.at):
            err.print(f"wrote {path}")
    return 0


def show(result: Study) -> None:
    """Mean error per (scheme, load) and t; below it the paper's bound, where one is claimed."""
    ts = sorted({p.stragglers for p in result.points})
    table = Table(
        "scheme",
        "load",
        "row",
        *(f"t={t}" for t in ts),
        title=f"error ||aᵀB-1ᵀ||²/k, n={result.n}, {result.samples} random straggler sets per t",
        title_justify="left",
    )
    for scheme, load in dict.fromkeys((p.scheme, p.load) for p in result.points):
        pts = [p for p in result.points if (p.scheme, p.load) == (scheme, load)]
        table.add_row(scheme, str(load), "mean", *(number(p.mean) for p in pts))
        if not pts[0].exact:
            table.add_row("", "", pts[0].bound_kind or "bound", *(number(p.bound) for p in pts))
    print_table(table, names=3)


def number(x: float) -> str:
    return "-" if math.isnan(x) else ("0" if x < 1e-12 else f"{x:.3g}")
