"""`gradcode ...`: thin subcommands that parse, call the library and print."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from . import advise, codes, compare, demo, simulate, study, train

COMMANDS = (codes, train, compare, demo, simulate, advise, study)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gradcode", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    try:
        return int(args.run(args, argv) or 0)
    except ValueError as e:  # bad input: one clear line, no traceback
        Console(stderr=True).print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        return 2
