"""The one argument table of the run options (RunConfig's fields), for `train` and `compare`.

Flags default to None (not given), so a RunConfig, a config file or a saved command line keeps
the values the user did not give; `--help` shows RunConfig's default of each."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from typing import Any

from ..attacks import ATTACKS
from ..delays import DELAYS
from ..models import MODEL_REGISTRY
from ..optim import OPTIMIZER_REGISTRY
from ..runtime.config import MESSAGE_DTYPES, RunConfig
from ..runtime.engines import ENGINES


@dataclass(frozen=True)
class Option:
    """One command-line flag of the RunConfig field `field`."""

    field: str
    flag: str
    help: str
    type: Callable[[str], Any] | None = str
    action: str = "store"  # or "append" (repeatable), "store_true"
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    compare: bool = True  # offered by `gradcode compare` (it sets the others itself)
    none: str = "none"  # what a default of None means, for --help


RUN_OPTIONS: tuple[Option, ...] = (
    Option("model", "--model", f"one of: {', '.join(MODEL_REGISTRY)}"),
    Option("l2", "--l2", "L2 penalty of a model given by name", float),
    Option("optimizer", "--optimizer", f"one of: {', '.join(OPTIMIZER_REGISTRY)}"),
    Option("lr", "--lr", "learning rate", float),
    Option("rounds", "--rounds", "rounds in all (of a resumed run too)", int),
    Option("engine", "--engine", "where the workers run", choices=tuple(ENGINES)),
    Option(
        "delay",
        "--delay",
        "straggler model, e.g. fixed:workers=0,delay=0.2 (',' between parameters is shell-safe; "
        f"quote a ';'); one of: {', '.join(DELAYS)}",
    ),
    Option(
        "faults",
        "--fault",
        "WORKER@ROUND[:kill|raise|hang]: a worker dies, raises or hangs; "
        "WORKER@ROUND:corrupt[=MODEL[:SCALE]]: from that round on it corrupts its messages, "
        f"MODEL one of {', '.join(ATTACKS)} (sign when left out) (repeatable)",
        action="append",
        metavar="WORKER@ROUND",
    ),
    Option(
        "round_timeout",
        "--round-timeout",
        "seconds before a round's missing workers are declared hung",
        float,
    ),
    Option(
        "deadline",
        "--deadline",
        "seconds after a round's broadcast: then step with the best approximation that arrived "
        "(its error is recorded)",
        float,
        none="none, wait until the code can decode",
    ),
    Option(
        "message_dtype",
        "--message-dtype",
        "element type of the workers' messages (float32 halves traffic; safe with binary and "
        "stream codes)",
        choices=MESSAGE_DTYPES,
    ),
    Option("row_time", "--row-time", "emulated seconds of work per data row", float),
    Option(
        "link",
        "--link",
        "emulated uplink per worker: bytes/s, or rate=R,spread=X,latency=S,seed=N (each "
        "message waits latency + bytes / rate)",
        none="none",
    ),
    Option(
        "eval_every",
        "--eval-every",
        "rounds between recorded training losses, decoded from the messages (0: none)",
        int,
        compare=False,
    ),
    Option(
        "record_params",
        "--record-params",
        "save every round's parameters",
        None,
        action="store_true",
        compare=False,
    ),
    Option(
        "checkpoint_every",
        "--checkpoint-every",
        "checkpoint every ROUNDS rounds and at every end (with an output folder)",
        int,
        metavar="ROUNDS",
        none="about every 30 s",
    ),
    Option("seed", "--seed", "seed of the code, the data, the delays and the corrupt faults", int),
    Option(
        "quarantine",
        "--quarantine",
        "rounds a worker is caught sending corrupt messages before it is treated as dead "
        "(0: never)",
        int,
        metavar="ROUNDS",
    ),
)


def add_run_options(p: argparse.ArgumentParser, command: str) -> None:
    """The table's flags on the parser of `command` ("train" or "compare")."""
    defaults = {f.name: f.default for f in fields(RunConfig) if f.default is not MISSING}
    for o in RUN_OPTIONS:
        if command == "compare" and not o.compare:
            continue
        default = defaults.get(o.field)
        shown = o.none if default is None or default == () else default
        kw: dict[str, Any] = {"type": o.type, "choices": o.choices, "metavar": o.metavar}
        if o.action == "store_true":
            kw = {}
        p.add_argument(
            o.flag,
            dest=o.field,
            action=o.action,
            default=None,
            help=f"{o.help} (default: {shown})".replace("%", "%%"),
            **kw,
        )


def add_dataset_options(p: argparse.ArgumentParser, default: str) -> None:
    """`--dataset NAME` and `--dataset-params JSON`, the same for `train` and `compare`."""
    from ..data import DATASETS

    p.add_argument("--dataset", help=f"a data set: {', '.join(DATASETS)} ({default})")
    p.add_argument(
        "--dataset-params",
        metavar="JSON",
        help="the data set's parameters, a JSON object, e.g. '{\"rows\": 5000}'",
    )


def dataset_params(args: argparse.Namespace) -> dict[str, Any] | None:
    """`--dataset-params` read as a JSON object (None when not given)."""
    if not args.dataset_params:
        return None
    try:
        params = json.loads(args.dataset_params)
    except json.JSONDecodeError as e:
        raise ValueError(f"--dataset-params must be a JSON object: {e}") from None
    if not isinstance(params, dict):
        raise ValueError(f"--dataset-params must be a JSON object, got {args.dataset_params!r}")
    return params


def run_options(args: argparse.Namespace) -> dict[str, Any]:
    """The run options the command line gave (the flags left out are not in it)."""
    given = {o.field: getattr(args, o.field, None) for o in RUN_OPTIONS}
    return {k: v for k, v in given.items() if v is not None}
