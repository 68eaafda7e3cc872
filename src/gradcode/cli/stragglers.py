"""`gradcode stragglers DIR`: who straggled, how often, by how much, and whether persistently."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from rich.table import Column, Table

from ..experiments.stragglers import COLUMNS, LEVEL, Attribution, attribute, read_runs
from ..records import encode
from .errors import CommandError
from .tables import _strict, print_table

FORMATS = ("table", "csv", "json")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stragglers", help="per worker of a run: straggling rate, slowdown, persistent or not"
    )
    p.add_argument("dir", type=Path, help="a run's, a comparison's or a saved simulation's folder")
    p.add_argument("--scheme", default="", help="one scheme of a comparison (default: each)")
    p.add_argument(
        "-s", type=int, help="stragglers counted per round (default: the run's s, at least 1)"
    )
    p.add_argument(
        "--level",
        type=float,
        default=LEVEL,
        help="family-wise error of the verdicts if stragglers were i.i.d. (default: %(default)s)",
    )
    p.add_argument("--format", choices=FORMATS, default="table", help="default: %(default)s")
    p.add_argument("--out", type=Path, help="write the csv or json to FILE, not stdout")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    if not args.dir.exists():
        raise CommandError(f"{args.dir} does not exist", "give a run's or a comparison's folder")
    if not args.dir.is_dir():
        raise CommandError(f"{args.dir} is not a folder", "give a run's or a comparison's folder")
    if args.out is not None and args.format == "table":
        raise CommandError("--out writes csv or json", "add --format csv or --format json")
    runs = read_runs(args.dir)
    if args.scheme:
        if args.scheme not in runs:
            names = ", ".join(runs) or "-"
            raise CommandError(f"{args.dir} has no scheme {args.scheme!r}", f"one of: {names}")
        runs = {args.scheme: runs[args.scheme]}
    found = [attribute(r, s=args.s, level=args.level) for r in runs.values()]
    if args.format == "table":
        for a in found:
            show(a)
        return 0
    text = to_csv(found) if args.format == "csv" else to_json(found)
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text)
    return 0


def to_csv(found: list[Attribution]) -> str:
    """One row per (scheme, worker): a scheme column, then `COLUMNS`; NaN as empty cells."""
    rows = [[a.scheme, *(row[c] for c in COLUMNS)] for a in found for row in a.rows()]
    return encode([("scheme", *COLUMNS), *rows])


def to_json(found: list[Attribution]) -> str:
    """One strict JSON document: per scheme the rule's parameters and the workers."""
    doc = [
        {
            "scheme": a.scheme, "n": a.n, "s": a.s, "rounds": a.rounds, "p0": a.p0,
            "level": a.level, "persistent": a.persistent, "workers": a.rows(),
        }
        for a in found
    ]  # fmt: skip
    return json.dumps(_strict(doc), indent=2) + "\n"


def show(a: Attribution, top: int | None = None) -> None:
    """A table of the workers, slowest first (the first `top`)."""
    title = (
        f"{a.scheme}: n={a.n}, {a.rounds} rounds, the {a.s} slowest or missing per round "
        f"straggle; i.i.d. rate p0={a.p0:.3g}; persistent: binomial p < {a.level:g}/n"
    )
    table = Table(
        Column("worker", justify="right"), "rounds", "straggled", "rate", "median slowdown",
        "p90 slowdown", "compute slowdown", "missing", "p-value", "lag-1 autocorr", "verdict",
        title=title, title_justify="left",
    )  # fmt: skip
    for row in a.rows()[:top]:
        table.add_row(*cells(row))
    print_table(table)
    if a.persistent:
        print(f"persistent stragglers: {', '.join(map(str, a.persistent))}")


def cells(row: dict) -> list[str]:
    """A worker's row as text, in the order of `COLUMNS`."""
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


def _times(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.2f}x"
