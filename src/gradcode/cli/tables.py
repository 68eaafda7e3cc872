"""What commands print: tables that never cut a cell short with "…" (piped, as wide as they
need; on a narrow terminal the name columns keep their width and the other cells wrap), and
strict JSON."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


def print_table(table: Table, names: int = 1, *, file=None) -> None:
    """Print `table` to stdout (or `file`); its first `names` columns are never wrapped or cut."""
    file = file or sys.stdout
    for column in table.columns[:names]:
        cells = [str(c) for c in column.cells] + [str(column.header)]
        column.no_wrap, column.min_width = True, max(map(len, cells))
    for column in table.columns[names:]:
        column.overflow = "fold"
    probe, wide = Console(file=file, highlight=False), Console(width=10_000, highlight=False)
    natural = Measurement.get(wide, wide.options, table).maximum
    width = probe.width if probe.is_terminal else natural  # piped: as wide as the table wants
    if natural > width:  # a narrow terminal: no vertical rules, one space between columns
        table.box, table.pad_edge, table.padding = box.SIMPLE_HEAD, False, (0, 1, 0, 0)
    Console(file=file, highlight=False, width=max(width, 20)).print(table)


def print_json(report: Any) -> None:
    """`report` as one strict JSON document on stdout (NaN and infinities as null)."""
    print(json.dumps(_strict(report), indent=2))


def _strict(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _strict(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_strict(v) for v in x]
    return x


def status(text: str):
    """A transient status line on stderr while something slow runs (nothing when piped)."""
    return Console(stderr=True, highlight=False).status(text)


@contextmanager
def progress(text: str) -> Iterator[Callable[[int, int], None]]:
    """A transient progress bar on stderr, advanced by the yielded `(done, total)` callback."""
    columns = (TextColumn(text), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(text, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)
