"""Closed-form expected round times (independent rounds): order statistics of i.i.d. reply times
under the exponential, Pareto and Markov delay models, for the decoder's order statistic."""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Real
from typing import Any

import numpy as np
from scipy import special

from ..codes import GradientCode
from ..delays import (
    DelayModel,
    ExponentialDelay,
    FixedStragglers,
    MarkovDelay,
    NoDelay,
    ParetoDelay,
)
from .rounds import as_delay_model, profile, ready_rule, reply_times


def expected_round_time(
    code: GradientCode,
    delays: DelayModel | str | None = None,
    *,
    t_partition: float = 0.01,
    comm: float = 0.0,
    overhead: float = 0.0,
) -> float | None:
    """E[round time] in closed form (independent rounds), or None where none is known.

    Known: deterministic models (none, fixed) for any code; for i.i.d. worker times and equal
    loads L (compute = L t_partition, plus comm) and X_(k:n) the k-th order statistic of n:
    exponential (E X_(k:n) = mean (H_n - H_{n-k}) for p = 1, a binomial mixture of those
    otherwise), Pareto (E P_(k:n) = n!/(n-k)! Γ(n-k+1-1/α)/Γ(n+1-1/α)) and the stationary
    Markov model (two-point times: slow iff more than n-k workers are slow); for FRC groups the
    max over G groups of the min of m = s+1 replies. None for asynchronous and budget codes.
    """
    delays = as_delay_model(delays)
    if code.staleness is not None or code.budget is not None:  # only the simulation
        return None
    if ready_rule(code) is None or not (isinstance(comm, Real) and isinstance(t_partition, Real)):
        return None
    prof = profile(code)
    if isinstance(delays, (NoDelay, FixedStragglers)):  # deterministic: one round is exact
        T = reply_times(delays, 0, 1, prof, t_partition, comm)
        return float(code.decodable_at(T)[0]) + overhead
    loads = prof.work
    closed = CLOSED_FORMS.get(type(delays))
    shape = code.decoder.order_statistic
    if closed is None or not prof.single or not np.allclose(loads, loads[0]) or shape is None:
        return None
    return closed(delays, shape, loads[0] * t_partition, comm) + overhead


def _binom() -> Any:
    """scipy.stats.binom, imported on first use: scipy.stats takes half a second to import."""
    from scipy.stats import binom

    return binom


def harmonic(j: int) -> float:
    """H_j = 1 + 1/2 + ... + 1/j (H_0 = 0)."""
    return float(special.digamma(j + 1) + np.euler_gamma)


def pareto_order_mean(k: int, n: int, alpha: float) -> float:
    """E of the k-th smallest of n i.i.d. Pareto(alpha) (P(X > x) = x^-alpha, x >= 1)."""
    if alpha * (n - k + 1) <= 1:
        return math.inf
    a = 1.0 / alpha
    return math.exp(
        special.gammaln(n + 1)
        - special.gammaln(n - k + 1)
        + special.gammaln(n - k + 1 - a)
        - special.gammaln(n + 1 - a)
    )


def _exponential(d: ExponentialDelay, shape: tuple, compute: float, comm: float) -> float:
    kind, a, b = shape
    if kind == "kth":  # J ~ Bin(n, p) delayed workers; the k-th is the (k-n+J)-th of J exps
        k, n = a, b
        js = range(n - k + 1, n + 1)
        tail = sum(_binom().pmf(j, n, d.p) * (harmonic(j) - harmonic(n - k)) for j in js)
    else:  # a group's min is Exp(mean/m) when all m are delayed (p^m), else 0
        G, m = a, b
        q = d.p**m
        tail = sum(_binom().pmf(j, G, q) * harmonic(j) for j in range(1, G + 1)) / m
    return compute + comm + d.shift + d.mean * tail


def _pareto(d: ParetoDelay, shape: tuple, compute: float, comm: float) -> float:
    kind, a, b = shape
    if kind == "kth":
        mean = pareto_order_mean(a, b, d.alpha)
    else:  # the min of m Pareto(alpha) is Pareto(m alpha); then the max of G of those
        mean = pareto_order_mean(a, a, d.alpha * b)
    return compute + comm + d.scale * (mean - 1.0)


def _markov(d: MarkovDelay, shape: tuple, compute: float, comm: float) -> float:
    kind, a, b = shape
    if kind == "kth":  # slow round iff more than n-k of the n workers are slow
        p_slow = _binom().sf(b - a, b, d.fraction)
    else:  # slow round iff some group is entirely slow
        p_slow = 1.0 - (1.0 - d.fraction**b) ** a
    return compute + comm + (compute * (d.factor - 1.0) + d.delay) * float(p_slow)


CLOSED_FORMS: dict[type, Callable[[object, tuple, float, float], float]] = {
    ExponentialDelay: _exponential,
    ParetoDelay: _pareto,
    MarkovDelay: _markov,
}
