"""Named data sets for binary classification: ``load_dataset("amazon-synthetic", rows=5000)``.

Every entry of :data:`DATASETS` is a loader returning the full prepared data (:class:`Prepared`);
:func:`load_dataset` validates its parameters, splits rows into train/test with a seeded
permutation (80/20 by default, as in the paper), optionally standardises dense features with the
training statistics, and caches the result as npz under a key of everything that determines it.
"""

from __future__ import annotations

import json
import math
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from gradcode.arrays import Matrix, check_data
from gradcode.data import bundled, cache
from gradcode.data.amazon import (
    AMAZON_CARDINALITIES,
    AMAZON_COLUMNS,
    AMAZON_PROFILES,
    AMAZON_ROWS,
    amazon_features,
    amazon_synthetic_table,
    read_amazon_csv,
    synthetic_columns,
)
from gradcode.data.files import Label, binarize_labels, read_csv, read_svmlight
from gradcode.data.synthetic import gaussian_mixture
from gradcode.registry import Registry


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split of a binary task: y in {0, 1} float64; X float64 ndarray or CSR.

    ``meta`` is JSON-ready: name, params, seed, test_fraction, sizes and loader details.
    """

    name: str
    X_train: Matrix
    y_train: np.ndarray
    X_test: Matrix
    y_test: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    def __repr__(self) -> str:
        kind = "sparse" if sp.issparse(self.X_train) else "dense"
        return (
            f"<Dataset {self.name} train={self.X_train.shape[0]}x{self.n_features} "
            f"test={self.X_test.shape[0]} {kind}>"
        )


@dataclass(frozen=True, eq=False)
class Prepared:
    """What a loader returns: all rows before the split; ``standardize`` is applied after it."""

    X: Matrix
    y: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    standardize: bool = False
    groups: np.ndarray | None = None  # per row: a category the training rows are ordered by


def _gaussian(
    *, rng: np.random.Generator, rows: int = 10_000, d: int = 100, separation: float = 3.0
) -> Prepared:
    """The paper's synthetic data: two Gaussian components N(+-mu, I_d), ||2 mu|| = separation."""
    X, y = gaussian_mixture(rows, d, seed=rng, separation=separation)
    return Prepared(X, y)


def _amazon_synthetic(
    *,
    rng: np.random.Generator,
    rows: int = AMAZON_ROWS,
    cardinalities: Sequence[int] = AMAZON_CARDINALITIES,
    zipf: float = 1.0,
    positive_rate: float = 0.94,
    density: float = 0.2,
    scale: float = 1.7,
    profiles: int = AMAZON_PROFILES,
    interactions: str = "paper",
    intercept: bool = True,
    group_by: str = "",
) -> Prepared:
    """A categorical table shaped like Amazon's, preprocessed exactly like the real file
    (``profiles=0``: the generator before its calibration, independent columns); `group_by`:
    see `_grouped`."""
    columns = synthetic_columns(len(cardinalities))
    group = _group_column(columns, group_by)
    table, y = amazon_synthetic_table(
        rows,
        seed=rng,
        cardinalities=cardinalities,
        zipf=zipf,
        positive_rate=positive_rate,
        density=density,
        scale=scale,
        profiles=profiles,
    )
    X, info = amazon_features(table, columns, interactions=interactions, intercept=intercept)
    return Prepared(X, y, info, groups=None if group is None else table[:, group])


def _group_column(columns: Sequence[str], group_by: str) -> int | None:
    """The index of raw column `group_by` ("" for none: None). The training rows are then
    ordered by that column's category, the categories in a seeded random order, so the partitions cut from them
    hold whole categories (resources, managers) that no other worker sees, instead of a random
    share of the rows. Not the paper's cut (it shuffles): a persistent straggler then loses
    data nobody else has."""
    if not group_by:
        return None
    if group_by not in columns:
        raise ValueError(
            f"group_by must be one of the raw columns {', '.join(columns)} (or empty), "
            f"got group_by={group_by!r}"
        )
    return list(columns).index(group_by)


