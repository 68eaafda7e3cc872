import math

import numpy as np
import pytest
import scipy.sparse as sp

from gradcode.data import split_rows, worker_rows
from gradcode.models import (
    MODELS,
    LeastSquares,
    LogisticRegression,
    Model,
    check_data,
    full_objective,
    make_model,
)


def _data(kind: str, m: int = 23, d: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, d))
    X[rng.random((m, d)) < 0.4] = 0.0  # some sparsity so CSR is non-trivial
    y = rng.integers(0, 2, m).astype(float) if kind == "logistic" else rng.standard_normal(m)
    theta = rng.standard_normal(d)
    return X, y, theta


def _row_loss(kind: str, x, y, theta) -> float:
    z = float(x @ theta)
    if kind == "logistic":
        return math.log1p(math.exp(-(2 * y - 1) * z))
    return 0.5 * (z - y) ** 2


def _row_grad(kind: str, x, y, theta) -> np.ndarray:
    z = float(x @ theta)
    if kind == "logistic":
        return x * (1 / (1 + math.exp(-z)) - y)
    return x * (z - y)


KINDS = ["logistic", "least-squares"]
FORMATS = [np.asarray, sp.csr_matrix, sp.csr_array]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_weighted_grad_and_loss_match_per_row_loop(kind, fmt):
    X, y, theta = _data(kind)
    w = np.random.default_rng(1).uniform(-2, 2, len(y))
    model = make_model(kind, l2=0.3)
    ref_grad = sum(w[r] * _row_grad(kind, X[r], y[r], theta) for r in range(len(y)))
    ref_loss = sum(w[r] * _row_loss(kind, X[r], y[r], theta) for r in range(len(y)))
    g = model.grad(theta, fmt(X), y, w)
    assert isinstance(g, np.ndarray) and g.shape == theta.shape and g.dtype == np.float64
    np.testing.assert_allclose(g, ref_grad, rtol=1e-12, atol=1e-12)
    assert model.loss(theta, fmt(X), y, w) == pytest.approx(ref_loss, rel=1e-12)
    unweighted = sum(_row_loss(kind, X[r], y[r], theta) for r in range(len(y)))
    assert model.loss(theta, fmt(X), y) == pytest.approx(unweighted, rel=1e-12)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_blocked_dense_pass_equals_the_whole_passes(kind, dtype, monkeypatch):
    """Dense rows go block by block (fused_rows); the blocks, the last one short, give the
    loss and gradient of the whole passes to 1e-12, weighted or not."""
    from gradcode.models import base

    X, y, theta = _data(kind, m=1000, d=7, seed=3)
    X = X.astype(dtype)
    w = np.random.default_rng(4).uniform(-2, 2, len(y))
    model = make_model(kind, l2=0.3)
    monkeypatch.setattr(base, "FUSE_BYTES", 64 * 7 * X.itemsize + 1)  # 64 rows a block
    assert base.fused_rows(X) == 64 and len(y) % 64  # 16 blocks, the last of 40 rows
    blocked = [model.value_and_grad(theta, X, y, weights) for weights in (w, None)]
    assert model.grad(theta, X, y, w) == pytest.approx(blocked[0][1], rel=0, abs=0)
    monkeypatch.setattr(base, "FUSE_BYTES", 0)
    assert base.fused_rows(X) is None
    for (value, g), weights in zip(blocked, (w, None), strict=True):
        want_value, want_g = model.value_and_grad(theta, X, y, weights)
        np.testing.assert_allclose(g, want_g, rtol=1e-12, atol=1e-12 * np.abs(want_g).max())
        assert value == pytest.approx(want_value, rel=1e-12)


