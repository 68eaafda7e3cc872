"""`gradcode train`: coded distributed gradient descent, results written to an output folder."""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..codes import SCHEMES, make_code
from ..data import gaussian_mixture
from ..runtime import Interrupted, RunConfig, TrainingError, train
from ..runtime.journal import atomic_write, prepare
from .options import add_dataset_options, add_run_options, dataset_params, run_options

COMMAND = "command.json"  # the train command line that made a folder: what --resume re-reads


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train with a gradient code on the local or MPI engine")
    p.add_argument(
        "--scheme",
        default="cyclic",
        help=f"one of: {', '.join(SCHEMES)}, with parameters as NAME:KEY=VALUE,... "
        "(partial-cyclic:P=4)",
    )
    p.add_argument("-n", type=int, default=6, help="number of workers")
    p.add_argument("-s", type=int, default=1, help="stragglers tolerated")
    p.add_argument(
        "--data",
        type=Path,
        help="an .npz with X (dense or CSR) and y, read by each worker for its own rows where it "
        "is uncompressed (np.savez, gradcode.save_rows); default: synthetic",
    )
    add_dataset_options(p, "default: synthetic, --rows by --features")
    p.add_argument("--rows", type=int, default=12000, help="synthetic rows")
    p.add_argument("--features", type=int, default=200, help="synthetic features")
    add_run_options(p, "train")
    p.add_argument("--out", type=Path, default=Path("runs/train"), help="output folder")
    p.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="continue the run saved in DIR (its command line, then the options given here)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def load_data(args: argparse.Namespace, seed: int):
    if args.dataset_params and args.dataset is None:
        raise ValueError("--dataset-params needs --dataset NAME")
    if args.dataset is not None:
        if args.data is not None:
            raise ValueError("give --data FILE.npz or --dataset NAME, not both")
        from ..data import load_dataset

        ds = load_dataset(args.dataset, seed=seed, **(dataset_params(args) or {}))
        return ds.X_train, ds.y_train
    if args.data is None:
        return gaussian_mixture(args.rows, args.features, seed=seed)
    if not args.data.is_file():
        raise ValueError(f"--data {args.data} does not exist (give an .npz holding X and y)")
    try:
        from ..data.rows import NpzRows

        return NpzRows(args.data), None  # uncompressed: every worker reads its own rows
    except ValueError:
        pass  # compressed, or other member names: read here, as a whole (errors below)
    try:
        with np.load(args.data) as f:
            files = sorted(f.files)
            if "X" in files and "y" in files:
                return f["X"], f["y"]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(
            f"--data {args.data} is damaged or truncated, or not an .npz ({type(e).__name__}: {e})"
        ) from None
    raise ValueError(f"--data {args.data} must hold arrays X and y, got {files}")


def resumed(args: argparse.Namespace, argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """The arguments of a resume: the folder's saved command line, then the options given now
    (a later option wins; --fault adds to the saved ones); the folder is the output."""
    folder = args.resume
    path = folder / COMMAND
    if not path.is_file():
        raise ValueError(
            f"--resume {folder}: no {COMMAND} there (not a `gradcode train` folder; a run started "
            "from Python resumes with gc.train(..., resume=DIR))"
        )
    saved = json.loads(path.read_text())
    given = _without_resume(argv[argv.index("train") + 1 :] if "train" in argv else argv)
    p = argparse.ArgumentParser(prog="gradcode")
    register(p.add_subparsers(dest="command"))
    merged = ["train", *saved, *given]
    args = p.parse_args(merged)
    if not any(a == "--out" or a.startswith("--out=") for a in given):
        args.out = folder
    args.resume = folder
    return args, [*saved, *given]


def _without_resume(argv: list[str]) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--resume":
            skip = True
        elif not a.startswith("--resume="):
            out.append(a)
    return out


def run(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    options = _without_resume(argv[argv.index("train") + 1 :] if "train" in argv else argv)
    if args.resume is not None:
        args, options = resumed(args, argv)
    config = RunConfig.of(**run_options(args))
    if config.engine == "mpi":
        from ..runtime.mpi_launch import in_mpi_world, relaunch_under_mpiexec

        if not in_mpi_world():
            prepare(args.out)  # before mpiexec starts n+1 processes
            return relaunch_under_mpiexec(args.n, argv, out=args.out)
        from ..runtime.engines.mpi import serve_if_worker

        serve_if_worker(args.n)  # worker ranks serve rank 0 until it exits, then SystemExit(0)
    code = make_code(args.scheme, args.n, args.s, seed=config.seed)
    out = prepare(args.out)  # before the data are read and any worker starts
    X, y = load_data(args, config.seed)
    console = Console(stderr=True, highlight=False)
    text = json.dumps(options) + "\n"
    atomic_write(out / COMMAND, lambda f: f.write(text.encode()))
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
        task = bar.add_task("train", total=config.rounds, loss=float("nan"))
        try:
            result = train(
                code,
                X,
                y,
                config=config,
                out=args.out,
                resume=args.resume,
                on_round=lambda r: bar.update(task, advance=1, loss=r.loss),
            )
        except TrainingError as e:
            console.print(f"[bold red]training failed:[/] {e}")
            console.print(f"partial results written to {args.out}")
            return 1
        except Interrupted as e:
            bar.stop()
            console.print(
                f"gradcode: {e.result.error if e.result else e}; journal and checkpoint in "
                f"{args.out}; resume with: gradcode train --resume {args.out}",
                soft_wrap=True,
            )
            return e.exit_status
    wall = result.wall_s
    console.print(
        f"{len(wall)} rounds: median {np.median(wall) * 1e3:.1f} ms, mean {wall.mean() * 1e3:.1f} ms"
        f", p95 {np.percentile(wall, 95) * 1e3:.1f} ms; final loss {result.rounds[-1].loss:.6f}"
    )
    errors = np.array([r.error for r in result.rounds])
    if code.staleness is not None:  # asynchronous: no decode; staleness instead
        stale = [r.metrics.get("staleness_max", np.nan) for r in result.rounds]
        console.print(
            f"asynchronous, staleness bound T={code.staleness}: largest staleness "
            f"{np.nanmax(stale):.0f} clocks, {sum(r.messages for r in result.rounds)} messages applied"
        )
    elif not code.exact or errors.max() > 1e-20:  # approximate, or a deadline cut a round short
        console.print(
            f"decoding error ||aᵀB-1||²/k: mean {errors.mean():.3g}, max {errors.max():.3g} "
            "(0: exact)"
        )
    caught = sorted({i for r in result.rounds for i in r.corrupt})
    if caught:
        dropped = sum(bool(r.corrupt) for r in result.rounds)
        console.print(f"corrupt messages dropped in {dropped} rounds, from workers {caught}")
    if flagged := sum(r.flagged for r in result.rounds):
        console.print(
            f"{flagged} rounds flagged: corruption the code could not locate, not stepped on"
        )
    if result.dead:
        quarantined = sorted(i for i, why in result.dead.items() if why.startswith("quarantined"))
        console.print(f"dead workers (treated as stragglers): {sorted(result.dead)}")
        if quarantined:
            console.print(f"  of which quarantined for corrupt messages: {quarantined}")
    console.print(f"results written to {args.out}")
    return 0
