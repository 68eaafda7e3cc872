"""Data sets: registry, loaders on tiny fixtures, the paper's Amazon preprocessing, cache, AUC."""

import itertools
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize

from gradcode.data import (
    DATASETS,
    Dataset,
    amazon_features,
    amazon_synthetic_table,
    auc,
    binarize_labels,
    dataset_params,
    load_dataset,
    read_amazon_csv,
    read_csv,
    read_svmlight,
)
from gradcode.data import datasets as datasets_module
from gradcode.data.amazon import AMAZON_COLUMNS, AMAZON_LABEL, interaction_pairs
from gradcode.data.cache import default_cache_dir
from gradcode.models import check_data, make_model

FIXTURES = Path(__file__).parent / "fixtures"
AMAZON_CSV = FIXTURES / "amazon_train.csv"
SVMLIGHT = FIXTURES / "small.svmlight"
CSV = FIXTURES / "small.csv"
SMALL_CARDS = (12, 8, 5, 3)


def split_rows_of(ds: Dataset) -> int:
    return ds.X_train.shape[0] + ds.X_test.shape[0]


def dense(X):
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def assert_same(a: Dataset, b: Dataset) -> None:
    for part in ("X_train", "y_train", "X_test", "y_test"):
        x, y = getattr(a, part), getattr(b, part)
        assert type(x) is type(y) and x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(dense(x), dense(y))
    assert a.meta == b.meta


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- registry ------------------------------------------------------------------------------


def test_registry_names_and_errors():
    assert set(DATASETS) == {
        "gaussian",
        "amazon-synthetic",
        "amazon",
        "svmlight",
        "csv",
        "breast-cancer",
        "digits",
    }
    with pytest.raises(
        ValueError,
        match=r"unknown data set 'mnist'; valid data sets: amazon, amazon-synthetic, breast",
    ):
        load_dataset("mnist")
    with pytest.raises(
        ValueError, match=r"unknown parameter\(s\) colour, m for data set 'gaussian'"
    ):
        load_dataset("gaussian", m=10, colour="red", use_cache=False)
    with pytest.raises(ValueError, match=r"'amazon' needs parameter\(s\) path; valid parameters"):
        load_dataset("amazon", use_cache=False)
    with pytest.raises(ValueError, match="unknown parameter.*rng"):
        load_dataset("gaussian", rng=np.random.default_rng(0), use_cache=False)
    assert dataset_params("gaussian") == {"rows": 10_000, "d": 100, "separation": 3.0}


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"seed": -1}, "seed must be an int >= 0"),
        ({"seed": 1.5}, "seed must be an int >= 0"),
        ({"test_fraction": 0.0}, "0 < test_fraction < 1"),
        ({"test_fraction": 1.0}, "0 < test_fraction < 1"),
        ({"rows": 2, "test_fraction": 0.9}, "both need at least one"),
    ],
)
def test_split_argument_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        load_dataset("gaussian", d=2, use_cache=False, **{"rows": 50, **kw})


def test_every_loader_gives_valid_binary_data(tmp_path):
    cases = {
        "gaussian": {"rows": 40, "d": 3},
        "amazon-synthetic": {"rows": 60, "cardinalities": SMALL_CARDS},
        "amazon": {"path": AMAZON_CSV},
        "svmlight": {"path": SVMLIGHT},
        "csv": {"path": CSV},
        "breast-cancer": {},
        "digits": {},
    }
    assert set(cases) == set(DATASETS)
    for name, params in cases.items():
        ds = load_dataset(name, cache_dir=tmp_path, **params)
        for X, y in ((ds.X_train, ds.y_train), (ds.X_test, ds.y_test)):
            X2, y2 = check_data(X, y, binary=True)
            assert X2.dtype == np.float64 and y.dtype == np.float64 and X2 is X
        assert ds.X_test.shape[1] == ds.n_features == ds.meta["n_features"]
        assert ds.meta["name"] == name and ds.meta["rows"] == split_rows_of(ds)
        assert repr(ds).startswith(f"<Dataset {name} train=")


