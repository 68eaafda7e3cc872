"""`gradcode simulate`: simulated round-time distributions of schemes under a delay model."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ..codes import SCHEMES, make_code, needs_s
from ..delays import DelayModel, TraceDelay, parse_delay
from ..experiments.plots import plot_round_times
from ..runtime.journal import prepare
from ..simulate import expected_round_time, oracle_bound, simulate
from ..spec import split_specs
from .parsing import hidden_alias
from .tables import print_json, print_table, status


def add_model_options(p: argparse.ArgumentParser) -> None:
    """Options shared by `simulate` and `advise`: the delays and the timing model."""
    p.add_argument("-n", type=int, help="workers (default: the trace's workers)")
    p.add_argument(
        "--delay",
        default="none",
        help="delay model spec, e.g. pareto:alpha=1.5,scale=0.01 (',' between parameters is "
        "shell-safe; quote a ';')",
    )
    p.add_argument(
        "--trace",
        type=Path,
        help="replay per-(round, worker) times: a run's or comparison's folder, or a CSV",
    )
    p.add_argument(
        "--trace-scheme",
        default="",
        metavar="NAME",
        help="the scheme to replay of a folder holding several (a comparison)",
    )
    p.add_argument(
        "--trace-minus",
        default="",
        help="replay time minus this column (e.g. compute_s): delays only, compute re-simulated",
    )
    p.add_argument(
        "--trace-missing",
        type=float,
        default=math.inf,
        help="seconds for a reply the trace lacks (inf: never arrives that round)",
    )
    p.add_argument(
        "--rounds", type=int, help="rounds (default: the trace's; else 10000, advise 2000)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the codes and delays")
    p.add_argument(
        "--t-partition",
        type=float,
        default=0.01,
        help="compute s per partition (advise: per 1/n of the data, scaled to each code's k)",
    )
    p.add_argument("--comm", type=float, default=0.0, help="seconds added to every reply")
    p.add_argument("--overhead", type=float, default=0.0, help="master s per round (decode)")
    p.add_argument(
        "--link",
        help="uplink per worker: bytes/s, or rate=R,spread=X,latency=S,seed=N; each message "
        "costs its bytes / rate (needs --length)",
    )
    p.add_argument("--length", type=int, help="message vector length d (with --link)")
    p.add_argument(
        "--message-dtype", default="float64", choices=("float64", "float32"), help="with --link"
    )
    p.add_argument(
        "--carryover",
        action="store_true",
        help="chain rounds as the runtime does: a busy worker starts the next round late",
    )
    p.add_argument("--gap", type=float, default=0.0, help="s between rounds (with --carryover)")
    p.add_argument("--plot", type=Path, help="write a figure to PATH.png and PATH.svg")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="simulate round-time distributions of schemes")
    p.add_argument(
        "--schemes",
        default="naive,frc,cyclic",
        help=f"comma-separated, of: {', '.join(SCHEMES)} (naive and async always run with s=0)",
    )
    hidden_alias(p, "--scheme", "schemes")
    p.add_argument("-s", type=int, default=1, help="stragglers tolerated")
    add_model_options(p)
    p.set_defaults(run=run)


def delay_from(args: argparse.Namespace, rounds: int) -> tuple[DelayModel, int, int]:
    """(model, n, rounds) from --delay / --trace, -n and --rounds (default: `rounds`)."""
    if args.trace is not None:
        delays = TraceDelay(
            path=str(args.trace),
            minus=args.trace_minus,
            missing=args.trace_missing,
            scheme=args.trace_scheme,
        )
        n = delays.n if args.n is None else args.n
        rounds = delays.rounds if args.rounds is None else args.rounds
    else:
        delays = parse_delay(args.delay, seed=args.seed)
        if args.n is None:
            raise ValueError("pass -n (the number of workers), or --trace to replay one")
        n, rounds = args.n, rounds if args.rounds is None else args.rounds
    return delays, n, rounds


def timing(args: argparse.Namespace) -> dict:
    """`simulate` keyword arguments of the timing model."""
    return {
        "t_partition": args.t_partition,
        "comm": args.comm,
        "overhead": args.overhead,
        "carryover": args.carryover,
        "gap": args.gap,
        **(
            {"link": args.link, "length": args.length, "dtype": args.message_dtype}
            if args.link
            else {}
        ),
    }


def ms(x: float | None) -> str:
    return "-" if x is None else ("inf" if math.isinf(x) else f"{x * 1e3:.2f}")


def run(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    delays, n, rounds = delay_from(args, 10_000)
    names = split_specs(args.schemes)
    codes = [make_code(name, n, args.s if needs_s(name) else 0, seed=args.seed) for name in names]
    if args.plot is not None:
        prepare(args.plot.parent)  # the figure is written after the work: checked first
    sims, closed, bounds = [], [], []
    for code in codes:
        with status(f"simulating {code!r}, {rounds} rounds"):
            sims.append(simulate(code, delays, rounds, **timing(args)))
            bounds.append(
                oracle_bound(
                    code,
                    delays,
                    rounds,
                    t_partition=args.t_partition,
                    comm=args.comm,
                    overhead=args.overhead,
                )
            )
        closed.append(
            None
            if args.carryover or args.link
            else expected_round_time(
                code,
                delays,
                t_partition=args.t_partition,
                comm=args.comm,
                overhead=args.overhead,
            )
        )
    if args.json:
        rows = [
            {**sim.summary(), "expected_s": e, "bound_s": b}
            for sim, e, b in zip(sims, closed, bounds, strict=True)
        ]
        print_json({"delays": repr(delays), "simulations": rows})
    else:
        show(sims, closed, repr(delays), rounds, bounds)
    if args.plot is not None:
        for path in plot_round_times(sims, args.plot):
            Console(stderr=True).print(f"wrote {path}", highlight=False)
    return 0


def show(sims, closed, delays: str, rounds: int, bounds=None) -> None:
    """The simulations' table; `bounds`: each code's oracle bound T* (`simulate.bounds`)."""
    bounds = [None] * len(sims) if bounds is None else bounds
    table = Table(
        "scheme",
        "s",
        "load",
        "mean ms",
        "median ms",
        "p95 ms",
        "max ms",
        "closed-form mean ms",
        "T* ms",
        title=f"{rounds} simulated rounds, n={sims[0].n}, delays {delays}",
        title_justify="left",
    )
    for sim, e, b in zip(sims, closed, bounds, strict=True):
        table.add_row(
            sim.scheme,
            str(sim.s),
            str(sim.load),
            ms(sim.mean),
            ms(sim.median),
            ms(sim.p95),
            ms(float(sim.round_s.max())),
            ms(e),
            ms(b),
        )
    print_table(table)
    if any(b is not None for b in bounds):
        Console(highlight=False, soft_wrap=True).print(
            "T*: the oracle lower bound, total work over total speed (each worker's time to "
            "compute the whole data set alone, W t_partition x factor + extra, from the same "
            "draws): no exact code's mean is below it",
            markup=False,
        )
