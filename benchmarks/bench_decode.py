"""Decoding speed: a new survivor set (structured null-space / closed-form path), a cached set, and
the paper's plain per-round least-squares solve, side by side.

    .venv/bin/python benchmarks/bench_decode.py [--quick] [--seed 0]

Per (scheme, n, s), over uniformly random sets of exactly s stragglers (seeded):

* new set: `code.solve_uncached(mask)`, what `decode` does on a cache miss. It runs the structured
  solve and checks its residual; when the residual exceeds `code.tol` it refines the solution with
  the same structured solver (up to two steps) and, if still above, falls back to a QR
  least-squares solve (`min_norm_lstsq`), far slower. The "fallback" rate (sets that leave the
  plain structured path, for refinement or the reference solve) is measured over a pool of
  sets and the two paths are timed separately: "new" = (1 - rate) x fast + rate x fallback, the
  expected cost of one new set. "fast" alone is the typical (median) set.
* cached: `code.decode(mask)` with a bool-mask numpy input on sets already decoded.
* plain: `np.linalg.lstsq(B[F].T, ones, rcond=None)`, the paper's implementation, per set.
* setup: the one-time cost the first `decode` pays to build the decoder (`code.decoder`: dense B
  and an SVD of B for cyclic; closed forms for frc and cyclic-mds), timed on a fresh code.

Times are medians over repeats (per set), then medians over sets. Targets: cached <= 20 µs; a new
set at n=1000, s=10 at least 10x faster than the plain solve (judged on the expected cost).
"""

from __future__ import annotations

import math
from contextlib import suppress
from dataclasses import dataclass

import numpy as np

import gradcode as gc
from _common import (
    CONSOLE,
    SCHEMES,
    available,
    base_parser,
    fmt,
    median_seconds,
    paper_decode,
    print_footer,
    print_header,
    print_table,
    random_survivor_masks,
    seconds,
    verdict,
)
from gradcode.codes import DecodingError, GradientCode

N_VALUES = (12, 100, 1000)
S_VALUES = (1, 4, 10)
CACHED_TARGET_S = 20e-6
SPEEDUP_TARGET = 10.0
SPEEDUP_CASE = (1000, 10)


@dataclass(frozen=True)
class Plan:
    """How many sets and repeats each measurement uses."""

    pool: int  # random sets drawn; the fallback rate is measured over all of them
    fast_sets: int  # sets timed on the structured path
    repeats: int  # timings per set (median), fast and plain paths
    fallback_sets: int  # sets timed on the fallback path (about 1 s each at n=1000)
    plain_sets: int
    plain_repeats: int
    cached_sets: int
    cached_passes: int  # decodes of every cached set per timing
    cached_repeats: int


def plan_for(n: int, quick: bool) -> Plan:
    """Fewer plain solves at n=1000 (about 0.3 s each on 2 cores); far fewer for --quick."""
    big = n >= 1000
    if quick:
        return Plan(100, 20, 3, 1, 2 if big else 10, 1 if big else 3, 16, 20, 3)
    return Plan(
        1000, 50 if big else 200, 5, 2 if big else 3, 5 if big else 100, 1 if big else 5, 64, 50, 7
    )


@dataclass(frozen=True)
class Result:
    name: str
    n: int
    s: int
    code_s: int
    setup: float  # seconds to build the decoder
    fast: float  # seconds per new set on the structured path (median)
    fallback_rate: float
    fallback: float  # seconds per new set on the fallback path (median; NaN when none seen)
    cached: float
    plain: float

    @property
    def new(self) -> float:
        """Expected seconds per new set: the fast path, or the fallback at its measured rate."""
        if self.fallback_rate == 0:
            return self.fast
        return (1 - self.fallback_rate) * self.fast + self.fallback_rate * self.fallback

    @property
    def cached_ok(self) -> bool:
        return self.cached <= CACHED_TARGET_S

    @property
    def speedup_ok(self) -> bool | None:
        """The new-set target, for the (n, s) it applies to."""
        if (self.n, self.s) != SPEEDUP_CASE:
            return None
        return self.plain / self.new >= SPEEDUP_TARGET


def needs_fallback(code: GradientCode, mask: np.ndarray) -> bool:
    """Whether `solve_uncached` leaves the structured path for this set: the same residual test
    it applies (exact codes only)."""
    return code.exact and code.residual(code.decoder.solve(mask)) > code.tol


