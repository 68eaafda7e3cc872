"""The one file format of results (real runs, comparisons, simulations): tidy CSV tables.

- `rounds.csv`: one row per (scheme, round); `ROUND_COLUMNS`, then any evaluated metrics
  (a comparison's test_loss, test_auc, test_acc).
- `workers.csv`: one row per (scheme, round, worker); `WORKER_COLUMNS`.

Round t is the t-th step, from 0: the starting parameters are not a round (a comparison keeps
its metrics there in `initial.csv`). A folder may hold several schemes (a comparison's tables:
its runs concatenated); a reader then picks one by the `scheme` column, never merging them.
A row a crash cut short (no line end) is not a row; a workers row counts only once rounds.csv
has its round (the journal writes workers rows first, so a round there has all its workers).

This module knows rows and cells; runtime/journal.py turns them into `RoundRecord`s and back.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

ROUND_COLUMNS = (
    "scheme",
    "round",
    "wall_s",
    "n_survivors",
    "survivors",
    "residual",
    "loss",
    "error",
    "messages",
    "stale",
    "stopped",
    "master_cpu_s",
    "corrupt",
    "flagged",
)
WORKER_COLUMNS = ("scheme", "round", "worker", "arrival_s", "compute_s", "used")


def cell(x):
    """A value as a CSV cell: NaN is an empty cell."""
    return "" if isinstance(x, float) and math.isnan(x) else x


def number(x: str) -> float:
    """A cell as a float: an empty cell is NaN."""
    return math.nan if x == "" else float(x)


def encode(rows: Iterable[Sequence]) -> str:
    """Rows as CSV text (each cell through `cell`)."""
    buf = io.StringIO()
    csv.writer(buf).writerows([cell(v) for v in row] for row in rows)
    return buf.getvalue()


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """(header, rows) of a CSV file, without a last line a crash cut short; ([], []) if absent."""
    if not path.is_file():
        return [], []
    text = path.read_text()
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def read_folder(folder: Path) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The complete rows of folder/rounds.csv and folder/workers.csv (workers rows of a round
    that rounds.csv lacks are dropped)."""
    rounds = read_rows(folder / "rounds.csv")[1]
    done = {(r.get("scheme", ""), r["round"]) for r in rounds}
    workers = [
        w for w in read_rows(folder / "workers.csv")[1] if (w.get("scheme", ""), w["round"]) in done
    ]
    return rounds, workers


def schemes_of(rows: Iterable[dict[str, str]]) -> list[str]:
    """The schemes of some rows, in order of first appearance ([] without a scheme column)."""
    return list(dict.fromkeys(r["scheme"] for r in rows if "scheme" in r))


def pick(rows: list[dict[str, str]], scheme: str, where: object) -> list[dict[str, str]]:
    """The rows of one scheme. Without `scheme`, the rows must hold at most one; a folder of
    several, or an unknown name, is a ValueError naming the schemes there."""
    names = schemes_of(rows)
    if not scheme:
        if len(names) > 1:
            raise ValueError(
                f"{where} holds {len(names)} schemes ({', '.join(names)}): pick one "
                f"(scheme=NAME; --trace-scheme NAME)"
            )
        return rows
    if scheme not in names:
        raise ValueError(f"{where} has no scheme {scheme!r}; schemes: {', '.join(names) or '-'}")
    return [r for r in rows if r["scheme"] == scheme]


def read_trace(path: str | Path, scheme: str = "") -> tuple[list[str], list[dict[str, str]]]:
    """(header, rows) of a trace: a CSV with columns round, worker and a time, or a results
    folder (its workers.csv); one scheme's rows (`pick`)."""
    p = Path(path)
    if p.is_dir():
        header = read_rows(p / "workers.csv")[0]
        rows = read_folder(p)[1]
    elif p.is_file():
        header, rows = read_rows(p)
    else:
        raise ValueError(f"trace file {path} does not exist")
    missing = [c for c in ("round", "worker") if c not in header]
    if missing or not rows:
        raise ValueError(f"trace {path} needs columns round, worker and a time, got {header}")
    return header, pick(rows, scheme, f"trace {path}")


def write_table(path: Path, columns: Sequence[str], rows: Iterable[dict]) -> None:
    """A whole table at once (rows as dicts; NaN as empty cells)."""
    path.write_text(encode([columns, *([r.get(c, math.nan) for c in columns] for r in rows)]))


def read_table(path: Path) -> list[dict]:
    """A whole table, each cell parsed: empty -> NaN, True/False, int, float, else text."""
    return [{k: _parse(v) for k, v in row.items()} for row in read_rows(path)[1]]


def _parse(v: str):
    if v == "":
        return math.nan
    if v in ("True", "False"):
        return v == "True"
    for kind in (int, float):
        try:
            return kind(v)
        except ValueError:
            pass
    return v
