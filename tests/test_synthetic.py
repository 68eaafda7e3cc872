import math

import numpy as np
import pytest

from gradcode.data import as_generator, gaussian_mixture
from gradcode.models import check_data


def test_shapes_types_and_labels():
    X, y = gaussian_mixture(50, 7, seed=0)
    assert X.shape == (50, 7) and X.dtype == np.float64 and y.shape == (50,)
    assert set(np.unique(y)) == {0.0, 1.0}
    check_data(X, y, binary=True)
    X32, _ = gaussian_mixture(5, 3, seed=0, dtype=np.float32)
    assert X32.dtype == np.float32


def test_seeded_and_reproducible():
    a, b = gaussian_mixture(20, 4, seed=3), gaussian_mixture(20, 4, seed=3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    c = gaussian_mixture(20, 4, seed=np.random.default_rng(3))
    np.testing.assert_array_equal(a[0], c[0])
    assert not np.array_equal(a[0], gaussian_mixture(20, 4, seed=4)[0])


def test_means_are_separated_as_documented():
    sep = 3.0
    X, y = gaussian_mixture(20000, 10, seed=1, separation=sep)
    mu1, mu0 = X[y == 1].mean(axis=0), X[y == 0].mean(axis=0)
    np.testing.assert_allclose(mu1, -mu0, atol=0.06)
    assert np.linalg.norm(mu1 - mu0) == pytest.approx(sep, rel=0.03)
    assert abs(y.mean() - 0.5) < 0.02
    # the Bayes classifier sign(x . (mu1 - mu0)) errs with probability Phi(-sep / 2)
    error = np.mean((X @ (mu1 - mu0) > 0) != (y == 1))
    assert error == pytest.approx(0.5 * math.erfc(sep / 2 / math.sqrt(2)), abs=0.01)


def test_errors():
    with pytest.raises(
        ValueError, match=r"seed must be an int >= 0 or a numpy Generator, got seed=No"
    ):
        gaussian_mixture(5, 2, seed=None)
    with pytest.raises(ValueError, match="seed must be"):
        as_generator(-1)
    with pytest.raises(ValueError, match=r"m and d must be >= 1, got m=0, d=2"):
        gaussian_mixture(0, 2, seed=0)
    with pytest.raises(ValueError, match="separation must be"):
        gaussian_mixture(5, 2, seed=0, separation=-1.0)
    with pytest.raises(ValueError, match="dtype must be a floating-point type"):
        gaussian_mixture(5, 2, seed=0, dtype=np.int64)
