"""Split training rows into k partitions and assemble a worker's rows and weights."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def split_rows(m: int, k: int, sizes: Sequence[float] | None = None) -> list[np.ndarray]:
    """k contiguous index ranges covering rows 0..m-1.

    Without `sizes` the sizes differ by at most one (the first ``m % k`` partitions get one
    extra row); with them, partition j gets about m * sizes[j] / sum(sizes) rows (cumulative
    rounding, so the counts add up to m). Requires 1 <= k <= m.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got k={k}")
    if m < k:
        raise ValueError(f"cannot split m={m} rows into k={k} partitions: need m >= k")
    if sizes is None:
        q, r = divmod(m, k)
        starts = [j * q + min(j, r) for j in range(k + 1)]
    else:
        share = np.asarray(sizes, dtype=float)
        if share.shape != (k,) or not np.all(share > 0):
            raise ValueError(f"sizes must be k={k} positive numbers, got {sizes!r}")
        starts = np.rint(np.r_[0.0, np.cumsum(share)] * (m / share.sum())).astype(int).tolist()
    return [np.arange(starts[j], starts[j + 1], dtype=np.int64) for j in range(k)]


def worker_rows(
    code_partitions: Sequence[int], B_row: np.ndarray, parts: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices worker i holds and the weight of each row.

    ``code_partitions`` is ``code.partitions(i)``, ``B_row`` is ``code.B[i]`` (length k) and
    ``parts`` is ``split_rows(m, k)``. Returns (rows, w): the concatenation of the held partitions
    and ``B_row[j]`` repeated over partition j's rows, so that
    ``model.grad(theta, X[rows], y[rows], w) == sum_j B[i, j] * grad L_j(theta)``.
    """
    B_row = np.asarray(B_row, dtype=np.float64)
    k = len(parts)
    if B_row.shape != (k,):
        raise ValueError(
            f"B_row must have shape ({k},) (one weight per partition), got {B_row.shape}"
        )
    bad = [j for j in code_partitions if not 0 <= j < k]
    if bad:
        raise ValueError(f"partition ids must satisfy 0 <= j < k={k}, got {bad}")
    if not code_partitions:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    held = [np.asarray(parts[j], dtype=np.int64) for j in code_partitions]
    rows = np.concatenate(held)
    w = np.repeat(B_row[list(code_partitions)], [len(p) for p in held])
    return rows, w
