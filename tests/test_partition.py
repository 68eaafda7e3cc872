import numpy as np
import pytest

from gradcode.data import split_rows, worker_rows


def test_split_rows_covers_every_row_contiguously_and_evenly():
    for m in range(1, 40):
        for k in range(1, m + 1):
            parts = split_rows(m, k)
            assert len(parts) == k
            np.testing.assert_array_equal(np.concatenate(parts), np.arange(m))
            sizes = [len(p) for p in parts]
            assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1
            assert all(p.dtype == np.int64 for p in parts)


def test_split_rows_hand_case():
    assert [p.tolist() for p in split_rows(7, 3)] == [[0, 1, 2], [3, 4], [5, 6]]


def test_split_rows_errors():
    with pytest.raises(ValueError, match=r"cannot split m=3 rows into k=5 partitions: need m >= k"):
        split_rows(3, 5)
    with pytest.raises(ValueError, match=r"k must be >= 1, got k=0"):
        split_rows(3, 0)


def test_worker_rows_hand_case():
    parts = split_rows(7, 3)  # [0,1,2], [3,4], [5,6]
    rows, w = worker_rows((2, 0), np.array([0.5, 0.0, -1.0]), parts)
    assert rows.tolist() == [5, 6, 0, 1, 2]
    assert w.tolist() == [-1.0, -1.0, 0.5, 0.5, 0.5]
    rows, w = worker_rows((), np.zeros(3), parts)
    assert rows.size == 0 and w.size == 0 and rows.dtype == np.int64


def test_worker_rows_errors():
    parts = split_rows(6, 3)
    with pytest.raises(ValueError, match=r"partition ids must satisfy 0 <= j < k=3, got \[3\]"):
        worker_rows((0, 3), np.ones(3), parts)
    with pytest.raises(ValueError, match=r"B_row must have shape \(3,\)"):
        worker_rows((0,), np.ones(4), parts)
