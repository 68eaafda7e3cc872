"""The design-matrix type and the validation of a data set (X, y), shared by models and data."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import numpy as np
import scipy.sparse as sp

Matrix: TypeAlias = np.ndarray | sp.csr_matrix | sp.csr_array


def check_data(X: Matrix, y: np.ndarray, *, binary: bool = False) -> tuple[Matrix, np.ndarray]:
    """Validate and normalise a data set; returns (X, y) ready for the models.

    X: 2-D real ndarray or scipy.sparse matrix (converted to CSR; integer/bool become float64);
    y: 1-D, one label per row, returned as float64. No NaN/inf anywhere.
    With ``binary=True`` the labels must lie in {0, 1}. Raises ValueError naming the problem.
    """
    X = X.tocsr() if sp.issparse(X) else np.asarray(X)
    if X.dtype.kind in "biu":
        X = X.astype(np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D with shape (m, d), got shape {X.shape}")
    if X.dtype.kind != "f":
        raise ValueError(f"X must hold real numbers (float), got dtype {X.dtype}")
    m, d = X.shape
    if m < 1 or d < 1:
        raise ValueError(f"X must have at least one row and one column, got shape {X.shape}")
    if sp.issparse(X):
        _check_finite("X", X.data, lambda idx: np.searchsorted(X.indptr, idx, side="right") - 1)
    else:
        _check_finite("X", X.ravel(), lambda idx: idx // d)

    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != m:
        raise ValueError(f"y must be 1-D with one label per row of X (m={m}), got shape {y.shape}")
    if y.dtype.kind not in "biuf":
        raise ValueError(f"y must hold numbers, got dtype {y.dtype}")
    y = y.astype(np.float64)
    _check_finite("y", y, lambda idx: idx)
    if binary:
        bad = np.unique(y[(y != 0) & (y != 1)])
        if bad.size:
            shown = ", ".join(f"{v:g}" for v in bad[:5]) + (", ..." if bad.size > 5 else "")
            raise ValueError(f"y must hold binary labels in {{0, 1}}, got other values: {shown}")
    return X, y


def _check_finite(what: str, values: np.ndarray, rows_of: Callable[[int], int]) -> None:
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ValueError(
            f"{what} has {bad.size} non-finite values (NaN or inf); "
            f"first at row {int(rows_of(bad[0]))}"
        )
