"""scikit-learn's bundled data sets (shipped inside the package, so usable offline)."""

from __future__ import annotations

from types import ModuleType

import numpy as np

from ..registry import require


def _sklearn() -> ModuleType:
    return require("sklearn.datasets", "datasets", "the bundled data sets", "scikit-learn")


def breast_cancer() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Wisconsin diagnostic breast cancer: (X (569, 30) float64, y, feature names).

    y is scikit-learn's target: 1 = benign (357 rows), 0 = malignant (212 rows).
    """
    bunch = _sklearn().load_breast_cancer()
    return (
        np.asarray(bunch.data, dtype=np.float64),
        np.asarray(bunch.target, dtype=np.float64),
        [str(name) for name in bunch.feature_names],
    )


def digits() -> tuple[np.ndarray, np.ndarray]:
    """8x8 handwritten digits: (X (1797, 64) float64 pixel values 0..16, y the digit 0..9)."""
    bunch = _sklearn().load_digits()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.float64)