# --- split ---------------------------------------------------------------------------------


def test_split_is_seeded_80_20_and_independent_of_the_data_stream():
    a = load_dataset("gaussian", rows=101, d=3, use_cache=False)
    b = load_dataset("gaussian", rows=101, d=3, use_cache=False)
    assert_same(a, b)
    assert (a.X_train.shape[0], a.X_test.shape[0]) == (80, 21)  # test: ceil(0.2 * 101)
    c = load_dataset("gaussian", rows=101, d=3, test_fraction=0.5, use_cache=False)
    assert c.X_test.shape[0] == 51

    def rows(ds):  # the generated rows, in a canonical order
        X = np.vstack([ds.X_train, ds.X_test])
        return X[np.lexsort(X.T[::-1])]

    np.testing.assert_array_equal(rows(a), rows(c))  # same seed, same data, another split
    d = load_dataset("gaussian", rows=101, d=3, seed=1, use_cache=False)
    assert not np.array_equal(rows(a), rows(d))


def test_split_sizes_at_the_papers_scale():
    train, test = datasets_module.train_test_indices(32769, 0.2, 0)
    assert (train.size, test.size) == (26215, 6554)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(32769))
    train, test = datasets_module.train_test_indices(10, 0.3, 0)
    assert (train.size, test.size) == (7, 3)  # no float round-up from 0.3 * 10


# --- Amazon: the paper's preprocessing -----------------------------------------------------


def reference_one_hot(table: np.ndarray, groups: list[tuple[int, ...]]) -> np.ndarray:
    """Obviously correct one-hot: each group of columns is one categorical, sorted vocabulary."""
    blocks = []
    for group in groups:
        values = [tuple(row) for row in table[:, list(group)]]
        vocab = {v: i for i, v in enumerate(sorted(set(values)))}
        block = np.zeros((len(values), len(vocab)))
        block[np.arange(len(values)), [vocab[v] for v in values]] = 1.0
        blocks.append(block)
    return np.hstack(blocks)


def test_read_amazon_csv_fixture():
    table, y = read_amazon_csv(AMAZON_CSV)
    assert table.shape == (20, 9) and table.dtype == np.int64
    assert y.tolist() == [1.0] * 5 + [0.0] + [1.0] * 4 + [0.0] + [1.0] * 6 + [0.0, 1.0, 1.0]
    assert table[0].tolist() == [
        39353,
        85475,
        117961,
        118300,
        123472,
        117905,
        117906,
        290919,
        117908,
    ]


def test_amazon_preprocessing_shapes_on_the_fixture():
    table, _ = read_amazon_csv(AMAZON_CSV)
    base = [7, 7, 4, 5, 7, 7, 7, 5, 7]  # distinct values per column, counted by hand
    assert [len(set(table[:, j])) for j in range(9)] == base
    pairs = interaction_pairs(AMAZON_COLUMNS, "paper")
    assert len(pairs) == 34  # 36 pairs less the two the paper's code drops
    assert (2, 3) not in pairs and (5, 7) not in pairs
    pair_cards = [len({tuple(r) for r in table[:, list(p)]}) for p in pairs]

    X, info = amazon_features(table)
    assert X.shape == (20, 414) and sum(base) + sum(pair_cards) + 1 == 414
    assert info["cardinalities"] == base + pair_cards + [1]
    assert len(info["encoded_columns"]) == 44 and info["encoded_columns"][9] == "RESOURCE*MGR_ID"
    assert sp.isspmatrix_csr(X) and X.dtype == np.float64
    np.testing.assert_array_equal(X.sum(axis=1).A1, 44.0)  # one 1 per encoded column
    np.testing.assert_array_equal(X[:, -1].toarray().ravel(), 1.0)  # the intercept feature
    ref = reference_one_hot(table, [(j,) for j in range(9)] + pairs + [()])
    np.testing.assert_array_equal(X.toarray(), ref)

    widths = {
        mode: amazon_features(table, interactions=mode, intercept=False)[0].shape[1]
        for mode in ("none", "all")
    }
    assert widths["none"] == sum(base) == 56
    all_pairs = [
        len({tuple(r) for r in table[:, list(p)]}) for p in itertools.combinations(range(9), 2)
    ]
    assert (
        widths["all"] == sum(base) + sum(all_pairs) == 56 + 357 + 5 + 7
    )  # + the two dropped pairs


