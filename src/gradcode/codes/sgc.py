"""Stochastic gradient coding (Bitar, Wootters, El Rouayheb, IEEE JSAIT 2020).

Each of the k = n partitions is placed on `load` distinct workers drawn uniformly at random
(seeded), independently across partitions; B[i, j] = 1/load where worker i holds partition j. So
every partition is replicated `load` times while the workers' loads vary (mean `load`, the most
loaded worker's count is `code.load`; a worker may hold none). The paper decodes with the fixed
a = 1/(load·(1-p)) on the survivors; here the master uses the least-squares best a, never worse.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .approx import LeastSquaresDecoder, check_load, normal_equations
from .base import GradientCode


def sgc(n: int, s: int, rng: np.random.Generator, *, load: int = 2) -> GradientCode:
    """Partition j on `load` random distinct workers (a random `load`-subset per partition)."""
    d = check_load(load, n, "sgc")
    holders = np.stack([rng.choice(n, d, replace=False) for _ in range(n)])  # row j: j's holders
    cols = np.repeat(np.arange(n), d)
    B = sp.csr_array((np.full(n * d, 1.0 / d), (holders.ravel(), cols)), shape=(n, n))
    return GradientCode(
        "sgc",
        n,
        s,
        B,
        exact=False,
        make_decoder=lambda c: LeastSquaresDecoder(c.n, c.n - c.s, normal_equations(c.B_sparse)),
        notes=f"approximate: each partition on {d} random workers (worker loads vary)",
    )
