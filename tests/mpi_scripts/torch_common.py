"""Shared setup of the torch MPI script and its test (tests/test_torch.py computes the reference)."""

from __future__ import annotations

import numpy as np

from gradcode.data import load_dataset
from gradcode.delays import FixedStragglers
from gradcode.models.torch import TorchModel, mlp

N, ROUNDS, LR, MOMENTUM = 4, 20, 0.5, 0.9
# scheme -> s; the random cyclic B of seed 1 amplifies float32 rounding by at most 8 (docs/torch.md)
CASES = {"naive": 0, "frc": 1, "cyclic": 1, "cyclic-mds": 1}
STRAGGLERS = FixedStragglers(workers=(2,), delay=0.03)


def data() -> tuple[np.ndarray, np.ndarray]:
    """600 rows of scikit-learn's digits, binary (digit >= 5), standardized (on every rank)."""
    ds = load_dataset("digits", use_cache=False)
    return ds.X_train[:600], ds.y_train[:600]


def model() -> TorchModel:
    """A float32 MLP 64 -> 16 -> 1 with the BCE loss."""
    return mlp(hidden=(16,))