def test_amazon_loader_splits_the_preprocessed_file():
    ds = load_dataset("amazon", path=AMAZON_CSV, use_cache=False)
    assert (ds.X_train.shape, ds.X_test.shape) == ((16, 414), (4, 414))
    X, _ = amazon_features(read_amazon_csv(AMAZON_CSV)[0])
    full = sp.vstack([ds.X_train, ds.X_test]).toarray()
    # the split is a row permutation of the preprocessed file: compare row multisets
    assert sorted(map(tuple, full)) == sorted(map(tuple, X.toarray()))
    assert ds.meta["positive_rate"] == 0.85


def test_amazon_column_order_in_the_file_does_not_matter(tmp_path):
    lines = AMAZON_CSV.read_text().splitlines()
    cells = [line.split(",") for line in lines]
    shuffled = [",".join(row[::-1] + ["7"]) for row in cells]
    shuffled[0] = shuffled[0][:-1] + "EXTRA"
    path = write(tmp_path, "train.csv", "\n".join(shuffled) + "\n")
    table, y = read_amazon_csv(path)
    ref_table, ref_y = read_amazon_csv(AMAZON_CSV)
    np.testing.assert_array_equal(table, ref_table)
    np.testing.assert_array_equal(y, ref_y)


def test_amazon_malformed_files(tmp_path):
    with pytest.raises(
        ValueError,
        match=r"amazon_malformed.csv, line 8, column 'MGR_ID': '17a27' is not an integer",
    ):
        load_dataset("amazon", path=FIXTURES / "amazon_malformed.csv", use_cache=False)
    header, *rows = AMAZON_CSV.read_text().splitlines()
    no_role = write(tmp_path, "a.csv", header.replace(",ROLE_CODE", "") + "\n1,2,3,4,5,6,7,8,9\n")
    with pytest.raises(ValueError, match="not an Amazon Employee Access train.csv, missing column"):
        read_amazon_csv(no_role)
    bad_label = write(tmp_path, "b.csv", "\n".join([header, rows[0], "2" + rows[1][1:]]) + "\n")
    with pytest.raises(ValueError, match=rf"b.csv, line 3: {AMAZON_LABEL} must be 0 or 1, got 2"):
        read_amazon_csv(bad_label)
    ragged = write(tmp_path, "c.csv", "\n".join([header, rows[0], rows[1] + ",5"]) + "\n")
    with pytest.raises(ValueError, match="c.csv, line 3: 11 cells, but the header has 10"):
        read_amazon_csv(ragged)
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_dataset("amazon", path=tmp_path / "missing.csv", use_cache=False)


# --- Amazon-shaped synthetic data ----------------------------------------------------------


