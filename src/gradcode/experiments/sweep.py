"""Sweep: simulate every available (scheme, s) for n workers under the same delays, every code
computing the same data at the same speed.

Loads are compared per unit of data: a worker's `share` is the fraction of the data set it
processes (its work over k), not its count of partitions, and `t_partition` is the time to compute
1/n of the data (one uncoded worker's share), so a code with k partitions computes each in
t_partition·n/k seconds. Partial codes (n + n(P-s-1) chunks), stream and binary codes (unequal
partitions) and block designs (k blocks) are so compared fairly with the k = n codes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

from ..codes import S_FREE_ONLY, SCHEMES, GradientCode, make_code
from ..delays import DelayModel
from ..simulate import as_delay_model, expected_round_time, profile, simulate
from ..simulate.bounds import oracle_times, proportional_share
from ..spec import parse_spec

CLOSED_FORM_KEYS = ("comm", "overhead")  # `simulate` options the closed forms take too


@dataclass(frozen=True)
class Point:
    """One configuration of a sweep."""

    scheme: str
    s: int  # stragglers the code tolerates (cyclic-mds may round s up)
    load: int  # partitions held by the most loaded worker
    share: float  # fraction of the data set the most loaded worker processes
    exact: bool
    mean: float
    median: float
    p95: float
    expected: float | None  # closed form, where one exists


@dataclass(frozen=True)
class Sweep:
    """The points of a sweep and, for each scheme without one, why (`"scheme: reason"`);
    `bound`: the oracle lower bound T* on every exact point's mean (`simulate.bounds`, the
    same for every point: the same data at the same speeds); `proportional`: the delays'
    work-proportional share rho (`bounds.proportional_share`)."""

    n: int
    delays: str
    points: tuple[Point, ...]
    skipped: tuple[str, ...]
    bound: float = math.nan
    proportional: float = math.nan


def share(code: GradientCode) -> float:
    """The largest fraction of the data set one worker of `code` processes."""
    return float(profile(code).work.max() / code.k)


def sweep(
    n: int,
    delays: DelayModel | str | None = None,
    *,
    schemes: Sequence[str] = tuple(SCHEMES),
    s_values: Sequence[int] | None = None,
    rounds: int | None = None,
    seed: int = 0,
    t_partition: float = 0.01,
    **sim: Any,
) -> Sweep:
    """Simulate every available (scheme, s) for n workers under the same delays.

    Unavailable pairs (frc needs (s+1) | n, naive only s = 0, bibd a design on n points) are
    skipped, as are repeats (a cyclic-mds code built for s+1; at s = 0 every scheme counts as
    naive); asynchronous and budget schemes, which take no s, run once, at s = 0. `t_partition` is the seconds for 1/n of the data (module docstring); `sim` goes to
    `simulate` (comm, overhead, carryover, link and length: bandwidth, where shorter messages
    of comm-cyclic codes pay ...).
    """
    unknown = [x for x in schemes if parse_spec(x, "code")[0] not in SCHEMES]
    if unknown:
        raise ValueError(f"unknown scheme(s) {', '.join(unknown)}; valid: {', '.join(SCHEMES)}")
    if not (isinstance(t_partition, Real) and t_partition >= 0):
        raise ValueError(
            f"t_partition must be a number of seconds >= 0 (per 1/n of the data), "
            f"got t_partition={t_partition!r}"
        )
    delays = as_delay_model(delays)
    s_values = range(min(n, 9)) if s_values is None else s_values
    points: dict[tuple[str, int], Point] = {}
    skipped = []
    for scheme in schemes:
        why = f"no s in {list(s_values)}"
        s_free = parse_spec(scheme, "code")[0] in S_FREE_ONLY  # s does not apply: once
        for s in [0] if s_free else s_values:
            try:
                code = make_code(scheme, n, s, seed=seed)
            except ValueError as e:  # first sentence only (bibd lists every design)
                why = str(e).split(". ")[0].removeprefix(f"{scheme}: ")
                continue
            # s = 0: all are naive (but block, asynchronous and budget codes)
            naive = (code.s, code.blocks, code.staleness, code.budget) == (0, 1, None, None)
            key = ("naive", 0) if naive else (scheme, code.s)
            if key in points:
                why = "s=0 only, which is naive" if code.s == 0 else why
                continue
            points[key] = point(key[0], code, delays, rounds, t_partition * n / code.k, sim)
        if not any(p == scheme for p, _ in points):
            skipped.append(f"{scheme}: {why}")
    bound, rho = limits(n, delays, rounds, t_partition, sim)
    return Sweep(n, repr(delays), tuple(points.values()), tuple(skipped), bound, rho)


def limits(
    n: int, delays: DelayModel, rounds: int | None, t_partition: float, sim: dict
) -> tuple[float, float]:
    """(T*, rho) of a sweep: the whole data set is n x t_partition compute seconds."""
    first = int(sim.get("first_round", 0))
    comm = sim.get("comm", 0.0)
    T = oracle_times(delays, rounds, n, work_s=n * t_partition, comm=comm, first_round=first)
    bound = float(T.mean()) + float(sim.get("overhead", 0.0))
    rho = proportional_share(delays, n, rounds, share_s=t_partition, first_round=first)
    return bound, rho


def point(
    scheme: str, code: GradientCode, delays: DelayModel, rounds: int | None, t: float, sim: dict
) -> Point:
    """Simulate `code` with t seconds per partition; the closed form too, for independent rounds."""
    result = simulate(code, delays, rounds, t_partition=t, **sim)
    closed = None
    if not sim.get("carryover") and sim.get("link") is None:  # no closed form with links
        kw = {k: sim[k] for k in CLOSED_FORM_KEYS if k in sim}
        closed = expected_round_time(code, delays, t_partition=t, **kw)
    return Point(
        scheme,
        code.s,
        code.load,
        share(code),
        code.exact,
        result.mean,
        result.median,
        result.p95,
        closed,
    )
