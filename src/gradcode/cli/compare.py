"""`gradcode compare`, `gradcode plot DIR`, `gradcode report DIR`."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..examples import find_config
from ..experiments.config import CompareConfig, load_config
from ..runtime import Interrupted
from ..runtime.journal import prepare
from ..spec import split_specs
from .errors import CommandError
from .options import add_dataset_options, add_run_options, dataset_params, run_options
from .parsing import hidden_alias
from .tables import print_json, print_table


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="run several schemes under the same stragglers and compare")
    p.add_argument("--config", type=Path, help="a TOML file; command-line options override it")
    p.add_argument(
        "--schemes", help=f"comma-separated (default: {','.join(CompareConfig.schemes)})"
    )
    hidden_alias(p, "--scheme", "schemes")
    p.add_argument("-n", type=int, help=f"workers (default: {CompareConfig.n})")
    p.add_argument(
        "-s",
        type=int,
        help=f"stragglers tolerated by the coded schemes (default: {CompareConfig.s})",
    )
    add_dataset_options(p, f"default: {CompareConfig.dataset}")
    p.add_argument("--target-auc", type=float, help="default: 99%% of naive's final test AUC")
    add_run_options(p, "compare")
    p.add_argument("--out", type=Path, default=Path("runs/compare"), help="output folder")
    p.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="continue the comparison in DIR (its config.toml, then the options given here): "
        "finished schemes are kept, the interrupted one resumes at its checkpoint",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(run=run_compare)
    plot = sub.add_parser("plot", help="draw the figures of a saved comparison or run")
    plot.add_argument("dir", type=Path, help="a comparison's or a run's folder")
    plot.set_defaults(run=run_plot)
    report = sub.add_parser(
        "report", help="write one self-contained HTML report of a comparison or run"
    )
    report.add_argument("dir", type=Path, help="a comparison's or a run's folder")
    report.set_defaults(run=run_report)


def run_plot(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    from ..experiments import load_folder
    from ..experiments.plots import draw

    folder = load_folder(args.dir)
    prepare(args.dir)  # the figures go into it: checked before any is drawn
    for path in draw(folder, args.dir):
        print(path)
    return 0


def run_report(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    from ..experiments import write_report

    if args.dir.is_dir():
        prepare(args.dir)  # the report goes into it
    print(write_report(args.dir))
    return 0


def config_from(args: argparse.Namespace) -> CompareConfig:
    params = dataset_params(args)
    if args.config is not None:
        args.config = find_config(args.config)  # a file, or a shipped example's name
    if args.config is not None and not args.config.is_file():
        raise CommandError(f"config file {args.config} does not exist", "check the path")
    try:
        return _load(args, params)
    except ValueError as e:
        if args.config is None:
            raise
        raise CommandError(str(e), f"fix {args.config} or the options given") from None


def _load(args: argparse.Namespace, params: dict | None) -> CompareConfig:
    return load_config(
        args.config,
        schemes=split_specs(args.schemes) if args.schemes else None,
        n=args.n,
        s=args.s,
        dataset=args.dataset,
        dataset_params=params,
        target_auc=args.target_auc,
        **run_options(args),
    )


def run_compare(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    from ..experiments import compare, write_report

    if args.resume is not None:
        if args.config is not None:
            raise ValueError("--resume DIR reads DIR/config.toml: leave out --config")
        args.config, args.out = args.resume / "config.toml", args.resume
        if not args.config.is_file():
            raise ValueError(f"--resume {args.resume}: no config.toml there (not a comparison)")
    config = config_from(args)
    prepare(args.out)  # before any scheme trains
    console = Console(highlight=False, stderr=True)
    with Progress(
        TextColumn("{task.description:>10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=args.quiet,
    ) as bar:
        tasks = {name: bar.add_task(name, total=config.rounds) for name in config.schemes}
        try:
            c = compare(
                config,
                out=args.out,
                resume=args.resume is not None,
                on_round=lambda name, r: bar.advance(tasks[name]),
            )
        except Interrupted as e:
            bar.stop()
            Console(stderr=True, highlight=False).print(
                f"gradcode: {e}; finished schemes and the journal of the current one are in "
                f"{args.out}; resume with: gradcode compare --resume {args.out}",
                soft_wrap=True,
            )
            return e.exit_status
    report = write_report(args.out)
    if args.json:
        print_json({"config": c.config.to_dict(), "summary": c.summary})
    else:
        print_summary(c)
    console.print(
        f"results in {args.out}/ (rounds.csv, workers.csv, initial.csv, summary.csv, config.toml, "
        "runs/, figures)",
        soft_wrap=True,
    )
    console.print(f"report: {report}")
    return 0


def print_summary(c, console: Console | None = None) -> None:
    """The summary table (stdout, or `console`), and a warning when the target was met at once."""
    target = c.summary[0]["target_auc"]
    t = Table(
        title=f"n={c.config.n}, s={c.config.s}, {c.config.rounds} rounds, delays {c.config.delay}"
    )
    for col in SUMMARY_COLUMNS + (f"time to AUC {target:.4g}",):
        t.add_column(col, justify="left" if col == "scheme" else "right")
    for r in c.summary:
        ttt = r["time_to_target_s"]
        t.add_row(
            r["scheme"],
            str(r["s"]),
            f"{r['mean_ms']:.1f} ms",
            f"{r['median_ms']:.1f} ms",
            f"{r['p95_ms']:.1f} ms",
            f"{r['speedup_vs_naive']:.2f}x",
            f"{r['final_train_loss']:.5f}",
            f"{r['final_test_loss']:.5f}",
            f"{r['final_test_auc']:.4f}",
            "never" if ttt != ttt else ("0 (at start)" if ttt == 0 else f"{ttt:.2f} s"),
        )
    print_table(t, file=None if console is None else console.file)
    at_start = [r["scheme"] for r in c.summary if r["time_to_target_s"] == 0]
    if at_start:
        Console(stderr=True, highlight=False).print(
            f"[bold yellow]warning:[/] the starting model already has test AUC >= {target:.4g}: "
            f"time to target is 0 for {', '.join(at_start)} and says nothing about speed; "
            "pass a higher --target-auc",
            soft_wrap=True,
        )


SUMMARY_COLUMNS = (
    "scheme",
    "s",
    "mean",
    "median",
    "p95",
    "speedup",
    "train loss",
    "test loss",
    "test AUC",
)