def test_amazon_synthetic_shapes_rate_and_seed():
    table, y = amazon_synthetic_table(4000, seed=0, cardinalities=SMALL_CARDS)
    assert table.shape == (4000, 4) and y.shape == (4000,)
    assert all(table[:, j].max() < c for j, c in enumerate(SMALL_CARDS))
    assert abs(y.mean() - 0.94) < 0.02
    t2, y2 = amazon_synthetic_table(4000, seed=0, cardinalities=SMALL_CARDS)
    np.testing.assert_array_equal(table, t2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(
        table, amazon_synthetic_table(4000, seed=1, cardinalities=SMALL_CARDS)[0]
    )
    # Zipf-like: the first value of every column is the most frequent
    assert all(np.bincount(table[:, j]).argmax() == 0 for j in range(4))

    ds = load_dataset("amazon-synthetic", rows=300, cardinalities=SMALL_CARDS, use_cache=False)
    cards = ds.meta["cardinalities"]
    assert len(cards) == 4 + 6 + 1 and ds.n_features == sum(cards)
    assert ds.meta["encoded_columns"][:5] == ["C1", "C2", "C3", "C4", "C1*C2"]


def test_amazon_synthetic_uses_the_same_code_path_as_the_real_file(tmp_path):
    cards = (9, 7, 3, 4, 5, 6, 8, 2, 6)
    table, y = amazon_synthetic_table(50, seed=3, cardinalities=cards)
    rows = np.column_stack([y.astype(int), table + 1000])  # shifted raw ids, as in the real file
    path = tmp_path / "train.csv"
    np.savetxt(
        path,
        rows,
        fmt="%d",
        delimiter=",",
        header=",".join([AMAZON_LABEL, *AMAZON_COLUMNS]),
        comments="",
    )
    X_file, info_file = amazon_features(read_amazon_csv(path)[0])
    X_syn, info_syn = amazon_features(table)
    np.testing.assert_array_equal(X_file.toarray(), X_syn.toarray())
    assert info_file == info_syn


def test_amazon_synthetic_is_learnable():
    ds = load_dataset(
        "amazon-synthetic", rows=5000, cardinalities=(40, 30, 20, 10), seed=0, use_cache=False
    )
    model = make_model("logistic", l2=1e-3)
    m = ds.X_train.shape[0]

    def objective(theta):
        value = model.loss(theta, ds.X_train, ds.y_train) / m + model.penalty(theta)
        return value, model.grad(theta, ds.X_train, ds.y_train) / m + model.penalty_grad(theta)

    theta = minimize(objective, model.init(ds.n_features), jac=True, method="L-BFGS-B").x
    assert auc(ds.y_test, model.predict_score(theta, ds.X_test)) > 0.65


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"rows": 1}, "rows must be >= 2"),
        ({"cardinalities": ()}, "cardinalities must be a non-empty"),
        ({"cardinalities": (3, 0)}, "cardinalities must be a non-empty"),
        ({"positive_rate": 1.0}, "positive_rate must satisfy"),
        ({"density": 2.0}, "density must satisfy"),
        ({"interactions": "some"}, "interactions must be one of"),
        ({"profiles": -1}, "profiles must be an int >= 0"),
        ({"profiles": 2.5}, "profiles must be an int >= 0"),
    ],
)
def test_amazon_synthetic_parameter_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        load_dataset(
            "amazon-synthetic", use_cache=False, **{"rows": 20, "cardinalities": (3, 4), **kw}
        )


# --- svmlight and CSV files ----------------------------------------------------------------


