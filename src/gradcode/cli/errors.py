"""One failure policy for every command: ``gradcode: error: WHAT (WHAT TO DO)`` on one line.

Exit statuses:
- 2: the command line, a config file or an input file is wrong (ValueError, a missing path);
- 1: the command is right but could not be carried out here: a missing optional dependency or
  mpiexec, an output folder that cannot be written, a run that failed;
- 128 + N: stopped by signal N (130: Ctrl-C).

Anything else is a bug and keeps its traceback; ``--traceback`` or ``GRADCODE_DEBUG=1`` shows the
traceback of the expected failures too.
"""

from __future__ import annotations

import os
import sys

from ..registry import MissingDependency
from ..runtime import Interrupted, JournalError, TrainingError

USAGE, FAILED = 2, 1


class CommandError(Exception):
    """An expected failure of a command: `what` went wrong, `fix` says what to do."""

    def __init__(self, what: str, fix: str, status: int = USAGE) -> None:
        super().__init__(f"{what} ({fix})")
        self.what, self.fix, self.status = what, fix, status


def debugging(argv: list[str]) -> bool:
    """Tracebacks wanted: ``--traceback`` anywhere on the command line or ``GRADCODE_DEBUG=1``."""
    return "--traceback" in argv or os.environ.get("GRADCODE_DEBUG", "") not in ("", "0")


def explain(e: BaseException, command: str) -> tuple[str, int] | None:
    """(one line, exit status) of an expected failure of `gradcode COMMAND`; None for a bug."""
    help_hint = f"see `gradcode {command} --help`"
    if isinstance(e, CommandError):
        return line(e.what, e.fix), e.status
    if isinstance(e, Interrupted):  # not an error: the run stopped where asked
        return f"gradcode: {e}", e.exit_status
    if isinstance(e, KeyboardInterrupt):
        return "gradcode: interrupted", 130
    if isinstance(e, MissingDependency):
        return line(e.what, e.fix), FAILED
    if isinstance(e, JournalError):
        fix = "give --out a folder you can write, on a disk with free space"
        return line(e.strerror or str(e), fix), FAILED
    if isinstance(e, TrainingError):
        return line(f"training failed: {e}", "partial results are in the output folder"), FAILED
    if isinstance(e, (FileNotFoundError, NotADirectoryError, IsADirectoryError)):
        return line(f"{e.filename or e}: {e.strerror or e}", "check the path"), USAGE
    if isinstance(e, OSError):
        return line(f"{e.filename or e}: {e.strerror or e}", "check the file or folder"), FAILED
    if isinstance(e, ValueError):
        return line(str(e), help_hint), USAGE
    return None


def line(what: str, fix: str) -> str:
    """``gradcode: error: WHAT (FIX)`` on one line; a `what` ending in ")" says what to do."""
    what = " ".join(what.split())
    return f"gradcode: error: {what}" + ("" if what.endswith(")") else f" ({fix})")


def report(text: str) -> None:
    """Write a failure's line to stderr (plain text: messages may hold [brackets])."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
