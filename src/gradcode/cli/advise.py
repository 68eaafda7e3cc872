"""`gradcode advise`: sweep schemes and s under a delay model or a trace, recommend the fastest."""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict

from rich.console import Console
from rich.table import Column, Table

from ..codes import SCHEMES
from ..experiments.advise import Advice, advise, notes
from ..experiments.plots import plot_advice
from ..runtime.journal import prepare
from ..spec import int_ranges, split_specs
from .parsing import hidden_alias
from .simulate import add_model_options, delay_from, ms, timing
from .tables import print_json, print_table, status


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("advise", help="recommend a scheme and s for a delay model or a trace")
    p.add_argument("--schemes", default=",".join(SCHEMES), help="comma-separated schemes")
    hidden_alias(p, "--scheme", "schemes")
    p.add_argument("-s", dest="s_values", default="0-8", help="s values: '0-4' or '0,1,3'")
    hidden_alias(p, "--s", "s_values")
    p.add_argument(
        "--allow-inexact",
        action="store_true",
        help="let approximate codes (ignore, expander, ...) be recommended",
    )
    add_model_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    delays, n, rounds = delay_from(args, 2000)
    if args.plot is not None:
        prepare(args.plot.parent)  # the figures are written after the sweep: checked first
    with status(f"simulating every scheme and s, {rounds} rounds each"):
        advice = advise(
            n,
            delays,
            schemes=split_specs(args.schemes),
            s_values=[s for s in int_ranges(args.s_values, "-s") if 0 <= s < n],
            rounds=rounds,
            seed=args.seed,
            exact_only=not args.allow_inexact,
            **timing(args),
        )
    if args.json:
        report = {
            "n": advice.n,
            "delays": advice.delays,
            "rounds": rounds,
            "best_mean": asdict(advice.best_mean),
            "best_p95": asdict(advice.best_p95),
            "points": [asdict(p) for p in advice.points],
            "skipped": list(advice.skipped),
            "bound_s": advice.bound,
            "work_proportional_share": advice.proportional,
            "work_proportional": advice.work_proportional,
            "notes": notes(advice),
        }
        print_json(report)
    else:
        show(advice, rounds)
    if args.plot is not None:
        for path in plot_advice(advice, args.plot):
            Console(stderr=True).print(f"wrote {path}", highlight=False)
    return 0


def show(advice: Advice, rounds: int) -> None:
    out = Console(highlight=False, soft_wrap=True)
    table = Table(
        Column("scheme", no_wrap=True),
        "s",
        "load",
        "data share",
        "exact",
        "mean ms",
        "median ms",
        "p95 ms",
        "closed-form mean ms",
        "mean / T*",
        title=f"n={advice.n}, {rounds} simulated rounds per configuration, delays {advice.delays}",
        title_justify="left",
    )
    for p in sorted(advice.points, key=lambda p: p.mean):
        table.add_row(
            p.scheme,
            str(p.s),
            str(p.load),
            f"{p.share:.3g}",
            "yes" if p.exact else "no",
            ms(p.mean),
            ms(p.median),
            ms(p.p95),
            ms(p.expected),
            ratio(p.mean, advice.bound),
        )
    print_table(table)
    for line in advice.skipped:
        out.print(f"not available for n={advice.n}: {line}")
    m, q = advice.best_mean, advice.best_p95
    out.print(f"[bold]recommended:[/] {m.scheme} s={m.s} (least mean round time {ms(m.mean)} ms)")
    out.print(f"[bold]least p95:[/]   {q.scheme} s={q.s} (p95 {ms(q.p95)} ms)")
    for line in notes(advice):
        out.print(line, markup=False)


def ratio(mean: float, bound: float) -> str:
    """mean / T* as 1.23x ("-": no bound)."""
    if not (math.isfinite(bound) and bound > 0):
        return "-"
    return "inf" if math.isinf(mean) else f"{mean / bound:.2f}x"
