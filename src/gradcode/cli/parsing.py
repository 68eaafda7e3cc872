"""The argument parser every command is built on: defaults in `--help`, usage errors as one line."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from .errors import USAGE, line, report


class DefaultsFormatter(argparse.HelpFormatter):
    """Adds "(default: X)" to an option's help unless it says its default already or has none."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        quiet = default is None or default is False or default in ("", argparse.SUPPRESS)
        quiet = quiet or action.nargs == 0
        if "default" in text or quiet or not (action.option_strings or action.nargs == "?"):
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose subcommands share its formatter and whose errors are one line."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        report(line(message, f"see `{self.prog} --help`"))
        sys.exit(USAGE)


def hidden_alias(p: argparse.ArgumentParser, flag: str, dest: str, **kwargs) -> None:
    """An old spelling of an option, still accepted, left out of `--help`."""
    p.add_argument(flag, dest=dest, help=argparse.SUPPRESS, default=argparse.SUPPRESS, **kwargs)
