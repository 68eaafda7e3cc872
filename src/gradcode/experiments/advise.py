"""Advice: sweep every scheme and s under a delay model, recommend the least mean and p95, and
say what bounds them: the oracle T*, and whether the delays are work-proportional (then codes
decoding from any n-s cannot beat naive, and what would help instead)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..delays import DelayModel
from ..simulate.bounds import WORK_PROPORTIONAL, exponential_penalty
from .sweep import Point, sweep

MARGIN = 0.02  # a code beats naive when its mean is this much less (not within noise)


@dataclass(frozen=True)
class Advice:
    """A sweep and its recommendations: least expected round time and least p95; the oracle
    bound T* (seconds) and the delays' work-proportional share rho (`simulate.bounds`)."""

    n: int
    delays: str
    points: tuple[Point, ...]
    best_mean: Point
    best_p95: Point
    skipped: tuple[str, ...] = ()  # "scheme: why" for the schemes with no point
    bound: float = math.nan
    proportional: float = math.nan

    @property
    def work_proportional(self) -> bool:
        """Whether the slowdown factors make at least `WORK_PROPORTIONAL` of the straggling."""
        return self.proportional >= WORK_PROPORTIONAL


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
        result.bound,
        result.proportional,
    )


def notes(advice: Advice) -> list[str]:
    """What bounds the advice, in sentences: T*, and for work-proportional delays why coding
    helps little, which exact codes (if any) still beat naive here, and what would help."""
    ms = lambda x: f"{x * 1e3:.2f} ms"  # noqa: E731
    lines = []
    if math.isfinite(advice.bound):
        lines.append(
            f"oracle bound T* = {ms(advice.bound)}: total work over total speed, the least "
            "mean round time any exact code can have under these delays"
        )
    if not advice.work_proportional:
        return lines
    n = advice.n
    lines.append(
        f"delays look work-proportional: the slowdown factors make {advice.proportional:.0%} "
        "of the spread of reply times, so a worker's delay grows with its load, and a code "
        "giving each worker (s+1)/n of the data makes its replies s+1 times slower. Codes "
        "decoding from any n-s (cyclic, cyclic-mds) then beat naive only where the slowest "
        "worker is over s+1 times slower than the (n-s)-th; for i.i.d. exponential slowdowns "
        f"they take (s+1)(H_n-H_s)/H_n = {exponential_penalty(n, 1):.2f}x naive's time "
        f"(n={n}, s=1)"
    )
    naive = next((p for p in advice.points if p.scheme == "naive"), None)
    if naive is None:
        return lines
    exact = sorted((p for p in advice.points if p.exact and p.s > 0), key=lambda p: p.mean)
    winners = [p for p in exact if p.mean < naive.mean * (1 - MARGIN)]
    if winners:
        shown = ", ".join(f"{p.scheme} s={p.s} ({ms(p.mean)})" for p in winners[:3])
        lines.append(
            f"exact codes that still beat naive ({ms(naive.mean)}) by over {MARGIN:.0%} here: "
            f"{shown}"
        )
        return lines
    best = (
        f"; the best exact: {exact[0].scheme} s={exact[0].s}, {ms(exact[0].mean)}" if exact else ""
    )
    inexact = min((p for p in advice.points if not p.exact), key=lambda p: p.mean, default=None)
    helps = (
        f"{inexact.scheme} s={inexact.s} ({ms(inexact.mean)}, approximate: steps on the "
        "fastest workers' data, as backup workers do), "
        if inexact is not None and inexact.mean < naive.mean
        else "ignore (approximate: steps on the n-s fastest workers' data, as backup workers "
        "do; --allow-inexact), "
    )
    lines.append(
        f"no exact code beats naive ({ms(naive.mean)}) by over {MARGIN:.0%} here{best}. What would help instead: "
        f"{helps}or a fixed time budget per round (`gradcode train --deadline SECONDS`: step "
        "with what arrived)"
    )
    return lines
