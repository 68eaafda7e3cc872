"""`gradcode ...`: thin subcommands that parse, call the library and print."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from .. import __version__
from . import advise, cache, codes, compare, demo, examples, simulate, stragglers, study, train
from .errors import debugging, explain, report
from .parsing import Parser
from .shell import warn_shell_split

COMMANDS = (codes, train, compare, demo, simulate, advise, stragglers, study, examples, cache)


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="gradcode",
        description=__doc__,
        epilog="Failures print one line `gradcode: error: WHAT (WHAT TO DO)` and exit 2 (bad "
        "command line, config or input) or 1 (the run failed); 128+N when stopped by signal N.",
    )
    p.add_argument("--version", action="version", version=f"gradcode {__version__}")
    p.add_argument(
        "--traceback",
        action="store_true",
        help="show the traceback of a failure (also GRADCODE_DEBUG=1); allowed anywhere",
    )
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = debugging(argv)
    if "--traceback" in argv:
        os.environ["GRADCODE_DEBUG"] = "1"  # and in the ranks an mpi run relaunches
        argv = [a for a in argv if a != "--traceback"]
    try:
        args = parser().parse_args(argv)
    except SystemExit as e:  # --help, --version, or a usage error already printed
        return e.code if isinstance(e.code, int) else 0
    command = " ".join(filter(None, (args.command, getattr(args, "codes_command", None))))
    try:
        warn_shell_split(argv)
        return int(args.run(args, argv) or 0)
    except BrokenPipeError:  # the reader went away (`gradcode ... | head`): nothing to say
        with contextlib.suppress(OSError):  # no second error at interpreter exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except BaseException as e:  # noqa: BLE001 - sorted by the one policy in errors.py
        shown = isinstance(e, SystemExit) or (debug and not isinstance(e, KeyboardInterrupt))
        explained = None if shown else explain(e, command)
        if explained is None:
            raise
        text, status = explained
        report(text)
        return status
