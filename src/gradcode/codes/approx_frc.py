"""Approximate fractional repetition (ErasureHead: Wang, Charles, Papailiopoulos, 2019).

Workers form groups of `load` consecutive workers; each group holds its own `load` partitions and
every member sends their sum (B = I ⊗ 1_{load x load}, as FRC with load = s+1). Unlike exact FRC
the master does not wait for every group: after n-s replies it sums one reply per group that
replied, and the partitions of a group with no reply are lost. When load does not divide n the
last group is smaller: its n mod load workers hold its n mod load partitions (k = n throughout).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .approx import LeastSquaresDecoder, check_load, group_mean
from .base import GradientCode


def approx_frc(n: int, s: int, rng: np.random.Generator, *, load: int = 2) -> GradientCode:
    """Groups of `load` workers replicate `load` partitions; optimal decode: a_i = 1/|F ∩ g(i)|
    (the mean of a group's identical replies, i.e. one reply per group)."""
    d = check_load(load, n, "approx-frc")
    group = np.arange(n) // d
    cols = (group * d)[:, None] + np.arange(d)  # the members of each worker's group
    rows, cols = np.nonzero(cols < n)[0], cols[cols < n]
    B = sp.csr_array((np.ones(cols.size), (rows, cols)), shape=(n, n))
    notes = f"approximate: groups of {d} workers" + (
        f", the last of {n % d} (load does not divide n={n})" if n % d else ""
    )
    return GradientCode(
        "approx-frc",
        n,
        s,
        B,
        exact=False,
        make_decoder=lambda c: LeastSquaresDecoder(c.n, c.n - c.s, group_mean(group)),
        notes=notes,
    )
