"""Shared setup of the MPI test scripts (run under mpiexec by tests/test_mpi.py)."""

from __future__ import annotations

import numpy as np

from gradcode.data.synthetic import gaussian_mixture

N, S, ROUNDS, LR = 6, 2, 10, 0.5
MULTI = {  # case name -> code spec
    "partial-cyclic": "partial-cyclic:P=4",
    "partial-frc": "partial-frc",
    "stream": "stream",
    "hetero": "hetero:speeds=1,1,2,2,1,3",
    "comm-cyclic": "comm-cyclic:m=2",  # block messages: ceil(4/2) values each
}


def data() -> tuple[np.ndarray, np.ndarray]:
    """A small binary problem: 90 rows, 4 features (the same on every rank)."""
    return gaussian_mixture(90, 4, seed=1)


def gd_kwargs(**kw) -> dict:
    """Plain GD from theta0 = 0, parameters recorded, on the mpi engine."""
    base = dict(
        seed=0,
        optimizer="gd",
        lr=LR,
        l2=0.0,  # the old default of gc.train: the reference (tests/test_mpi.py) has no penalty
        rounds=ROUNDS,
        engine="mpi",
        record_params=True,
        theta0=np.zeros(4),
    )
    return base | kw
