"""Robust aggregation: the baselines practitioners use against Byzantine workers instead of coding.

The uncoded scheme (`naive:agg=...;f=...`) has worker i send V_i, the plain gradient sum over its
own partition (the last column is the partition's loss sum, one more coordinate). Honest messages
are n draws around a common mean; up to f of them may be arbitrary. Every rule here maps the
stacked messages V (n, L) to an estimate of the sum over all n partitions, n × a robust mean,
shape (L,):

- ``median``: the coordinate-wise median (breakdown point 1/2; needs 2f < n);
- ``trimmed``: the coordinate-wise mean after dropping the f largest and f smallest values of
  every coordinate (needs 2f < n);
- ``krum``: the message with the lowest Krum score, score_i = the sum of squared distances to its
  n-f-2 nearest other messages (Blanchard, El Mhamdi, Guerraoui, Stainer, NeurIPS 2017; needs
  n >= 2f + 3);
- ``multikrum``: the mean of the m = n-f messages with the lowest Krum scores (same paper);
- ``geomed``: the geometric median argmin_z sum_i ||V_i - z||, by smoothed Weiszfeld iterations
  (Weiszfeld 1937; the smoothing of Pillutla, Kakade, Harchaoui, "Robust aggregation for
  federated learning", 2019), started at the coordinate-wise median (needs 2f < n).

Distances come from one Gram matrix of the messages centred at their coordinate-wise median
(centring keeps honest distances free of the cancellation a huge Byzantine row would cause);
squared distances are clipped at 0. A message with a non-finite entry (inf, NaN) counts as
infinitely far: Krum never picks it while finite ones can be, the geometric median ignores it,
and the coordinate rules read NaN as +inf, one more extreme value they trim or outvote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
Rule = Callable[[Array, int], Array]  # (V (n, L), f) -> estimate of the sum, (L,)

GEOMED_TOL = 1e-10  # stop at ||z' - z|| <= tol * mean_i ||V_i - z||
GEOMED_ITERATIONS = 200
SMOOTHING = 1e-8  # Weiszfeld distances are floored at SMOOTHING x (median distance to the start)


def _no_nan(V: Array) -> Array:
    """V with NaN read as +inf (an extreme value, which the coordinate rules trim or outvote)."""
    return np.where(np.isnan(V), np.inf, V) if np.isnan(V).any() else V


def coordinate_median(V: Array) -> Array:
    """The coordinate-wise median of the rows of V (as `numpy.median`, by one sort along the rows:
    several times faster than `numpy.median` over axis 0 of a row-major V)."""
    n = V.shape[0]
    S = np.sort(V, axis=0)
    return S[n // 2] if n % 2 else (S[n // 2 - 1] + S[n // 2]) / 2


def median(V: Array, f: int = 0) -> Array:
    """n × the coordinate-wise median of the messages (f is only checked by `make_aggregate`)."""
    return V.shape[0] * coordinate_median(_no_nan(V))


def trimmed_mean(V: Array, f: int) -> Array:
    """n × the coordinate-wise mean of the n-2f values left after dropping the f largest and the
    f smallest of every coordinate; f = 0 is the plain sum, exactly."""
    n = V.shape[0]
    if f == 0:
        return V.sum(axis=0)
    kept = np.sort(_no_nan(V), axis=0)[f : n - f]
    return kept.sum(axis=0) * (n / (n - 2 * f))


def _centred_gram(V: Array) -> tuple[Array, Array, Array, NDArray[np.bool_]]:
    """(C, G, m, finite): the finite messages centred at their coordinate-wise median m,
    their Gram matrix G = C Cᵀ (n, n) and the mask of usable rows; a row with a non-finite entry,
    or one whose squared distance to m overflows, is 0 in C and G and False in the mask."""
    finite = np.asarray(np.isfinite(V).all(axis=1))
    if finite.all():
        m = coordinate_median(V)
        C = V - m
    else:
        m = coordinate_median(V[finite]) if finite.any() else np.zeros(V.shape[1])
        C = np.where(finite[:, None], V - m, 0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        G = C @ C.T
    huge = ~np.isfinite(np.diag(G))  # finite, but too far for a float64 squared distance
    if huge.any():
        finite = finite & ~huge
        C[huge] = 0.0
        G[huge, :] = 0.0
        G[:, huge] = 0.0
    return C, G, m, finite


def krum_scores(V: Array, f: int) -> Array:
    """Krum score of every message (n,): the sum of its squared distances to its n-f-2 nearest
    other messages (+inf for a message with a non-finite entry, or without n-f-2 finite others)."""
    n = V.shape[0]
    _, G, _, finite = _centred_gram(V)
    g = np.diag(G)
    with np.errstate(over="ignore"):
        D2 = np.maximum(g[:, None] + g[None, :] - 2.0 * G, 0.0)  # squared distances, clipped
    D2[~finite, :] = np.inf
    D2[:, ~finite] = np.inf
    np.fill_diagonal(D2, np.inf)  # a message is not its own neighbour
    near = n - f - 2
    if near <= 0:  # n <= f + 2: no neighbours to score (make_aggregate refuses this)
        return np.where(finite, 0.0, np.inf)
    return np.partition(D2, near - 1, axis=1)[:, :near].sum(axis=1)


def krum(V: Array, f: int) -> Array:
    """n × the message with the lowest Krum score (ties: the lowest worker id)."""
    return V.shape[0] * V[int(np.argmin(krum_scores(V, f)))]


def multi_krum(V: Array, f: int) -> Array:
    """n × the mean of the m = n-f messages with the lowest Krum scores; with f = 0 it is the
    plain sum of the messages, exactly."""
    n = V.shape[0]
    m = n - f
    if m == n:
        return V.sum(axis=0)
    chosen = np.sort(np.argsort(krum_scores(V, f), kind="stable")[:m])
    return V[chosen].sum(axis=0) * (n / m)


def geometric_median(
    V: Array, f: int = 0, *, tol: float = GEOMED_TOL, iterations: int = GEOMED_ITERATIONS
) -> Array:
    """n × the geometric median argmin_z sum_i ||V_i - z|| of the finite messages.

    Smoothed Weiszfeld from z0 = the coordinate-wise median m: z' = sum_i w_i V_i / sum_i w_i with
    w_i = 1 / max(||V_i - z||, ν), ν = SMOOTHING × the median of ||V_i - m|| (a message at z gets
    the largest weight instead of a division by zero). After the first step z = m + Cᵀα is a
    convex combination, so the iteration runs on α (n values) with the Gram matrix G of the
    centred messages C = V - m: ||V_i - z||² = G_ii - 2(Gα)_i + αᵀGα. It stops at a relative
    change ||z' - z|| <= tol × the mean distance of the messages to z (a scale that, unlike
    ||z||, a common offset of the messages does not change) or after `iterations` steps (f is
    only checked by `make_aggregate`).
    """
    n, L = V.shape
    C, G, m, finite = _centred_gram(V)
    if not finite.any():
        return np.full(L, np.nan)
    g = np.diag(G).copy()
    radius = np.sqrt(np.maximum(g[finite], 0.0))
    nu = SMOOTHING * float(np.median(radius))
    nu = nu if nu > 0 else np.finfo(float).tiny  # most messages equal: they pin z at once
    alpha = np.zeros(n)  # z = m
    Galpha = np.zeros(n)
    for _ in range(iterations):
        d = np.sqrt(np.maximum(g - 2.0 * Galpha + alpha @ Galpha, 0.0))
        w = np.where(finite, nu / np.maximum(d, nu), 0.0)  # ∝ 1 / max(d, ν), in (0, 1]
        new = w / w.sum()
        step = new - alpha
        Gnew = G @ new
        change = np.sqrt(max(float(step @ (Gnew - Galpha)), 0.0))  # ||z' - z||
        alpha, Galpha = new, Gnew
        if change <= tol * float(d[finite].mean()):
            break
    return n * (m + alpha @ C)


AGGREGATORS: dict[str, Rule] = {
    "median": median,
    "trimmed": trimmed_mean,
    "krum": krum,
    "multikrum": multi_krum,
    "geomed": geometric_median,
}

# rule -> (whether (n, f) is allowed, the requirement in words)
REQUIREMENTS: dict[str, tuple[Callable[[int, int], bool], str]] = {
    "median": (lambda n, f: 2 * f < n, "2f < n"),
    "trimmed": (lambda n, f: 2 * f < n, "2f < n"),
    "krum": (lambda n, f: n >= 2 * f + 3, "n >= 2f + 3 (Blanchard et al. 2017)"),
    "multikrum": (lambda n, f: n >= 2 * f + 3, "n >= 2f + 3 (Blanchard et al. 2017)"),
    "geomed": (lambda n, f: 2 * f < n, "2f < n"),
}


@dataclass(frozen=True)
class Aggregate:
    """The robust rule `name` for n messages with up to f Byzantine: V (n, L) -> the estimated
    sum over the n partitions (L,). Built by `make_aggregate`, which checks (n, f)."""

    name: str
    n: int
    f: int

    def __call__(self, V: Array) -> Array:
        V = np.asarray(V, dtype=float)
        if V.ndim != 2 or V.shape[0] != self.n:
            raise ValueError(
                f"{self.name} aggregates n={self.n} messages: V must have shape "
                f"({self.n}, L), got shape {V.shape}"
            )
        return AGGREGATORS[self.name](V, self.f)

    def __repr__(self) -> str:
        return f"<Aggregate {self.name} n={self.n} f={self.f}>"


def make_aggregate(name: str, n: int, f: int) -> Aggregate:
    """The robust aggregate `name` (one of `AGGREGATORS`) for n workers, up to f of them Byzantine;
    ValueError when the rule cannot tolerate f attackers among n."""
    if not isinstance(name, str) or name not in AGGREGATORS:
        raise ValueError(
            f"unknown aggregator {name!r}; valid aggregators: {', '.join(sorted(AGGREGATORS))}"
        )
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got n={n!r}")
    if isinstance(f, bool) or not isinstance(f, (int, np.integer)) or f < 0:
        raise ValueError(f"f (Byzantine workers assumed) must be an integer >= 0, got f={f!r}")
    allowed, requirement = REQUIREMENTS[name]
    if not allowed(int(n), int(f)):
        raise ValueError(f"{name} needs {requirement}, got n={n}, f={f}")
    return Aggregate(name, int(n), int(f))