def test_only_dense_rows_that_fill_a_block_go_blocked():
    from gradcode.models.base import FUSE_BYTES, FUSE_MIN_ROWS, fused_rows

    narrow = np.zeros((10_000, 100))
    assert fused_rows(narrow) == FUSE_BYTES // 800
    assert fused_rows(np.zeros((FUSE_BYTES // 800, 100))) is None  # one block: X whole
    wide = np.zeros((1000, FUSE_BYTES // 8 // (FUSE_MIN_ROWS - 1)))
    assert fused_rows(wide) is None  # fewer than FUSE_MIN_ROWS rows a block
    assert fused_rows(sp.csr_matrix(narrow)) is None


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_partition_gradients_sum_to_m_times_data_gradient(kind, fmt):
    X, y, theta = _data(kind, m=29)
    Xf, m, model = fmt(X), len(y), make_model(kind, l2=0.7)
    total = sum(model.grad(theta, Xf[p], y[p], np.ones(len(p))) for p in split_rows(m, 4))
    _, full_grad = full_objective(model, theta, Xf, y)
    np.testing.assert_allclose(total, m * (full_grad - model.penalty_grad(theta)), atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_paper_example_worker_gradients_decode_to_full_gradient(kind, fmt):
    # Tandon et al. 2017, Fig. 1: n = 3, s = 1, k = 3; any 2 replies give g1 + g2 + g3.
    B = np.array([[0.5, 1.0, 0.0], [0.0, 1.0, -1.0], [0.5, 0.0, 1.0]])
    partitions = [(0, 1), (1, 2), (0, 2)]
    X, y, theta = _data(kind, m=17)
    Xf, m, model = fmt(X), len(y), make_model(kind, l2=0.1)
    parts = split_rows(m, 3)
    part_grads = [model.grad(theta, Xf[p], y[p]) for p in parts]
    coded = []
    for i in range(3):
        rows, w = worker_rows(partitions[i], B[i], parts)
        coded.append(model.grad(theta, Xf[rows], y[rows], w))
        np.testing.assert_allclose(coded[i], B[i] @ np.array(part_grads), atol=1e-12)
    _, full_grad = full_objective(model, theta, Xf, y)
    for a in ([1, 0, 1], [0, 1, 2], [2, -1, 0]):  # decoding vectors for {0,2}, {1,2}, {0,1}
        decoded = sum(a_i * f for a_i, f in zip(a, coded, strict=True))
        np.testing.assert_allclose(decoded / m + model.penalty_grad(theta), full_grad, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_matches_finite_differences(kind):
    X, y, theta = _data(kind, m=11, d=4)
    w = np.random.default_rng(2).uniform(0, 2, len(y))
    model = make_model(kind, l2=0.5)
    h = 1e-6
    for j in range(len(theta)):
        e = np.zeros_like(theta)
        e[j] = h
        fd = (model.loss(theta + e, X, y, w) - model.loss(theta - e, X, y, w)) / (2 * h)
        assert model.grad(theta, X, y, w)[j] == pytest.approx(fd, rel=1e-6, abs=1e-8)
        F_plus, F_minus = (full_objective(model, theta + s * e, X, y)[0] for s in (1, -1))
        fd_full = (F_plus - F_minus) / (2 * h)
        assert full_objective(model, theta, X, y)[1][j] == pytest.approx(fd_full, rel=1e-6)


def test_regulariser_and_full_objective_values():
    model = LeastSquares(l2=2.0)
    theta = np.array([1.0, -2.0])
    assert model.penalty(theta) == pytest.approx(5.0)
    np.testing.assert_allclose(model.penalty_grad(theta), [2.0, -4.0])
    X, y = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0.0, 0.0])
    value, grad = full_objective(model, theta, X, y)
    assert value == pytest.approx((0.5 * 1 + 0.5 * 4) / 2 + 5.0)
    np.testing.assert_allclose(grad, np.array([1.0, -2.0]) / 2 + [2.0, -4.0])


def test_logistic_is_stable_for_huge_scores():
    model = LogisticRegression()
    X = np.array([[1e4], [-1e4], [1e4]])
    y = np.array([1.0, 1.0, 0.0])
    theta = np.array([1.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert model.loss(theta, X, y) == pytest.approx(2e4)  # log(1+e^-1e4) ~ 0, then 1e4 twice
        np.testing.assert_allclose(model.grad(theta, X, y), [-1e4 * -1 + 1e4 * 1])
    assert LogisticRegression().loss(np.zeros(2), np.ones((3, 2)), np.ones(3)) == pytest.approx(
        3 * math.log(2)
    )


def test_init_predict_and_protocol():
    for cls in MODELS.values():
        model = cls()
        assert isinstance(model, Model)
        theta = model.init(3)
        assert theta.dtype == np.float64 and not theta.any() and theta.shape == (3,)
        X = sp.csr_matrix(np.array([[1.0, 2.0, 0.0], [0.0, 0.0, 3.0]]))
        np.testing.assert_allclose(model.predict_score(np.array([1.0, 1.0, 1.0]), X), [3.0, 3.0])
    assert make_model("logistic", l2=0.1) == LogisticRegression(l2=0.1)


def test_model_errors():
    with pytest.raises(ValueError, match=r"l2 must be .*>= 0, got l2=-1.0"):
        LogisticRegression(l2=-1.0)
    with pytest.raises(
        ValueError, match="unknown model 'svm'; valid models: least-squares, logistic"
    ):
        make_model("svm")
    with pytest.raises(ValueError, match="unknown parameter.* lam .*valid parameters: l2"):
        make_model("logistic", lam=1.0)
    with pytest.raises(ValueError, match=r"w must have shape \(3,\)"):
        LeastSquares().grad(np.zeros(2), np.ones((3, 2)), np.ones(3), np.ones(2))


def test_check_data_accepts_and_normalises():
    X, y = check_data(np.array([[1, 2], [3, 4]]), [0, 1], binary=True)
    assert X.dtype == np.float64 and y.dtype == np.float64
    Xs, _ = check_data(sp.coo_matrix(np.eye(2)), np.zeros(2))
    assert Xs.format == "csr"
    X32, _ = check_data(np.ones((2, 2), dtype=np.float32), np.zeros(2))
    assert X32.dtype == np.float32


def test_check_data_errors():
    X = np.zeros((10, 3))
    X[7, 1], X[8, 0], X[9, 2] = np.nan, np.inf, -np.inf
    with pytest.raises(
        ValueError, match=r"X has 3 non-finite values \(NaN or inf\); first at row 7"
    ):
        check_data(X, np.zeros(10))
    Xs = sp.csr_matrix(np.eye(6))
    Xs.data[4] = np.nan  # the diagonal entry of row 4
    with pytest.raises(ValueError, match="X has 1 non-finite values.*first at row 4"):
        check_data(Xs, np.zeros(6))
    with pytest.raises(ValueError, match=r"y has 1 non-finite values.*first at row 2"):
        check_data(np.eye(3), np.array([0.0, 1.0, np.nan]))
    with pytest.raises(ValueError, match=r"y must be 1-D with one label per row of X \(m=3\)"):
        check_data(np.eye(3), np.zeros(4))
    with pytest.raises(ValueError, match=r"X must be 2-D"):
        check_data(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match=r"binary labels in \{0, 1\}, got other values: -1"):
        LogisticRegression().check_data(np.eye(3), np.array([-1.0, 1.0, 0.0]))
    LeastSquares().check_data(np.eye(3), np.array([-1.0, 1.0, 0.5]))  # real targets are fine
