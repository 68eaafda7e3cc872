"""What no scheme can beat, and when coding cannot help: the oracle lower bound T* on a round's
time, and how work-proportional a delay model's straggling is.

The oracle bound. In round t worker i computes at slowdown factor f_ti after extra seconds e_ti
(the delay model's draws, as the simulator uses them), so doing the whole data set alone would
take it ``T_ti = W t_p f_ti + e_ti`` seconds, W t_p being the whole data set's compute seconds
at factor 1 (W partitions of t_p seconds each; `simulate`'s t_partition is t_p). Its speed is
W / T_ti; an oracle spreading the work over the workers in proportion to their speeds finishes
at total work over total speed::

    T*_t = comm + W / sum_i (W / T_ti) = comm + 1 / sum_i 1 / (W t_p f_ti + e_ti)

and T* = overhead + mean_t T*_t over the simulated rounds (the same draws as `simulate`'s).
With equal speeds and no delay (f = 1, e = 0) T* = W t_p / n: the work over n at the per-row
time. A trace replaying recorded total times (f = 0) gives T_ti = e_ti.

Why no exact code beats it, round by round: an exact decode needs every partition in some
arrived message (aᵀB_F = 1ᵀ); a message of worker i carrying w of its work_i <= W units
arrives no earlier than comm + w t_p f_ti + e_ti w / work_i >= comm + (w / W) T_ti (the
simulator and the runtime spread a worker's extra seconds over its messages; one message
carries all of work_i and pays e_ti >= e_ti w / W). So by time T worker i has delivered at most
W (T - comm) / T_ti units, and they must add up to W. Chained rounds (carryover) only start
later and links only add seconds, so the bound holds for them too. Approximate codes, which
may leave data out, can go below it.

Work-proportional delays. A worker's reply of its share u t_p (the uncoded share: 1/n of the
data) takes ``u t_p f_ti + e_ti``: the factor part grows with the load, the extra part does
not. `proportional_share` is the factor part's share of the straggling, the spread of reply
times across the workers of a round::

    rho = sum_t Var_i(u t_p f_ti) / sum_t (Var_i(u t_p f_ti) + Var_i(e_ti))

(NaN when nothing spreads). Where rho is near 1 a worker's delay scales with its load, so a
code giving each worker (s+1)/n of the data (Tandon et al.'s least load for s stragglers)
makes each reply (s+1) times slower: an exact code then wins only if the slowest of n is more
than s+1 times slower than the (n-s)-th. For i.i.d. exponential slowdowns (T_i = L X_i,
X_i ~ Exp) it never is: E[naive] = mu H_n and E[cyclic] = (s+1) mu (H_n - H_s), so the exact
codes take (s+1)(H_n - H_s)/H_n times naive's time (1.41 at n=16, s=1: a speedup of 0.71).
"""

from __future__ import annotations

import math
import warnings
from numbers import Real

import numpy as np

from ..codes import GradientCode
from ..delays import DelayModel, sample_many
from .closed_forms import harmonic
from .rounds import BLOCK_ELEMENTS, _per_worker, _rounds, as_delay_model

WORK_PROPORTIONAL = 0.9  # rho from which delays count as work-proportional


def oracle_times(
    delays: DelayModel | str | None,
    rounds: int | None,
    n: int,
    *,
    work_s: float | DelayModel,
    comm: float | DelayModel = 0.0,
    first_round: int = 0,
) -> np.ndarray:
    """(rounds,) T*_t of the module docstring: comm + 1 / sum_i 1 / (work_s f_ti + e_ti), where
    `work_s` is W t_p, the whole data set's compute seconds at factor 1 (or a delay model whose
    extra draws give each worker's). A model-valued `comm` counts its least draw of the round."""
    delays = as_delay_model(delays)
    rounds = _rounds(rounds, delays)
    out = np.empty(rounds)
    step = max(1, BLOCK_ELEMENTS // n)
    for lo in range(0, rounds, step):
        t = np.arange(first_round + lo, first_round + min(rounds, lo + step))
        extra, factor = sample_many(delays, t, n)
        alone = factor * _per_worker(work_s, t, n) + extra  # T_ti: the whole job alone
        with np.errstate(divide="ignore"):
            speed = (1.0 / alone).sum(axis=1)
            T = 1.0 / speed
        if isinstance(comm, Real):
            T += float(comm)
        else:
            T += _per_worker(comm, t, n).min(axis=1)
        out[lo : lo + t.size] = T
    return out


def oracle_bound(
    code: GradientCode,
    delays: DelayModel | str | None = None,
    rounds: int | None = None,
    *,
    t_partition: float | DelayModel = 0.01,
    comm: float | DelayModel = 0.0,
    overhead: float = 0.0,
    first_round: int = 0,
) -> float:
    """T* for `code`'s data (W = code.k partitions of `t_partition` seconds) under `delays`,
    over the rounds `simulate` would draw with the same arguments: no exact code's mean round
    time is below it (module docstring)."""
    W = float(code.size_of.sum())  # partitions, in units of an average one: k
    work: float | DelayModel
    if isinstance(t_partition, (int, float)):
        work = W * float(t_partition)
    else:
        work = _Scaled(t_partition, W)
    times = oracle_times(delays, rounds, code.n, work_s=work, comm=comm, first_round=first_round)
    return float(times.mean()) + overhead


class _Scaled:
    """A seconds model whose draws are scaled by a constant (k partitions of t_p each)."""

    def __init__(self, model: DelayModel, k: float) -> None:
        self.model, self.k = model, k

    def sample(self, round: int, n: int):
        extra, factor = self.model.sample(round, n)
        return extra * self.k, factor

    def sample_many(self, rounds, n: int):
        extra, factor = sample_many(self.model, rounds, n)
        return extra * self.k, factor


def proportional_share(
    delays: DelayModel | str | None,
    n: int,
    rounds: int | None = None,
    *,
    share_s: float = 0.01,
    first_round: int = 0,
) -> float:
    """rho of the module docstring: the share of the within-round spread of reply times that
    the slowdown factors make, for a reply of `share_s` compute seconds (the uncoded share:
    1/n of the data); NaN when reply times do not spread."""
    delays = as_delay_model(delays)
    rounds = min(_rounds(rounds, delays), max(1, BLOCK_ELEMENTS // n))
    t = np.arange(first_round, first_round + rounds)
    extra, factor = sample_many(delays, t, n)
    extra = np.where(np.isfinite(extra), extra, np.nan)  # a trace's missing replies: no spread
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a round with every reply missing
        part = float(np.nansum(np.nanvar(factor * share_s, axis=1)))
        fixed = float(np.nansum(np.nanvar(extra, axis=1)))
    total = part + fixed
    return part / total if total > 0 else math.nan


def exponential_penalty(n: int, s: int) -> float:
    """(s+1)(H_n - H_s)/H_n: an exact (s+1)-load code's mean round time over naive's under
    i.i.d. exponential work-proportional delays (> 1: the code loses)."""
    return (s + 1) * (harmonic(n) - harmonic(s)) / harmonic(n)