def time_new(code: GradientCode, masks: np.ndarray, repeats: int) -> float:
    """Median over sets of the median time of `solve_uncached`; NaN for no sets. A refusal
    (DecodingError) is timed like a decode: the master pays it too."""

    def attempt(mask: np.ndarray) -> None:
        with suppress(DecodingError):
            code.solve_uncached(mask)

    if len(masks) == 0:
        return math.nan
    return float(np.median([median_seconds(lambda m=m: attempt(m), repeats) for m in masks]))


def time_cached(code: GradientCode, masks: np.ndarray, passes: int, repeats: int) -> float:
    """Seconds per `decode` of a cached bool mask: masks decoded once, then timed in passes."""
    for mask in masks:
        code.decode(mask)

    def run() -> None:
        for _ in range(passes):
            for mask in masks:
                code.decode(mask)

    return median_seconds(run, repeats) / (passes * len(masks))


def time_plain(B: np.ndarray, masks: np.ndarray, repeats: int) -> float:
    times = [median_seconds(lambda m=m: paper_decode(B, m), repeats) for m in masks]
    return float(np.median(times))


def bench_case(name: str, n: int, s: int, plan: Plan, seed: int) -> Result:
    rng = np.random.default_rng([seed, n, s])
    code = gc.make_code(name, n, s, seed=seed)
    setup = seconds(lambda: code.decoder)
    masks = random_survivor_masks(n, s, plan.pool, rng)
    slow = np.array([needs_fallback(code, m) for m in masks])
    fast_masks, slow_masks = masks[~slow], masks[slow]

    return Result(
        name=name,
        n=n,
        s=s,
        code_s=code.s,
        setup=setup,
        fast=time_new(code, fast_masks[: plan.fast_sets], plan.repeats),
        fallback_rate=float(slow.mean()),
        fallback=time_new(code, slow_masks[: plan.fallback_sets], 1),
        cached=time_cached(
            code, fast_masks[: plan.cached_sets], plan.cached_passes, plan.cached_repeats
        ),
        plain=time_plain(code.B, masks[: plan.plain_sets], plan.plain_repeats),
    )


COLUMNS = (
    "scheme",
    "n",
    "s",
    "code\ns",
    "setup\nms",
    "fast\nµs",
    "fallback\n%",
    "fallback\nms",
    "new\nµs",
    "cached\nµs",
    "plain\nµs",
    "plain/\nnew",
    "plain/\nfast",
    "plain/\ncached",
    "cached\n<=20 µs",
    "new\n>=10x",
)


def row(r: Result) -> list[str]:
    speedup = r.speedup_ok
    return [
        r.name,
        str(r.n),
        str(r.s),
        str(r.code_s),
        fmt(r.setup * 1e3, ",.2f"),
        fmt(r.fast * 1e6),
        fmt(100 * r.fallback_rate),
        fmt(r.fallback * 1e3),
        fmt(r.new * 1e6),
        fmt(r.cached * 1e6, ".2f"),
        fmt(r.plain * 1e6),
        fmt(r.plain / r.new),
        fmt(r.plain / r.fast),
        fmt(r.plain / r.cached),
        verdict(r.cached_ok),
        "-" if speedup is None else verdict(speedup),
    ]


def main() -> int:
    args = base_parser(__doc__.splitlines()[0]).parse_args()
    start = print_header("gradcode decoding speed")
    results: list[Result] = []
    rows: list[list[str] | None] = []
    for n in N_VALUES:
        for s in S_VALUES:
            for name in SCHEMES:
                if available(name, n, s):
                    results.append(bench_case(name, n, s, plan_for(n, args.quick), args.seed))
                    rows.append(row(results[-1]))
            rows.append(None)
    print_table("µs per decode (median); new = expected cost of a new set", COLUMNS, rows[:-1])

    failed = [r for r in results if not r.cached_ok or r.speedup_ok is False]
    CONSOLE.print(
        f"cached <= 20 µs: {sum(r.cached_ok for r in results)}/{len(results)} cases; "
        f"new set >= {SPEEDUP_TARGET:.0f}x plain at n, s = {SPEEDUP_CASE}: "
        + ", ".join(
            f"{r.name} {verdict(bool(r.speedup_ok))}" for r in results if r.speedup_ok is not None
        )
    )
    CONSOLE.print(f"overall: {verdict(not failed)}")
    print_footer(start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