def _amazon(
    *, path: str, interactions: str = "paper", intercept: bool = True, group_by: str = ""
) -> Prepared:
    """Kaggle's Amazon Employee Access train.csv with the paper's preprocessing.

    On the real file (32,769 rows) the 80/20 split gives 26,215 training rows (the paper's
    26,210 is that number cut to a multiple of its 10 partitions) and 241,915 features, a
    positive rate of 0.942 and, under the paper's setup, a final test AUC of 0.8972 (measured on
    the real file elsewhere: it is not shipped; `amazon-synthetic` is calibrated to them).
    """
    group = _group_column(AMAZON_COLUMNS, group_by)
    table, y = read_amazon_csv(path)
    X, info = amazon_features(table, interactions=interactions, intercept=intercept)
    return Prepared(X, y, info, groups=None if group is None else table[:, group])


def _svmlight(
    *,
    path: str,
    n_features: int | None = None,
    zero_based: bool | str = "auto",
    positive: Label = None,
) -> Prepared:
    """An svmlight/LIBSVM file; see :func:`read_svmlight` and :func:`binarize_labels`."""
    X, y = read_svmlight(path, n_features=n_features, zero_based=zero_based)
    return Prepared(X, binarize_labels(y, positive))


def _csv(
    *,
    path: str,
    label: str | None = None,
    delimiter: str = ",",
    positive: Label = None,
    standardize: bool = False,
) -> Prepared:
    """A numeric CSV with a header; ``label`` names the label column (default: the last)."""
    X, y, features = read_csv(path, label=label, delimiter=delimiter)
    return Prepared(X, binarize_labels(y, positive), {"features": features}, standardize)


def _breast_cancer(*, standardize: bool = True) -> Prepared:
    """scikit-learn's breast cancer data; y = 1 for benign."""
    X, y, features = bundled.breast_cancer()
    return Prepared(X, y, {"features": features}, standardize)


def _digits(*, positive: Label = (5, 6, 7, 8, 9), standardize: bool = True) -> Prepared:
    """scikit-learn's 8x8 digits as a binary task: y = 1 for the ``positive`` digits (>= 5)."""
    X, digit = bundled.digits()
    return Prepared(X, binarize_labels(digit, positive), {}, standardize)


Loader = Callable[..., Prepared]

DATASETS: dict[str, Loader] = {
    "gaussian": _gaussian,
    "amazon-synthetic": _amazon_synthetic,
    "amazon": _amazon,
    "svmlight": _svmlight,
    "csv": _csv,
    "breast-cancer": _breast_cancer,
    "digits": _digits,
}

# Loaders that draw random numbers take `rng`; users never pass it.
_DATASETS = Registry("data set", DATASETS, injected=("rng",))


dataset_params = _DATASETS.params  # a data set's parameters and defaults (empty: required)


def load_dataset(
    name: str,
    *,
    seed: int = 0,
    test_fraction: float = 0.2,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    **params: Any,
) -> Dataset:
    """Load data set ``name`` of :data:`DATASETS` with its ``params``, split train/test.

    ``seed`` drives the data generation (synthetic sets) and the split, through two independent
    streams, so the same seed gives the same data whatever the split. The test set has
    ceil(test_fraction * m) rows. Prepared data are cached under ``cache_dir`` (default:
    :func:`gradcode.data.cache.default_cache_dir`) unless ``use_cache=False``; a cache hit
    returns identical arrays. Unknown names or parameters raise ValueError listing valid ones.
    """
    name, params = _bind(name, params)
    _check_split(seed, test_fraction)
    spec = {"name": name, "params": params, "seed": int(seed), "test_fraction": test_fraction}
    if not use_cache:
        return _prepare(spec)
    key_spec = spec | {"files": [cache.file_identity(params["path"])] if "path" in params else []}
    path = Path(cache_dir or cache.default_cache_dir()) / f"{name}-{cache.cache_key(key_spec)}.npz"
    if path.is_file():
        try:
            arrays, meta = cache.load(path)
            return Dataset(name, **arrays, meta=meta)
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as e:
            warnings.warn(f"ignoring unreadable cache entry {path}: {e}", stacklevel=2)
    dataset = _prepare(spec)
    arrays = {k: getattr(dataset, k) for k in ("X_train", "y_train", "X_test", "y_test")}
    try:
        cache.save(path, arrays, dataset.meta)
    except OSError as e:  # a read-only or full cache directory must not stop the run
        warnings.warn(f"could not write cache entry {path}: {e}", stacklevel=2)
    return dataset


