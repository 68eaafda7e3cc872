"""Uncoded baselines: `naive` (wait for all n; optionally a robust aggregate against Byzantine
workers), `ignore` (first n-s, rescaled by n/(n-s)), and the alternatives practitioners use
instead of coding: `backup` (backup workers: the first n-b, partitions dealt anew every round),
`budget` (fixed-time rounds: each worker computes for T seconds) and `async` (no waiting: each
message applied as it arrives, within a staleness bound)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

import numpy as np
import scipy.sparse as sp

from .aggregate import AGGREGATORS, make_aggregate
from .base import GradientCode
from .decoders import UniformDecoder


def _identity(name: str, n: int, s: int, exact: bool, **kw) -> GradientCode:
    """An uncoded code: B = I, decoded as a = n/|F| once n-s of the n have arrived."""
    return GradientCode(
        name, n, s, sp.csr_array(sp.eye(n)), exact=exact,
        make_decoder=lambda c: UniformDecoder(c.n, c.n - c.s), **kw,
    )  # fmt: skip


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
        return _identity(
            "naive",
            n,
            0,
            exact=True,
        )
    return _identity(
        "naive",
        n,
        0,
        exact=False,
        notes=f"robust aggregation ({agg}, f={f}): not exact",
        aggregate=make_aggregate(agg, n, f),
    )


def ignore(n: int, s: int, rng: np.random.Generator) -> GradientCode:
    """The paper's "ignoring stragglers": B = I, the first n-s replies rescaled by n/(n-s)."""
    return _identity(
        "ignore",
        n,
        s,
        exact=False,
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
    return _identity(
        "async",
        n,
        0,
        exact=staleness == 0,
        notes=f"asynchronous SGD, staleness bound T={staleness}: not decoded, each message "
        "applied as it arrives" + ("" if staleness else " (T=0: naive's gradient descent)"),
        staleness=staleness,
    )


DEAL_STREAM = 6  # [seed, 6, round]: the dealing's stream (delays 0..2, links 3, attacks 4, trust 5)
BUDGET_STREAM = 7  # [seed, 7, round, worker]: where a budget worker starts in its rows


def dealt(seed: int, round: int, n: int) -> np.ndarray:
    """Round `round`'s dealing: worker i computes row dealt(...)[i] of B (a permutation of the n
    rows, the same on every process for the run's `seed`)."""
    return np.random.default_rng((seed, DEAL_STREAM, round)).permutation(n)


def backup(n: int, s: int, rng: np.random.Generator, b: int | None = None) -> GradientCode:
    """Backup workers (Chen et al., "Revisiting distributed synchronous SGD", 2016; TensorFlow's
    SyncReplicasOptimizer with replicas_to_aggregate = n - b): ``backup:b=B``.

    Of n workers the master steps on the first n-b gradients, rescaled by n/(n-b), as `ignore`
    with s = b; but the n partitions are dealt to the workers anew every round (`dealt`, a
    seeded permutation), as workers reading batches from a shared input pipeline get fresh
    ones. So a persistent straggler drops a different partition every round, not the same one
    (ignore's bias, tensorflow/tensorflow#11660). Every worker holds every partition (the
    pipeline's shared storage) and computes one a round. b = 0 is naive. b may come as s
    instead (s given and b left out: b = s; neither: b = 1); given both, they must agree."""
    if b is None:
        b = s or 1
    elif s not in (0, b):
        raise ValueError(f"backup's stragglers are b: give b or s, not both (b={b!r}, s={s})")
    if isinstance(b, bool) or not (isinstance(b, int) and 0 <= b < n):
        raise ValueError(
            f"b (backup workers: gradients not waited for) must be an integer in [0, n) = "
            f"[0, {n}), got b={b!r}"
        )
    return _identity(
        "backup",
        n,
        b,
        exact=b == 0,
        notes=f"backup workers: the first n-b={n - b} of n, partitions dealt anew every round"
        + ("" if b else " (b=0: naive)"),
        deal=True,
    )


@dataclass(frozen=True)
class Budget:
    """Fixed-time rounds: a worker computes its rows in `pieces` contiguous pieces, from a
    seeded piece on (`start`), until the next piece would end after `T` seconds (at least
    one piece; every piece when they fit)."""

    T: float
    pieces: int

    def start(self, seed: int, round: int, worker: int) -> int:
        """The piece worker `worker` starts round `round` at (the others follow cyclically)."""
        rng = np.random.default_rng((seed, BUDGET_STREAM, round, worker))
        return int(rng.integers(self.pieces))

    def over(self, spent: float, done: int) -> bool:
        """Whether a next piece would end after T, `done` >= 1 pieces having taken `spent` s."""
        return spent * (done + 1) / done > self.T


def budget(
    n: int, s: int, rng: np.random.Generator, T: float = 0.1, pieces: int = 32
) -> GradientCode:
    """Fixed-time-budget rounds (Anytime Minibatch, Ferdinand et al., ICLR 2020; DropCompute,
    NeurIPS 2023): ``budget:T=SECONDS;pieces=P``.

    B = I. Each round worker i computes the gradient of its partition's rows piece by piece
    (`pieces` contiguous pieces, starting at a seeded piece each round so every row is reached)
    until the next piece would end after T seconds of the round, and sends the sum of the rows'
    gradients and losses with their count c_i. The master waits for every live worker and
    steps on Σ_i g_i / Σ_i c_i: the mean gradient over the rows finished, weighted by row (a
    dead worker's rows count 0). A budget every worker meets is naive's gradient descent."""
    if s != 0:
        raise ValueError(
            f"budget waits for no straggler (its tolerance is the time budget): s must be 0, "
            f"got s={s}"
        )
    if not (isinstance(T, Real) and not isinstance(T, bool) and math.isfinite(T) and T > 0):
        raise ValueError(f"T (seconds of compute a round) must be a number > 0, got T={T!r}")
    if isinstance(pieces, bool) or not (isinstance(pieces, int) and pieces >= 1):
        raise ValueError(
            f"pieces (of each worker's rows, the budget's granularity) must be an integer >= 1, "
            f"got pieces={pieces!r}"
        )
    return _identity(
        "budget",
        n,
        0,
        exact=False,
        notes=f"fixed-time rounds: {T:g} s of compute a worker, the mean gradient of the rows "
        "finished (exact when every worker finishes)",
        budget=Budget(float(T), pieces),
    )
