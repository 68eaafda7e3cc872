"""Expander-graph approximate gradient code (Raviv, Tamo, Tandon, Dimakis, ICML 2018, Sec. 5).

B is the normalised adjacency matrix of a random d-regular bipartite graph between the n workers
and the k = n partitions: every worker holds d = `load` partitions and every partition lies on d
workers, B[i, j] = 1/d on the edges, so B is doubly stochastic and a = 1 decodes when nobody
straggles. Random regular graphs are near-Ramanujan expanders (second singular value of B close
to 2·sqrt(d-1)/d), which bounds the decoding error for *every* straggler set (`bounds.py`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from .approx import LeastSquaresDecoder, check_load, normal_equations
from .base import GradientCode


def regular_bipartite(n: int, d: int, rng: np.random.Generator) -> NDArray[np.intp]:
    """Columns (n, d) of a random simple d-regular bipartite graph on n + n vertices.

    Configuration model (a random pairing of the n·d edge ends) whose repeated edges are removed
    by random swaps of edge ends; for d > n/2 the complement of a random (n-d)-regular graph.
    """
    if 2 * d > n:
        taken = np.zeros((n, n), dtype=bool)
        if d < n:
            np.put_along_axis(taken, regular_bipartite(n, n - d, rng), True, axis=1)
        return np.nonzero(~taken)[1].reshape(n, d)
    cols = rng.permutation(np.repeat(np.arange(n), d)).reshape(n, d)
    while True:
        ordered = np.sort(cols, axis=1)
        bad = np.flatnonzero((ordered[:, 1:] == ordered[:, :-1]).any(axis=1))
        if bad.size == 0:
            return cols
        for r in bad:
            while np.unique(cols[r]).size < d:
                p = int(np.setdiff1d(np.arange(d), np.unique(cols[r], return_index=True)[1])[0])
                r2, q = int(rng.integers(n)), int(rng.integers(d))
                if r2 != r and cols[r2, q] not in cols[r] and cols[r, p] not in cols[r2]:
                    cols[r, p], cols[r2, q] = cols[r2, q], cols[r, p]


def expander(n: int, s: int, rng: np.random.Generator, *, load: int = 2) -> GradientCode:
    """Worker i holds the `load` partitions adjacent to it in a random `load`-regular bipartite
    graph; B = adjacency / load. Decodes from any survivors to the least-squares best a."""
    d = check_load(load, n, "expander")
    cols = regular_bipartite(n, d, rng)
    rows = np.repeat(np.arange(n), d)
    B = sp.csr_array((np.full(n * d, 1.0 / d), (rows, cols.ravel())), shape=(n, n))
    return GradientCode(
        "expander",
        n,
        s,
        B,
        exact=False,
        make_decoder=lambda c: LeastSquaresDecoder(c.n, c.n - c.s, normal_equations(c.B_sparse)),
        notes=f"approximate: random {d}-regular bipartite graph, B = adjacency/{d}",
    )
