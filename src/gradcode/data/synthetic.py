"""Synthetic data: the paper's two-Gaussian mixture for logistic regression."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def as_generator(seed: int | np.random.Generator) -> np.random.Generator:
    """A numpy Generator from an int seed (>= 0) or an existing Generator (returned as is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be an int >= 0 or a numpy Generator, got seed={seed!r}")
    return np.random.default_rng(int(seed))


def gaussian_mixture(
    m: int,
    d: int,
    *,
    seed: int | np.random.Generator,
    separation: float = 3.0,
    dtype: npt.DTypeLike = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """m rows of x ~ N(mu_y, I_d) with labels y uniform in {0, 1}; returns dense (X, y).

    The means are mu_1 = -mu_0 = (separation / 2) * u for a uniformly random unit direction u,
    so ||mu_1 - mu_0|| = separation for every d and the Bayes-optimal (linear) classifier has
    error Phi(-separation / 2) (about 6.7% for the default 3.0). y is float64.
    """
    if m < 1 or d < 1:
        raise ValueError(f"m and d must be >= 1, got m={m}, d={d}")
    if not (np.isfinite(separation) and separation >= 0):
        raise ValueError(f"separation must be a finite number >= 0, got separation={separation!r}")
    if np.dtype(dtype).kind != "f":
        raise ValueError(f"dtype must be a floating-point type, got dtype={np.dtype(dtype)}")
    rng = as_generator(seed)
    u = rng.standard_normal(d)
    u /= np.linalg.norm(u)
    y = rng.integers(0, 2, size=m).astype(np.float64)
    mu = np.outer(2.0 * y - 1.0, 0.5 * separation * u)
    X = (mu + rng.standard_normal((m, d))).astype(dtype, copy=False)
    return X, y
