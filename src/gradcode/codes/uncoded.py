"""Uncoded baselines: `naive` (wait for all n; optionally a robust aggregate against Byzantine
workers), `ignore` (first n-s, rescaled by n/(n-s)) and `async` (no waiting: each message applied
as it arrives, within a staleness bound)."""

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


def asynchronous(n: int, s: int, rng: np.random.Generator, staleness: int = 2) -> GradientCode:
    """Asynchronous SGD with a staleness bound T = `staleness` (stale synchronous parallel, Ho et
    al., NIPS 2013), in the master/worker form: ``async:staleness=T``.

    B = I (one partition per worker, as naive). Worker i computes its partition's gradient at
    the θ it was last sent; the master applies each message as it arrives, θ <- θ - lr (g_i/m +
    ∇penalty(θ_i)/n) with θ_i the θ the message was computed at, and hands worker i the current
    θ at once, unless worker i's clock (its messages applied) would then exceed the slowest live
    worker's by more than T: then it waits until the slowest catches up. T = 0 is naive's
    gradient descent (every clock's gradients computed at one θ); no worker is ever waited for
    beyond the bound, and a dead worker leaves the clock. Plain gradient descent only (the
    runtime refuses other optimizers and deadlines). s does not apply: it must be 0."""
    if s != 0:
        raise ValueError(
            f"async waits for no straggler (its tolerance is the staleness bound): s must be 0, "
            f"got s={s}"
        )
    if isinstance(staleness, bool) or not (isinstance(staleness, int) and staleness >= 0):
        raise ValueError(
            f"staleness must be an integer >= 0 (clocks a worker may run ahead of the slowest), "
            f"got staleness={staleness!r}"
        )
    return GradientCode(
        "async",
        n,
        0,
        sp.csr_array(sp.eye(n)),
        exact=staleness == 0,
        make_decoder=lambda c: UniformDecoder(c.n, c.n),
        notes=f"asynchronous SGD, staleness bound T={staleness}: not decoded, each message "
        "applied as it arrives" + ("" if staleness else " (T=0: naive's gradient descent)"),
        staleness=staleness,
    )
