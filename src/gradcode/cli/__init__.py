"""`gradcode ...`: thin subcommands that parse, call the library and print."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from ..runtime import Interrupted, JournalError
from . import advise, cache, codes, compare, demo, examples, simulate, study, train

COMMANDS = (codes, train, compare, demo, simulate, advise, study, examples, cache)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gradcode", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        return int(args.run(args, argv) or 0)
    except ValueError as e:  # bad input: one clear line, no traceback
        console.print(f"[bold red]error:[/] {e}")
        return 2
    except JournalError as e:  # the output folder cannot be written
        console.print(f"[bold red]error:[/] {e.strerror}")
        return 1
    except Interrupted as e:  # a command without its own message for it
        console.print(f"gradcode: {e}")
        return e.exit_status
