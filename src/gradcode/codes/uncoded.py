"""Uncoded baselines: `naive` (wait for all n; optionally a robust aggregate against Byzantine
workers) and `ignore` (first n-s, rescaled by n/(n-s))."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .aggregate import AGGREGATORS, make_aggregate
from .base import GradientCode
from .decoders import UniformDecoder


def naive(n: int, s: int, rng: np.random.Generator, agg: str = "", f: int = 1) -> GradientCode:
    """B = I; the master waits for every worker (tolerates no stragglers).

    With `agg` (one of `AGGREGATORS`: median, trimmed, krum, multikrum, geomed) the master
    estimates the sum of the n messages with that robust rule, assuming up to `f` Byzantine
    workers, instead of adding them: ``naive:agg=krum;f=2``. Not exact (honest workers' data is
    down-weighted too), and each rule needs enough workers for f (trimmed, median, geomed: 2f < n;
    krum, multikrum: n >= 2f + 3)."""
    if s != 0:
        raise ValueError(f"naive tolerates no stragglers: s must be 0, got s={s}")
    if not agg:
        if f != 1:
            raise ValueError(
                f"f (Byzantine workers assumed) applies only with a robust aggregate, got f={f!r} "
                f"without agg; valid aggregators: {', '.join(sorted(AGGREGATORS))}"
            )
        return GradientCode(
            "naive",
            n,
            0,
            sp.csr_array(sp.eye(n)),
            exact=True,
            make_decoder=lambda c: UniformDecoder(c.n, c.n),
        )
    return GradientCode(
        "naive",
        n,
        0,
        sp.csr_array(sp.eye(n)),
        exact=False,
        make_decoder=lambda c: UniformDecoder(c.n, c.n),
        notes=f"robust aggregation ({agg}, f={f}): not exact",
        aggregate=make_aggregate(agg, n, f),
    )


def ignore(n: int, s: int, rng: np.random.Generator) -> GradientCode:
    """The paper's "ignoring stragglers": B = I, the first n-s replies rescaled by n/(n-s)."""
    return GradientCode(
        "ignore",
        n,
        s,
        sp.csr_array(sp.eye(n)),
        exact=False,
        make_decoder=lambda c: UniformDecoder(c.n, c.n - c.s),
        notes="approximate: drops the stragglers' partitions and rescales the rest",
    )
