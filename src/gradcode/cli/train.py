"""`gradcode train`: coded distributed gradient descent, results written to an output folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..codes import SCHEMES, make_code
from ..data import gaussian_mixture
from ..delays import parse_delay
from ..models import LAZY_MODELS, MODELS, make_model
from ..optim import OPTIMIZERS, make_optimizer
from ..runtime import TrainingError, parse_fault, train
from ..runtime.engines import ENGINES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train with a gradient code on the local or MPI engine")
    p.add_argument(
        "--scheme",
        default="cyclic",
        help=f"one of: {', '.join(SCHEMES)}, with parameters as NAME:KEY=VALUE (partial-cyclic:P=4)",
    )
    p.add_argument("-n", type=int, default=6, help="number of workers")
    p.add_argument("-s", type=int, default=1, help="stragglers tolerated")
    p.add_argument("--seed", type=int, default=0, help="seed for the code, data and delays")
    p.add_argument("--data", type=Path, help="an .npz with X (dense) and y; default: synthetic")
    p.add_argument("--rows", type=int, default=12000, help="synthetic Gaussian-mixture rows")
    p.add_argument("--features", type=int, default=200, help="synthetic features")
    p.add_argument(
        "--model", default="logistic", help=f"one of: {', '.join([*MODELS, *LAZY_MODELS])}"
    )
    p.add_argument("--l2", type=float, default=1e-4, help="L2 penalty")
    p.add_argument("--optimizer", default="nesterov", help=f"one of: {', '.join(OPTIMIZERS)}")
    p.add_argument("--lr", type=float, default=0.5, help="learning rate")
    p.add_argument("--rounds", type=int, default=100)
    p.add_argument("--engine", default="local", help=f"one of: {', '.join(ENGINES)}")
    p.add_argument(
        "--delay", default="none", help="straggler model, e.g. 'fixed:workers=0;delay=0.2'"
    )
    p.add_argument("--fault", action="append", default=[], help="WORKER@ROUND[:kill|raise|hang]")
    p.add_argument(
        "--round-timeout",
        type=float,
        default=60.0,
        help="seconds before a round's missing workers are declared hung",
    )
    p.add_argument(
        "--deadline",
        type=float,
        help="seconds after a round's broadcast: then step with the best approximation that "
        "arrived (its error is recorded)",
    )
    p.add_argument(
        "--message-dtype",
        default="float64",
        choices=("float64", "float32"),
        help="element type of the workers' messages (float32 halves traffic; safe with binary "
        "and stream codes)",
    )
    p.add_argument(
        "--row-time", type=float, default=0.0, help="emulated seconds of work per data row"
    )
    p.add_argument("--record-params", action="store_true", help="save every round's parameters")
    p.add_argument("--out", type=Path, default=Path("runs/train"), help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def load_data(args: argparse.Namespace):
    if args.data is None:
        return gaussian_mixture(args.rows, args.features, seed=args.seed)
    if not args.data.is_file():
        raise ValueError(f"--data {args.data} does not exist")
    with np.load(args.data) as f:
        if "X" not in f or "y" not in f:
            raise ValueError(f"--data {args.data} must hold arrays X and y, got {sorted(f.files)}")
        return f["X"], f["y"]


def run(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    if args.engine == "mpi":
        from ..runtime.mpi_launch import in_mpi_world, relaunch_under_mpiexec

        if not in_mpi_world():
            return relaunch_under_mpiexec(args.n, list(argv or sys.argv[1:]))
        from ..runtime.engines.mpi import serve_if_worker

        serve_if_worker(args.n)  # worker ranks serve rank 0 until it exits, then SystemExit(0)
    code = make_code(args.scheme, args.n, args.s, seed=args.seed)
    model = make_model(args.model, l2=args.l2)
    opt = make_optimizer(args.optimizer, lr=args.lr)
    delay = parse_delay(args.delay, seed=args.seed)
    faults = [parse_fault(f) for f in args.fault]
    X, y = load_data(args)
    console = Console(stderr=True, highlight=False)
    with Progress(
        TextColumn(f"[bold]{code!r}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.5f}"),
        TimeElapsedColumn(),
        console=console,
        disable=args.quiet,
        transient=False,
    ) as bar:
        task = bar.add_task("train", total=args.rounds, loss=float("nan"))
        try:
            result = train(
                code,
                X,
                y,
                model=model,
                optimizer=opt,
                rounds=args.rounds,
                engine=args.engine,
                delay=delay,
                faults=faults,
                round_timeout=args.round_timeout,
                deadline=args.deadline,
                message_dtype=args.message_dtype,
                row_time=args.row_time,
                record_params=args.record_params,
                out=args.out,
                seed=args.seed,
                on_round=lambda r: bar.update(task, advance=1, loss=r.loss),
            )
        except TrainingError as e:
            console.print(f"[bold red]training failed:[/] {e}")
            console.print(f"partial results written to {args.out}")
            return 1
    wall = result.wall_s
    console.print(
        f"{len(wall)} rounds: median {np.median(wall) * 1e3:.1f} ms, mean {wall.mean() * 1e3:.1f} ms"
        f", p95 {np.percentile(wall, 95) * 1e3:.1f} ms; final loss {result.rounds[-1].loss:.6f}"
    )
    errors = np.array([r.error for r in result.rounds])
    if not code.exact or errors.max() > 1e-20:  # approximate, or a deadline cut a round short
        console.print(
            f"decoding error ||aᵀB-1||²/k: mean {errors.mean():.3g}, max {errors.max():.3g} "
            "(0: exact)"
        )
    if result.dead:
        console.print(f"dead workers (treated as stragglers): {sorted(result.dead)}")
    console.print(f"results written to {args.out}")
    return 0
