"""Advice: sweep every scheme and s under a delay model, recommend the least mean and p95."""

from __future__ import annotations

from dataclasses import dataclass

from ..delays import DelayModel
from .sweep import Point, sweep


@dataclass(frozen=True)
class Advice:
    """A sweep and its recommendations: least expected round time and least p95."""

    n: int
    delays: str
    points: tuple[Point, ...]
    best_mean: Point
    best_p95: Point
    skipped: tuple[str, ...] = ()  # "scheme: why" for the schemes with no point


def advise(
    n: int,
    delays: DelayModel | str | None = None,
    *,
    exact_only: bool = True,
    **kw,
) -> Advice:
    """Sweep schemes and s (`sweep`'s arguments) and recommend the least mean and least p95
    round time (ties: the smaller data share); approximate codes ("ignore", expander, ...) only
    compete when ``exact_only`` is False."""
    result = sweep(n, delays, **kw)
    eligible = [p for p in result.points if p.exact or not exact_only]
    if not eligible:
        raise ValueError(f"no scheme is available for n={n} with the given schemes and s values")
    return Advice(
        n,
        result.delays,
        result.points,
        min(eligible, key=lambda p: (p.mean, p.p95, p.share)),
        min(eligible, key=lambda p: (p.p95, p.mean, p.share)),
        result.skipped,
    )
