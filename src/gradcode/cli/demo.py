"""`gradcode demo`: a short tour of the codes, then the paper's comparison on this machine."""

from __future__ import annotations

import argparse

from rich.console import Console

from ..codes import make_code
from ..codes.verify import verify
from ..runtime.journal import prepare
from .codes import show, summary
from .tables import print_json

TOUR = [("frc", 6, 2), ("cyclic-mds", 7, 2)]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="a tour of two codes, then a compare of every scheme (~1 min)")
    p.add_argument("--rounds", type=int, default=100, help="rounds of the comparison")
    p.add_argument("--out", default="runs/demo", help="output folder of the comparison")
    p.add_argument("--json", action="store_true", help="print the codes and summary as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    from ..experiments import compare, load_config, write_report
    from ..experiments.config import EC2_DELAY
    from .compare import print_summary

    out = Console(highlight=False, stderr=args.json)  # stdout holds the JSON alone
    config = load_config(
        None, rounds=args.rounds, lr=1.0, delay=EC2_DELAY, dataset_params={"rows": 8000}
    )  # the paper's setup (examples/paper_n10_s1.toml)
    prepare(args.out)
    tour = []
    for name, n, s in TOUR:
        code = make_code(name, n, s)
        v = verify(code)
        tour.append(summary(code, v))
        if not args.json:
            out.rule(f"gradcode codes show {name} -n {n} -s {s}")
            show(code, v, tour[-1])
    out.rule(f"gradcode compare: n={config.n}, s={config.s}, EC2-like stragglers ({config.delay})")
    with out.status("training naive, ignore, frc, cyclic, cyclic-mds on the same stragglers..."):
        c = compare(config, out=args.out)
    if args.json:
        print_json({"codes": tour, "compare": {"config": config.to_dict(), "summary": c.summary}})
    else:
        print_summary(c)
    out.print(f"report: {write_report(args.out)}")
    return 0