def _prepare(spec: dict[str, Any]) -> Dataset:
    name, params = spec["name"], spec["params"]
    data_seed, split_seed = np.random.SeedSequence(spec["seed"]).spawn(2)
    rng = {"rng": np.random.default_rng(data_seed)} if "rng" in _DATASETS.signature(name) else {}
    prepared = _DATASETS.factory(name)(**rng, **params)
    X, y = check_data(prepared.X, prepared.y, binary=True)
    train, test = train_test_indices(y.shape[0], spec["test_fraction"], split_seed)
    if prepared.groups is not None:  # training rows grouped by category, categories shuffled
        _, code = np.unique(prepared.groups, return_inverse=True)
        rank = np.random.default_rng(split_seed).permutation(code.max() + 1)
        train = train[np.argsort(rank[code[train]], kind="stable")]
    X_train, X_test = X[train], X[test]
    if prepared.standardize:
        X_train, X_test = standardize_features(X_train, X_test)
    meta = spec | {
        "rows": int(y.shape[0]),
        "n_train": int(train.size),
        "n_test": int(test.size),
        "n_features": int(X.shape[1]),
        "positive_rate": float(y.mean()),
        **prepared.meta,
    }
    return Dataset(name, X_train, y[train], X_test, y[test], _jsonable(meta))


def train_test_indices(
    m: int, test_fraction: float, seed: int | np.random.SeedSequence | np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split of rows 0..m-1: (train, test), test of size ceil(test_fraction m)."""
    n_test = math.ceil(test_fraction * m - 1e-9)
    if not 1 <= n_test < m:
        raise ValueError(
            f"test_fraction={test_fraction} of m={m} rows leaves {n_test} test and "
            f"{m - n_test} training rows; both need at least one"
        )
    perm = np.random.default_rng(seed).permutation(m)
    return perm[n_test:], perm[:n_test]


def standardize_features(X_train: np.ndarray, X_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre and scale dense features with the training mean and std (constant columns: 1)."""
    if sp.issparse(X_train):
        raise ValueError("standardize applies to dense features only (it would densify X)")
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std[std == 0] = 1.0
    return (X_train - mean) / std, (X_test - mean) / std


def _bind(spec: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(name, parameters) of a name or spec: checked, defaults filled in, JSON-ready."""
    name, params = _DATASETS.resolve(spec, params)
    bound = {p: params.get(p, d) for p, d in dataset_params(name).items()}
    if "path" in bound:
        bound["path"] = str(Path(bound["path"]).expanduser().resolve())
    return name, _jsonable(bound)


def _check_split(seed: int, test_fraction: float) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got seed={seed!r}")
    if not 0 < test_fraction < 1:
        raise ValueError(
            f"test_fraction must satisfy 0 < test_fraction < 1, got test_fraction={test_fraction!r}"
        )


def _jsonable(value: Any) -> Any:
    """``value`` after a JSON round trip (tuples become lists, numpy scalars Python numbers)."""
    try:
        return json.loads(json.dumps(value, default=_json_default))
    except TypeError as e:
        raise ValueError(f"data set parameters must be JSON values: {e}") from None


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable: {value!r}")