def test_read_svmlight_fixture():
    X, y = read_svmlight(SVMLIGHT)
    expected = [
        [0.5, 0, 1.25, 0, -2],
        [0, 1, 0, 3.5, 0],
        [-1.5, 0.25, 0, 0, 0],
        [0, 0, 0, 0, 4],
        [1, 0, 2, 0, 0],
        [0.75, -0.5, 1, -1, 0.5],
    ]
    assert sp.isspmatrix_csr(X) and X.has_sorted_indices
    np.testing.assert_array_equal(X.toarray(), expected)
    np.testing.assert_array_equal(y, [1, -1, 1, -1, 1, -1])
    assert read_svmlight(SVMLIGHT, n_features=8)[0].shape == (6, 8)
    X0, _ = read_svmlight(SVMLIGHT, zero_based=True)
    np.testing.assert_array_equal(X0.toarray()[:, 1:], expected)
    ds = load_dataset("svmlight", path=SVMLIGHT, use_cache=False)
    assert set(np.concatenate([ds.y_train, ds.y_test])) == {0.0, 1.0}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("1 1:2\nx 1:2\n", r"line 2: label is not a number: 'x'"),
        ("1 1:2\n1 1:2 3\n", r"line 2: expected <index>:<value>, got '3'"),
        ("1 1:2\n\n1 -1:2\n", r"line 3: expected <index>:<value>, got '-1:2'"),
        ("1 2:1 2:3\n", r"line 1: feature index 2 repeated"),
        ("1 1:nan\n", r"line 1: value of feature 1 is not finite"),
        ("# only a comment\n\n", "no data lines"),
    ],
)
def test_svmlight_malformed(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        read_svmlight(write(tmp_path, "bad.svm", text))


def test_svmlight_other_errors(tmp_path):
    with pytest.raises(
        ValueError,
        match=r"small_malformed.svmlight, line 4: value of feature 2 is not a number: 'abc'",
    ):
        load_dataset("svmlight", path=FIXTURES / "small_malformed.svmlight", use_cache=False)
    with pytest.raises(ValueError, match="feature index 0 in a file read as 1-based"):
        read_svmlight(write(tmp_path, "z.svm", "1 0:1\n"), zero_based=False)
    with pytest.raises(ValueError, match="n_features=3 but the file uses 5 features"):
        read_svmlight(SVMLIGHT, n_features=3)
    with pytest.raises(ValueError, match="zero_based must be"):
        read_svmlight(SVMLIGHT, zero_based="yes")
    (tmp_path / "bin.svm").write_bytes(b"\xff\xfe1 1:2\n")
    with pytest.raises(ValueError, match="not a UTF-8 text file"):
        read_svmlight(tmp_path / "bin.svm")


def test_read_csv_fixture():
    X, y, names = read_csv(CSV)
    assert X.shape == (10, 3) and names == ["x1", "x2", "x3"]
    np.testing.assert_array_equal(X[1], [1.5, -0.5, 0.0])
    np.testing.assert_array_equal(y, [1, 0] * 5)
    X, y, names = read_csv(CSV, label="x2")
    assert names == ["x1", "x3", "y"] and y[0] == 1.0 and X[0].tolist() == [0.5, -2.0, 1.0]
    ds = load_dataset("csv", path=CSV, standardize=True, use_cache=False)
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(ds.X_train.std(axis=0), 1.0)


def test_csv_delimiter_and_label_choice(tmp_path):
    path = write(tmp_path, "s.csv", "cls;a;b\n3;1;2\n1;3;4\n2;5;6\n3;0;1\n")
    ds = load_dataset("csv", path=path, delimiter=";", label="cls", positive=3, use_cache=False)
    assert ds.meta["features"] == ["a", "b"] and ds.meta["positive_rate"] == 0.5
    with pytest.raises(ValueError, match=r"labels take 3 values \(1, 2, 3\); pass positive="):
        load_dataset("csv", path=path, delimiter=";", label="cls", use_cache=False)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("a,b\n1,2\n3\n", "line 3: 1 cells, but the header has 2"),
        ("a,b\n1,2\n\n3,inf\n", r"line 4, column 'b': 'inf' is not a finite number"),
        ("a,b\n1,\n", r"line 2, column 'b': '' is not a finite number"),
        ("a,a\n1,2\n", "header names must be distinct"),
        ("\n\n", "empty file"),
        ("a,b\n", "a header but no data rows"),
        ("b\n1\n", "need at least one feature column"),
    ],
)
def test_csv_malformed(tmp_path, text, match):
    with pytest.raises(ValueError, match=match):
        read_csv(write(tmp_path, "bad.csv", text))


