"""`gradcode stragglers DIR`: who straggled, how often, by how much, and whether persistently."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Column, Table

from ..experiments.stragglers import (
    COLUMNS,
    HEADERS,
    LEVEL,
    NOTE,
    Attribution,
    attribute,
    formatted,
    read_runs,
    title,
)
from ..records import encode
from ..runtime.journal import atomic_write
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
    p.add_argument(
        "--format", choices=FORMATS, default="table", help="what to print (default: %(default)s)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object: --format json")
    p.add_argument(
        "--out", type=Path, metavar="FILE", help="write the csv or json to FILE, not stdout"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    if args.json:
        args.format = "json"
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
        atomic_write(args.out, lambda f: f.write(text.encode()))
        Console(stderr=True, highlight=False).print(f"wrote {args.out}")
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


def show(a: Attribution) -> None:
    """A table of the workers, slowest first, and the persistent ones."""
    table = Table(Column(HEADERS[0], justify="right"), *HEADERS[1:], title=title(a))
    table.title_justify = "left"
    for row in a.rows():
        table.add_row(*formatted(row))
    print_table(table)
    if a.persistent:
        print(f"persistent stragglers: {', '.join(map(str, a.persistent))}")
    print(NOTE)
