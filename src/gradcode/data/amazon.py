"""Amazon Employee Access data: the paper's preprocessing, the Kaggle file and a synthetic twin.

Preprocessing (as in the gradient coding paper's code, after a Kaggle starter script), one code
path for the real file and the synthetic table:

1. label-encode each of the c categorical columns (codes 0..card-1, sorted by raw value);
2. add degree-2 interaction columns: the pair (a, b) of codes becomes one categorical value,
   label-encoded again, so a pair column's cardinality is the number of distinct pairs observed
   (no hashing, no collisions). ``interactions="paper"`` takes all pairs except
   ROLE_ROLLUP_1 x ROLE_ROLLUP_2 and ROLE_TITLE x ROLE_FAMILY, which the paper's code drops;
3. optionally a constant column (the paper appends one: it becomes the intercept feature);
4. one-hot encode every column into a float64 CSR matrix.

Width = sum of base cardinalities + sum of observed pair cardinalities (+ 1 for the intercept).
The vocabulary is fitted on all rows given (the whole file, before any train/test split), as in
the paper's code and common Kaggle practice; features seen only in test rows are zero in train.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from gradcode.data.files import read_table
from gradcode.data.synthetic import as_generator

AMAZON_LABEL = "ACTION"
AMAZON_COLUMNS = (
    "RESOURCE",
    "MGR_ID",
    "ROLE_ROLLUP_1",
    "ROLE_ROLLUP_2",
    "ROLE_DEPTNAME",
    "ROLE_TITLE",
    "ROLE_FAMILY_DESC",
    "ROLE_FAMILY",
    "ROLE_CODE",
)
# Distinct values per column in Kaggle's train.csv (32,769 rows): the synthetic default.
AMAZON_CARDINALITIES = (7518, 4243, 128, 177, 449, 343, 2358, 67, 343)
AMAZON_ROWS = 32769
# Employee profiles (manager and role columns) of the synthetic twin: calibrated so that the
# paper's setup gives the real file's feature count and test AUC (benchmarks/calibrate_amazon.py).
AMAZON_PROFILES = 9000
PAPER_EXCLUDED_PAIRS = frozenset(
    {("ROLE_ROLLUP_1", "ROLE_ROLLUP_2"), ("ROLE_TITLE", "ROLE_FAMILY")}
)
INTERACTIONS = ("paper", "all", "none")


def read_amazon_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Kaggle's Amazon Employee Access ``train.csv``: (raw int64 table (m, 9), y float64 in {0,1}).

    Columns are returned in :data:`AMAZON_COLUMNS` order whatever their order in the file;
    extra columns are ignored. ACTION is the label (1 = access approved).
    """
    table = read_table(path)
    missing = [c for c in (AMAZON_LABEL, *AMAZON_COLUMNS) if c not in table.header]
    if missing:
        raise ValueError(
            f"{path}: not an Amazon Employee Access train.csv, missing column(s) "
            f"{', '.join(missing)}; expected {AMAZON_LABEL},{','.join(AMAZON_COLUMNS)}"
        )
    wanted = (AMAZON_LABEL, *AMAZON_COLUMNS)
    values = table.array(np.int64)[:, [table.header.index(c) for c in wanted]]
    bad = np.flatnonzero((values[:, 0] != 0) & (values[:, 0] != 1))
    if bad.size:
        r = bad[0]
        raise ValueError(
            f"{path}, line {table.lines[r]}: {AMAZON_LABEL} must be 0 or 1, got {values[r, 0]}"
        )
    return values[:, 1:], values[:, 0].astype(np.float64)


def interaction_pairs(columns: Sequence[str], interactions: str = "paper") -> list[tuple[int, int]]:
    """Index pairs (a < b) of the degree-2 interaction columns: "paper", "all" or "none"."""
    if interactions not in INTERACTIONS:
        raise ValueError(f"interactions must be one of {INTERACTIONS}, got {interactions!r}")
    if interactions == "none":
        return []
    pairs = list(combinations(range(len(columns)), 2))
    if interactions == "all":
        return pairs
    return [(a, b) for a, b in pairs if (columns[a], columns[b]) not in PAPER_EXCLUDED_PAIRS]