def test_csv_errors_through_the_registry():
    with pytest.raises(
        ValueError, match=r"small_malformed.csv, line 5, column 'x2': 'n/a' is not a finite number"
    ):
        load_dataset("csv", path=FIXTURES / "small_malformed.csv", use_cache=False)
    with pytest.raises(
        ValueError, match=r"no label column 'target'; columns are \['x1', 'x2', 'x3', 'y'\]"
    ):
        load_dataset("csv", path=CSV, label="target", use_cache=False)


def test_binarize_labels():
    np.testing.assert_array_equal(binarize_labels(np.array([0, 1, 1])), [0, 1, 1])
    np.testing.assert_array_equal(binarize_labels(np.array([-1, 1, -1])), [0, 1, 0])
    np.testing.assert_array_equal(binarize_labels(np.array([2, 1, 2])), [1, 0, 1])
    np.testing.assert_array_equal(binarize_labels(np.array([1, 1])), [1, 1])
    np.testing.assert_array_equal(binarize_labels(np.array([5, 6, 7]), positive=[5, 7]), [1, 0, 1])
    with pytest.raises(ValueError, match="labels take 4 values"):
        binarize_labels(np.arange(4))


# --- bundled scikit-learn data -------------------------------------------------------------


def test_breast_cancer_and_digits():
    bc = load_dataset("breast-cancer", use_cache=False)
    assert split_rows_of(bc) == 569 and bc.n_features == 30
    assert len(bc.meta["features"]) == 30 and bc.meta["positive_rate"] == 357 / 569
    np.testing.assert_allclose(bc.X_train.mean(axis=0), 0.0, atol=1e-9)
    raw = load_dataset("breast-cancer", standardize=False, use_cache=False)
    assert raw.X_train.max() > 100

    digits = load_dataset("digits", use_cache=False)
    assert split_rows_of(digits) == 1797 and digits.n_features == 64
    assert 0.45 < digits.meta["positive_rate"] < 0.55  # digits >= 5
    threes = load_dataset("digits", positive=3, use_cache=False)
    assert threes.meta["positive_rate"] == 183 / 1797


def test_bundled_without_sklearn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r'pip install "gradcode\[datasets\]"'):
        load_dataset("breast-cancer", use_cache=False)


# --- cache ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("gaussian", {"rows": 30, "d": 4}),
        ("amazon-synthetic", {"rows": 80, "cardinalities": SMALL_CARDS}),
        ("amazon", {"path": AMAZON_CSV}),
    ],
)
def test_cache_round_trip_is_identical(tmp_path, monkeypatch, name, params):
    fresh = load_dataset(name, cache_dir=tmp_path, **params)
    assert len(list(tmp_path.glob(f"{name}-*.npz"))) == 1
    assert_same(fresh, load_dataset(name, use_cache=False, **params))

    def fail(spec):
        raise AssertionError("cache miss")

    monkeypatch.setattr(datasets_module, "_prepare", fail)
    assert_same(fresh, load_dataset(name, cache_dir=tmp_path, **params))


def test_cache_key_covers_params_seed_split_and_file(tmp_path):
    load_dataset("gaussian", rows=30, d=4, cache_dir=tmp_path)
    load_dataset("gaussian", rows=30, d=4, separation=3.0, cache_dir=tmp_path)  # the default
    assert len(list(tmp_path.glob("*.npz"))) == 1
    load_dataset("gaussian", rows=30, d=5, cache_dir=tmp_path)
    load_dataset("gaussian", rows=30, d=4, seed=1, cache_dir=tmp_path)
    load_dataset("gaussian", rows=30, d=4, test_fraction=0.5, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 4

    data = write(tmp_path, "d.csv", CSV.read_text())
    first = load_dataset("csv", path=data, cache_dir=tmp_path)
    data.write_text(CSV.read_text().replace("0.5,1.0,-2.0,1", "9.5,1.0,-2.0,1"))
    os.utime(data, ns=(1, 1))  # a different mtime even on coarse clocks
    second = load_dataset("csv", path=data, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("csv-*.npz"))) == 2
    both = np.vstack([second.X_train, second.X_test])
    assert 9.5 in both and 9.5 not in np.vstack([first.X_train, first.X_test])


