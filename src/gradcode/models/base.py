"""Objective interface and the single-process reference objective.

Notation (Tandon et al. 2017): m rows, d features, k partitions, encoding matrix B (n x k).
A worker's coded gradient is the gradient of a *sample-weighted* loss sum_r w_r l_r(theta), where
row r of partition j carries weight w_r = B[i, j]; models compute it in one vectorised pass.
The full objective is F(theta) = (1/m) sum_r l_r(theta) + penalty(theta).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from ..arrays import Matrix, check_data


@runtime_checkable
class Model(Protocol):
    """A differentiable objective with per-row sample weights."""

    name: str

    def init(self, d: int) -> np.ndarray:
        """Initial parameters: zeros(d), float64."""
        ...

    def grad(
        self, theta: np.ndarray, X: Matrix, y: np.ndarray, w: np.ndarray | None = None
    ) -> np.ndarray:
        """sum_r w_r * grad l_r(theta); no 1/m, no regularisation."""
        ...

    def loss(
        self, theta: np.ndarray, X: Matrix, y: np.ndarray, w: np.ndarray | None = None
    ) -> float:
        """sum_r w_r * l_r(theta) (w=None means all ones)."""
        ...

    def penalty_grad(self, theta: np.ndarray) -> np.ndarray:
        """Gradient of the regulariser."""
        ...

    def penalty(self, theta: np.ndarray) -> float:
        """Value of the regulariser."""
        ...

    def predict_score(self, theta: np.ndarray, X: Matrix) -> np.ndarray:
        """Decision scores, one per row."""
        ...


class L2Penalty:
    """The regulariser 0.5 * l2 * ||θ||², applied on the master in float64, for models with an
    `l2` field."""

    l2: float

    def check_l2(self) -> None:
        if not (np.isfinite(self.l2) and self.l2 >= 0):
            raise ValueError(f"l2 must be a finite number >= 0, got l2={self.l2!r}")

    def penalty_grad(self, theta: np.ndarray) -> np.ndarray:
        return self.l2 * np.asarray(theta, dtype=np.float64)

    def penalty(self, theta: np.ndarray) -> float:
        theta = np.asarray(theta, dtype=np.float64)
        return 0.5 * self.l2 * float(theta @ theta)


@dataclass(frozen=True)
class LinearModel(L2Penalty):
    """Base for models whose loss depends on the row only through z_r = x_r . theta.

    Subclasses give the per-row loss l(z, y) and its derivative dl/dz; then
    grad = X.T @ (w * dl/dz(X @ theta, y)): one X @ theta and one X.T @ r, for dense ndarrays
    and CSR matrices alike. Dense rows narrow enough go block by block (`fused_rows`), so each
    block of X is read from memory once for both products. Regulariser: 0.5 * l2 * ||theta||^2.
    """

    l2: float = 0.0
    name: ClassVar[str] = "linear"
    binary_labels: ClassVar[bool] = False

    def __post_init__(self) -> None:
        self.check_l2()

    def _terms(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per-row losses l(z_r, y_r)."""
        raise NotImplementedError

    def _dz(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per-row derivatives dl/dz at (z_r, y_r)."""
        raise NotImplementedError

    def init(self, d: int) -> np.ndarray:
        if d < 1:
            raise ValueError(f"d must be >= 1, got d={d}")
        return np.zeros(d, dtype=np.float64)

    def grad(
        self, theta: np.ndarray, X: Matrix, y: np.ndarray, w: np.ndarray | None = None
    ) -> np.ndarray:
        return self.value_and_grad(theta, X, y, w, loss=False)[1]

    def loss(
        self, theta: np.ndarray, X: Matrix, y: np.ndarray, w: np.ndarray | None = None
    ) -> float:
        terms = self._terms(np.asarray(X @ theta), y)
        if w is None:
            return float(terms.sum())
        return float(_weights(w, terms.shape[0]) @ terms)

    def value_and_grad(
        self,
        theta: np.ndarray,
        X: Matrix,
        y: np.ndarray,
        w: np.ndarray | None = None,
        *,
        loss: bool = True,
    ) -> tuple[float, np.ndarray]:
        """`loss` and `grad` together, from one X @ theta (loss=False: the gradient only, the
        loss 0.0); dense rows in blocks of `fused_rows(X)`, each block read once for both."""
        if w is not None:
            w = _weights(w, X.shape[0])
        rows = fused_rows(X)
        if rows is None:
            return self._value_and_grad(theta, X, y, w, loss)
        value, g = 0.0, np.zeros(X.shape[1])
        for lo in range(0, X.shape[0], rows):
            part = slice(lo, lo + rows)
            v, gb = self._value_and_grad(
                theta, X[part], y[part], None if w is None else w[part], loss
            )
            value += v
            g += gb
        return value, g

    def _value_and_grad(
        self, theta: np.ndarray, X: Matrix, y: np.ndarray, w: np.ndarray | None, loss: bool
    ) -> tuple[float, np.ndarray]:
        z = np.asarray(X @ theta)
        r = self._dz(z, y)
        value = 0.0
        if loss:
            terms = self._terms(z, y)
            value = float(terms.sum() if w is None else w @ terms)
        if w is not None:
            r *= w
        return value, np.asarray(X.T @ r, dtype=np.float64)

    def predict_score(self, theta: np.ndarray, X: Matrix) -> np.ndarray:
        return np.asarray(X @ theta, dtype=np.float64)

    def check_data(self, X: Matrix, y: np.ndarray) -> tuple[Matrix, np.ndarray]:
        """Validate (X, y) for this model; see :func:`check_data`."""
        return check_data(X, y, binary=self.binary_labels)


FUSE_BYTES = 1 << 21  # a block of dense rows (2 MB) stays in cache from X_b θ to X_bᵀ r_b
FUSE_MIN_ROWS = 64  # wider rows than a block of 64 holds: two whole passes are faster


def fused_rows(X: Matrix) -> int | None:
    """Rows per block for a blocked pass over dense X, or None: one whole pass each (sparse
    rows, rows too wide for a block of FUSE_MIN_ROWS, or X no larger than one block). Measured
    (benchmarks/bench_gradient.py, 2 cores): 3-22% faster when the workers share the cores,
    where memory bandwidth sets the pace, and 0-19% alone."""
    if not isinstance(X, np.ndarray) or X.ndim != 2:
        return None
    rows = FUSE_BYTES // max(1, X.shape[1] * X.itemsize)
    return rows if rows >= FUSE_MIN_ROWS and X.shape[0] > rows else None


def _weights(w: np.ndarray, m: int) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (m,):
        raise ValueError(f"w must have shape ({m},) (one weight per row), got shape {w.shape}")
    return w


def value_and_grad(
    model: Model, theta: np.ndarray, X: Matrix, y: np.ndarray, w: np.ndarray | None, **kw
) -> tuple[float, np.ndarray]:
    """(Σ_r w_r l_r(θ), Σ_r w_r ∇l_r(θ)): what a worker's message carries (the loss as one more
    coordinate). One pass where the model has `value_and_grad`, else `loss` then `grad`."""
    both = getattr(model, "value_and_grad", None)
    if both is not None:
        return both(theta, X, y, w, **kw)
    return model.loss(theta, X, y, w), model.grad(theta, X, y, w, **kw)


def full_objective(
    model: Model, theta: np.ndarray, X: Matrix, y: np.ndarray
) -> tuple[float, np.ndarray]:
    """F(theta) = (1/m) sum_r l_r(theta) + penalty(theta) and its gradient.

    The single-process reference that decoded gradients are tested against.
    """
    m = X.shape[0]
    value = model.loss(theta, X, y) / m + model.penalty(theta)
    gradient = model.grad(theta, X, y) / m + model.penalty_grad(theta)
    return value, gradient
