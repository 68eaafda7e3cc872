"""`gradcode demo`: a tour of the codes, then every scheme trained under the same straggler."""

from __future__ import annotations

import argparse

import numpy as np
from rich.console import Console
from rich.table import Table

from ..codes import make_code
from ..codes.verify import verify
from ..data import gaussian_mixture
from ..delays import FixedStragglers
from ..models import make_model
from ..runtime import train
from .codes import show, summary

TOUR = [("frc", 6, 2), ("cyclic", 6, 2), ("cyclic-mds", 7, 2)]
SCHEMES = [("naive", 0), ("ignore", 1), ("frc", 1), ("cyclic", 1), ("cyclic-mds", 1)]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="a two-minute tour: codes, then training with a straggler")
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--out", default="runs/demo")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    out = Console(highlight=False)
    for name, n, s in TOUR:
        out.rule(f"gradcode codes show {name} -n {n} -s {s}")
        code = make_code(name, n, s)
        v = verify(code)
        show(code, v, summary(code, v))
    n, delay_s = 6, 0.2
    out.rule(f"training: n={n} workers, worker 0 is {delay_s * 1e3:.0f} ms late every round")
    X, y = gaussian_mixture(6000, 100, seed=0)
    model = make_model("logistic", l2=1e-4)
    table = Table("scheme", "s", "median round", "mean round", "final loss", "exact")
    for name, s in SCHEMES:
        code = make_code(name, n, s)
        r = train(
            code,
            X,
            y,
            model=model,
            optimizer="nesterov",
            lr=0.5,
            rounds=args.rounds,
            delay=FixedStragglers(workers=(0,), delay=delay_s),
            out=f"{args.out}/{name}",
        )
        table.add_row(
            name,
            str(code.s),
            f"{np.median(r.wall_s) * 1e3:.1f} ms",
            f"{r.wall_s.mean() * 1e3:.1f} ms",
            f"{r.rounds[-1].loss:.6f}",
            "yes" if code.exact else "no",
        )
    out.print(table)
    out.print(f"per-round results in {args.out}/<scheme>/ (rounds.csv, workers.csv, result.json)")
    return 0