def test_unreadable_cache_entry_is_rebuilt(tmp_path):
    fresh = load_dataset("gaussian", rows=30, d=4, cache_dir=tmp_path)
    (entry,) = tmp_path.glob("*.npz")
    entry.write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="ignoring unreadable cache entry"):
        again = load_dataset("gaussian", rows=30, d=4, cache_dir=tmp_path)
    assert_same(fresh, again)
    assert_same(fresh, load_dataset("gaussian", rows=30, d=4, cache_dir=tmp_path))


def test_unwritable_cache_dir_only_warns(tmp_path):
    blocker = write(tmp_path, "file", "")  # a file where the cache directory should be
    with pytest.warns(UserWarning, match="could not write cache entry"):
        ds = load_dataset("gaussian", rows=20, d=2, cache_dir=blocker / "sub")
    assert_same(ds, load_dataset("gaussian", rows=20, d=2, use_cache=False))


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADCODE_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    load_dataset("gaussian", rows=20, d=2)
    assert len(list((tmp_path / "c").glob("gaussian-*.npz"))) == 1
    monkeypatch.delenv("GRADCODE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x" / "gradcode"


# --- AUC -----------------------------------------------------------------------------------


def brute_force_auc(y, s):
    pos, neg = s[y == 1], s[y == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (pos.size * neg.size)


def test_auc_matches_the_pairwise_count():
    rng = np.random.default_rng(0)
    for trial in range(30):
        m = int(rng.integers(2, 60))
        y = rng.integers(0, 2, m).astype(float)
        y[:2] = [0, 1]
        s = rng.integers(0, 5, m).astype(float) if trial % 2 else rng.standard_normal(m)
        assert auc(y, s) == pytest.approx(brute_force_auc(y, s), abs=1e-12)
    assert auc(np.array([0, 0, 1, 1]), np.array([1, 2, 3, 4])) == 1.0
    assert auc(np.array([0, 0, 1, 1]), np.array([4, 3, 2, 1])) == 0.0
    assert auc(np.array([0, 1, 0, 1]), np.zeros(4)) == 0.5


@pytest.mark.parametrize(
    ("y", "s", "match"),
    [
        ([1, 1], [0.1, 0.2], "both classes"),
        ([0, 2], [0.1, 0.2], "binary labels"),
        ([0, 1], [0.1], "same length"),
        ([0, 1], [0.1, np.nan], "finite"),
    ],
)
def test_auc_errors(y, s, match):
    with pytest.raises(ValueError, match=match):
        auc(np.array(y), np.array(s))


def test_amazon_rows_grouped_by_a_column_keep_each_category_together():
    """group_by=RESOURCE: the same train/test split and rows, reordered so each resource's
    training rows are contiguous (whole categories per partition); a bad column is refused."""
    from gradcode.data import load_dataset

    plain = load_dataset("amazon-synthetic", rows=2000, use_cache=False)
    grouped = load_dataset("amazon-synthetic", rows=2000, group_by="RESOURCE", use_cache=False)
    assert grouped.X_train.shape == plain.X_train.shape
    np.testing.assert_array_equal(grouped.y_test, plain.y_test)
    assert (grouped.X_test != plain.X_test).nnz == 0
    cards = grouped.meta["cardinalities"]
    resource = grouped.X_train[:, : cards[0]].tocsr().indices  # one encoded column per row
    runs = np.count_nonzero(np.diff(resource)) + 1
    assert runs == np.unique(resource).size  # each resource's rows in one contiguous run
    assert sorted(grouped.y_train) == sorted(plain.y_train)
    with pytest.raises(ValueError, match="group_by must be one of the raw columns RESOURCE, "):
        load_dataset("amazon-synthetic", rows=200, group_by="NOPE", use_cache=False)
