"""Suite-wide settings: prepared data sets are cached in a temporary folder, never in ~/.cache."""

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _dataset_cache(tmp_path_factory):
    old = os.environ.get("GRADCODE_CACHE")
    os.environ["GRADCODE_CACHE"] = str(tmp_path_factory.mktemp("gradcode-cache"))
    yield
    if old is None:
        os.environ.pop("GRADCODE_CACHE", None)
    else:
        os.environ["GRADCODE_CACHE"] = old


@pytest.fixture
def no_leaks():
    """After the test: no child process alive, nothing new left in /dev/shm (modules that start
    engines use it: ``pytestmark = [..., pytest.mark.usefixtures("no_leaks")]``)."""
    import multiprocessing

    from outside import leaked_shm, shm_entries

    before = shm_entries()
    yield
    assert multiprocessing.active_children() == []
    assert leaked_shm(before) == []


BIG_ROWS, BIG_D = 40_000, 1_000  # X: 320 MB, θ: 8 KB


@pytest.fixture(scope="session")
def big_file(tmp_path_factory):
    """A training set in a file, far larger than θ and than a bare Python process (320 MB)."""
    import numpy as np

    from gradcode.data.rows import save_rows

    rng = np.random.default_rng(5)
    path = tmp_path_factory.mktemp("big") / "big.npz"
    X = rng.standard_normal((BIG_ROWS, BIG_D))
    y = (X[:, 0] + 0.5 * rng.standard_normal(BIG_ROWS) > 0).astype(float)
    save_rows(path, X, y)
    return path
