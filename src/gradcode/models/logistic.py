"""Binary logistic regression with labels y in {0, 1}."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import expit

from gradcode.models.base import LinearModel


@dataclass(frozen=True)
class LogisticRegression(LinearModel):
    """l_r = log(1 + exp(-t_r z_r)) with t = 2y - 1, z = X @ theta; dl/dz = sigmoid(z) - y.

    Computed stably with ``np.logaddexp`` and ``scipy.special.expit``.
    """

    name: ClassVar[str] = "logistic"
    binary_labels: ClassVar[bool] = True

    def _terms(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.logaddexp(0.0, -(2.0 * y - 1.0) * z)

    def _dz(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        return expit(z) - y