def label_encode(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column, codes 0..card-1 in sorted order of the raw values; returns (codes, cards)."""
    codes = np.empty(table.shape, dtype=np.int64)
    cards = np.empty(table.shape[1], dtype=np.int64)
    for j in range(table.shape[1]):
        uniq, codes[:, j] = np.unique(table[:, j], return_inverse=True)
        cards[j] = uniq.size
    return codes, cards


def one_hot(codes: np.ndarray, cards: np.ndarray) -> sp.csr_matrix:
    """Label-encoded columns as a 0/1 float64 CSR matrix of width ``cards.sum()``."""
    m, c = codes.shape
    offsets = np.concatenate([[0], np.cumsum(cards)[:-1]])
    indices = (codes + offsets).ravel()
    indptr = np.arange(0, m * c + 1, c, dtype=np.int64)
    return sp.csr_matrix((np.ones(m * c), indices, indptr), shape=(m, int(cards.sum())))


def amazon_features(
    table: np.ndarray,
    columns: Sequence[str] = AMAZON_COLUMNS,
    *,
    interactions: str = "paper",
    intercept: bool = True,
) -> tuple[sp.csr_matrix, dict[str, Any]]:
    """The paper's preprocessing of a raw categorical table (see the module docstring).

    Returns (X, info): X is float64 CSR with exactly one 1 per encoded column in every row;
    info lists the encoded column names and their cardinalities (JSON-ready).
    """
    table = np.asarray(table)
    if table.ndim != 2 or table.shape[1] != len(columns) or table.shape[0] < 1:
        raise ValueError(
            f"table must have shape (m >= 1, {len(columns)}) to match columns, got {table.shape}"
        )
    codes, cards = label_encode(table)
    pairs = interaction_pairs(columns, interactions)
    names = list(columns) + [f"{columns[a]}*{columns[b]}" for a, b in pairs]
    if pairs:
        a, b = np.array(pairs).T
        pair_codes, pair_cards = label_encode(codes[:, a] * cards[b] + codes[:, b])
        codes, cards = np.hstack([codes, pair_codes]), np.concatenate([cards, pair_cards])
    if intercept:
        names.append("INTERCEPT")
        codes = np.hstack([codes, np.zeros((codes.shape[0], 1), dtype=np.int64)])
        cards = np.append(cards, 1)
    info = {"encoded_columns": names, "cardinalities": cards.tolist()}
    return one_hot(codes, cards), info


def amazon_synthetic_table(
    rows: int,
    *,
    seed: int | np.random.Generator,
    cardinalities: Sequence[int] = AMAZON_CARDINALITIES,
    zipf: float = 1.0,
    positive_rate: float = 0.94,
    density: float = 0.2,
    scale: float = 1.7,
    profiles: int = AMAZON_PROFILES,
) -> tuple[np.ndarray, np.ndarray]:
    """A raw categorical table shaped like the Amazon data and its labels: (table, y).

    Each row is an access request: a resource (column 0) asked for by an employee, whose other
    columns (manager and role: columns 1..c-1) come as one *profile*. There are ``profiles``
    profiles, each a tuple of values drawn independently per column with Zipf-like frequencies
    p_v ~ (v+1)^-zipf over 0..cardinalities[j]-1; a row draws its resource with the same law and
    its profile with Zipf-like frequencies over the profiles, so the same employees ask again
    and again, as in the real file. ``profiles=0`` draws every column of every row
    independently: with ``scale=1.5`` that is the generator before the calibration (pair
    features are then mostly unique to one row: 520,535 features at the real size, and most of
    the label's signal sits on them: test AUC 0.743 under the paper's setup).

    Labels come from a sparse logistic model over the one-hot base and all pair-interaction
    features (see :func:`amazon_features`): each feature gets a N(0, scale^2) weight with
    probability ``density``, and the intercept is set so that the mean P(y=1) equals
    ``positive_rate`` (the real data has about 94% approvals). The defaults are calibrated to
    the real file under the paper's setup (benchmarks/calibrate_amazon.py): 236,490 features
    against its 241,915 and a final test AUC of 0.891 against its 0.897 (seed 0; 0.879-0.915
    over seeds 0-5).
    """
    _check_synthetic(rows, cardinalities, zipf, positive_rate, density, scale)
    if isinstance(profiles, bool) or not isinstance(profiles, Integral) or profiles < 0:
        raise ValueError(f"profiles must be an int >= 0 (0: independent columns), got {profiles!r}")
    rng = as_generator(seed)
    if profiles:
        resource = _zipf_column(rng, rows, cardinalities[0], zipf)
        people = [_zipf_column(rng, int(profiles), card, zipf) for card in cardinalities[1:]]
        pick = _zipf_column(rng, rows, int(profiles), zipf)
        table = np.column_stack([resource, *(column[pick] for column in people)])
    else:
        table = np.column_stack([_zipf_column(rng, rows, card, zipf) for card in cardinalities])
    X, _ = amazon_features(
        table, synthetic_columns(len(cardinalities)), interactions="all", intercept=False
    )
    w = np.where(rng.random(X.shape[1]) < density, rng.normal(0.0, scale, X.shape[1]), 0.0)
    z = X @ w
    from scipy.optimize import brentq  # slow to import: only when used

    bias = brentq(lambda b: expit(z + b).mean() - positive_rate, -50.0 - z.max(), 50.0 - z.min())
    y = (rng.random(rows) < expit(z + bias)).astype(np.float64)
    return table, y


def synthetic_columns(c: int) -> tuple[str, ...]:
    """Column names of a synthetic table: Amazon's names for 9 columns, else C1..Cc."""
    return AMAZON_COLUMNS if c == len(AMAZON_COLUMNS) else tuple(f"C{j + 1}" for j in range(c))


def _zipf_column(rng: np.random.Generator, rows: int, card: int, zipf: float) -> np.ndarray:
    p = np.arange(1, card + 1, dtype=np.float64) ** -zipf
    return rng.choice(card, size=rows, p=p / p.sum())


def _check_synthetic(
    rows: int,
    cardinalities: Sequence[int],
    zipf: float,
    positive_rate: float,
    density: float,
    scale: float,
) -> None:
    if rows < 2:
        raise ValueError(f"rows must be >= 2, got rows={rows}")
    if len(cardinalities) < 1 or any(int(c) != c or c < 1 for c in cardinalities):
        raise ValueError(
            f"cardinalities must be a non-empty sequence of ints >= 1, got {cardinalities!r}"
        )
    if not zipf >= 0:
        raise ValueError(f"zipf must be >= 0, got zipf={zipf!r}")
    if not 0 < positive_rate < 1:
        raise ValueError(f"positive_rate must satisfy 0 < positive_rate < 1, got {positive_rate!r}")
    if not 0 <= density <= 1:
        raise ValueError(f"density must satisfy 0 <= density <= 1, got density={density!r}")
    if not scale >= 0:
        raise ValueError(f"scale must be >= 0, got scale={scale!r}")
