"""Linear least squares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from gradcode.models.base import LinearModel


@dataclass(frozen=True)
class LeastSquares(LinearModel):
    """l_r = 0.5 * (x_r . theta - y_r)^2; dl/dz = z - y."""

    name: ClassVar[str] = "least-squares"

    def _terms(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        return 0.5 * (z - y) ** 2

    def _dz(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        return z - y
