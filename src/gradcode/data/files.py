"""Readers for user-supplied files: svmlight/LIBSVM and numeric CSV, plus binary labels.

Every reader raises ``ValueError`` naming the file, the line (1-based, as an editor shows it) and
the problem, so a malformed file never surfaces as a bare numpy or csv traceback.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

Label = float | Sequence[float] | None


def _text_lines(path: str | Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not a UTF-8 text file ({e})") from None


def read_svmlight(
    path: str | Path, *, n_features: int | None = None, zero_based: bool | str = "auto"
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Read ``<label> <index>:<value> ...`` lines into (X as float64 CSR, raw labels y).

    Blank lines and ``# comments`` are skipped, ``qid:<n>`` tokens are ignored. Indices are
    1-based as in LIBSVM unless ``zero_based`` is True; ``"auto"`` takes them as 0-based only
    when an index 0 occurs. Indices within a line may come in any order but not repeat. The
    width is the largest index + 1 unless ``n_features`` asks for more.
    """
    if zero_based not in (True, False, "auto"):
        raise ValueError(f"zero_based must be True, False or 'auto', got {zero_based!r}")
    labels: list[float] = []
    indptr, indices, values = [0], [], []
    for lineno, line in enumerate(_text_lines(path), start=1):
        tokens = line.split("#", 1)[0].split()
        if not tokens:
            continue
        where = f"{path}, line {lineno}"
        labels.append(_number(tokens[0], f"{where}: label"))
        seen: set[int] = set()
        for token in tokens[1:]:
            if token.startswith("qid:"):
                continue
            idx, sep, val = token.partition(":")
            if not sep or not (idx.isascii() and idx.isdigit()):
                raise ValueError(f"{where}: expected <index>:<value>, got {token!r}")
            if int(idx) in seen:
                raise ValueError(f"{where}: feature index {idx} repeated")
            seen.add(int(idx))
            indices.append(int(idx))
            values.append(_number(val, f"{where}: value of feature {idx}"))
        indptr.append(len(indices))
    if not labels:
        raise ValueError(f"{path}: no data lines")
    idx = np.asarray(indices, dtype=np.int64)
    one_based = zero_based is False or (zero_based == "auto" and not (idx == 0).any())
    if one_based and (idx == 0).any():
        raise ValueError(f"{path}: feature index 0 in a file read as 1-based (zero_based=False)")
    idx -= int(one_based)
    width = int(idx.max()) + 1 if idx.size else 0
    if n_features is not None:
        if n_features < width:
            raise ValueError(f"{path}: n_features={n_features} but the file uses {width} features")
        width = n_features
    X = sp.csr_matrix(
        (np.asarray(values, dtype=np.float64), idx, np.asarray(indptr, dtype=np.int64)),
        shape=(len(labels), width),
    )
    X.sort_indices()
    return X, np.asarray(labels, dtype=np.float64)


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} is not a number: {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} is not finite: {text!r}")
    return value


@dataclass(frozen=True)
class Table:
    """Cells of a delimited text file with a header; ``lines[r]`` is row r's line number."""

    path: str
    header: list[str]
    rows: list[list[str]]
    lines: list[int]

    def array(self, dtype: type) -> np.ndarray:
        """All cells as one (m, c) array of ``dtype``; a bad cell is named by line and column."""
        try:
            out = np.array(self.rows, dtype=dtype)
        except (ValueError, OverflowError):
            out = None
        if out is not None and (out.dtype.kind != "f" or np.isfinite(out).all()):
            return out
        kind = "an integer" if np.dtype(dtype).kind in "iu" else "a finite number"
        for cells, lineno in zip(self.rows, self.lines, strict=True):
            for name, cell in zip(self.header, cells, strict=True):
                if not _converts(cell, dtype):
                    raise ValueError(
                        f"{self.path}, line {lineno}, column {name!r}: {cell!r} is not {kind}"
                    )
        raise AssertionError("unreachable: the conversion failed but every cell converts")


def _converts(cell: str, dtype: type) -> bool:
    try:
        return math.isfinite(float(np.array(cell, dtype=dtype)))
    except (ValueError, OverflowError):
        return False


def read_table(path: str | Path, *, delimiter: str = ",") -> Table:
    """A delimited text file with a header line; blank lines are skipped.

    Every row must have as many cells as the header; header names must be distinct.
    """
    numbered = [
        (lineno, [cell.strip() for cell in cells])
        for lineno, cells in enumerate(csv.reader(_text_lines(path), delimiter=delimiter), 1)
        if any(cell.strip() for cell in cells)
    ]
    if not numbered:
        raise ValueError(f"{path}: empty file (expected a header line)")
    (_, header), body = numbered[0], numbered[1:]
    if not body:
        raise ValueError(f"{path}: a header but no data rows")
    if len(set(header)) != len(header) or "" in header:
        raise ValueError(f"{path}: header names must be distinct and non-empty, got {header}")
    for lineno, cells in body:
        if len(cells) != len(header):
            raise ValueError(
                f"{path}, line {lineno}: {len(cells)} cells, but the header has {len(header)}"
            )
    return Table(str(path), header, [c for _, c in body], [n for n, _ in body])


def read_csv(
    path: str | Path, *, label: str | None = None, delimiter: str = ","
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A numeric CSV with a header: (X float64 (m, d), raw labels y, feature names).

    ``label`` names the label column (default: the last column); all other columns are features.
    """
    table = read_table(path, delimiter=delimiter)
    header = table.header
    label = header[-1] if label is None else label
    if label not in header:
        raise ValueError(f"{path}: no label column {label!r}; columns are {header}")
    if len(header) < 2:
        raise ValueError(f"{path}: need at least one feature column besides {label!r}")
    values = table.array(np.float64)
    j = header.index(label)
    features = [name for name in header if name != label]
    return np.delete(values, j, axis=1), values[:, j].copy(), features


def binarize_labels(y: np.ndarray, positive: Label = None) -> np.ndarray:
    """Raw labels as float64 in {0, 1}.

    ``positive`` (a value or a sequence of values) marks the positive class, one-vs-rest.
    With ``positive=None`` the labels must take at most two values: {0, 1} stay as they are,
    otherwise the larger value becomes 1 (so {-1, +1} maps to {0, 1}).
    """
    y = np.asarray(y, dtype=np.float64)
    if positive is not None:
        chosen = np.atleast_1d(np.asarray(positive, dtype=np.float64))
        return np.isin(y, chosen).astype(np.float64)
    values = np.unique(y)
    if values.size > 2:
        shown = ", ".join(f"{v:g}" for v in values[:5]) + (", ..." if values.size > 5 else "")
        raise ValueError(
            f"labels take {values.size} values ({shown}); pass positive=<value(s)> to choose "
            "the positive class"
        )
    if np.isin(values, (0.0, 1.0)).all():
        return y
    return (y == values[-1]).astype(np.float64)
