"""Approximate gradient codes: decoding error against stragglers, beside the papers' bounds and the
exact codes, and the optimal decoder's speed against a dense least-squares solve.

    .venv/bin/python benchmarks/bench_approx.py [--quick] [--samples N] [--seed 0]

Per n (24 and 256) and load (2, 3): expander, approx-frc and sgc with that load, and the exact
frc / cyclic-mds / cyclic codes built for s = load - 1 (so every code holds `load` partitions
per worker; a code that does not exist for (n, load) is skipped). For every t, `--samples`
uniformly random sets of exactly t stragglers (seeded, the same sets for every code) decode to
the least-squares best a (`gradcode.study`); a cell is the mean of error(a) = ||aᵀB - 1ᵀ||²/k,
and under each approximate code its paper's bound (`gradcode.codes.bounds`). BIBD codes exist
only for special n (load about sqrt(n)): a third table compares them at their own n with the
other approximate codes of the same load.

Worst case: at n=13, load 4, the largest error over *every* set of t stragglers (what an adversary
choosing the stragglers achieves), for the BIBD code (projective plane of order 3) and the others.

Check: each measured error lies within its bound: worst-case and every-set bounds hold on every
sampled set (max <= bound), expectations within 4 standard errors of the mean.
Speed: median time of `code.decoder.solve` (the optimal decoder) against `np.linalg.lstsq` on
B_F at n=256, t=64.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from _common import (
    CONSOLE,
    all_survivor_masks,
    base_parser,
    median_seconds,
    paper_decode,
    print_footer,
    print_header,
    print_table,
    verdict,
)
from gradcode.codes import make_code
from gradcode.codes.bounds import bound_kind, error_bound
from gradcode.study import Point, optimal_error, random_masks, study

APPROX = ("expander", "approx-frc", "sgc")
EXACT = ("frc", "cyclic-mds", "cyclic")
CASES = {24: (0, 1, 2, 3, 4, 6, 8, 12), 256: (0, 4, 16, 32, 64, 128)}
BIBD_N = (13, 31, 57, 183)  # PG(2, q) for q = 3, 5, 7, 13: loads 4, 6, 8, 14
BIBD_FRACTIONS = (1 / 8, 1 / 4, 1 / 2)
WORST_CASE = (13, 4, (1, 2, 3, 4, 5, 6))  # n, load, t: every one of the C(n, t) straggler sets
SPEED_CASE = (256, 64)


def within(p: Point) -> bool:
    """The measured error against its bound (module docstring); no bound: True."""
    if math.isnan(p.bound):
        return True
    if p.bound_kind in ("worst case", "every set", "exact up to s"):
        return p.max <= p.bound + 1e-9
    return p.mean <= p.bound + 4 * p.std / math.sqrt(p.samples) + 1e-12


def cell(x: float) -> str:
    return "-" if math.isnan(x) else ("0" if x < 1e-12 else f"{x:.4f}")


def rows_of(points: list[Point]) -> list[list[str] | None]:
    """A mean row per code and a bound row under each approximate one."""
    rows: list[list[str] | None] = []
    for key in dict.fromkeys((p.scheme, p.load, p.n) for p in points):
        pts = [p for p in points if (p.scheme, p.load, p.n) == key]
        first = pts[0]
        label = f"{first.scheme} (s={first.s})" if first.exact else first.scheme
        rows.append([label, str(first.load), "mean", *(cell(p.mean) for p in pts)])
        if not first.exact:
            rows.append(["", "", first.bound_kind, *(cell(p.bound) for p in pts)])
    return rows


def worst_case(seed: int) -> list[list[str] | None]:
    """Max error over every set of t stragglers (the adversary's choice) at WORST_CASE."""
    n, load, ts = WORST_CASE
    rows: list[list[str] | None] = []
    for scheme in ("bibd", *APPROX):
        code = make_code(scheme, n, 0, seed=seed, load=load)
        worst = [max(optimal_error(code, m) for m in all_survivor_masks(n, t)) for t in ts]
        rows.append([scheme, "max over all sets", *(cell(x) for x in worst)])
        rows.append(["", bound_kind(code), *(cell(error_bound(code, t)) for t in ts)])
    return rows


def speed(samples: int, seed: int) -> list[list[str]]:
    """Median µs per decode, optimal decoder vs dense lstsq on B_F, at SPEED_CASE."""
    n, t = SPEED_CASE
    masks = random_masks(n, t, samples, np.random.default_rng(seed))
    rows = []
    for scheme in ("expander", "approx-frc", "sgc"):
        for load in (2, 3):
            code = make_code(scheme, n, 0, seed=seed, load=load)
            ours = np.median([median_seconds(partial(code.decoder.solve, m), 3) for m in masks])
            plain = np.median([median_seconds(partial(paper_decode, code.B, m), 3) for m in masks])
            rows.append([scheme, str(load), f"{ours * 1e6:,.0f}", f"{plain * 1e6:,.0f}",
                         f"{plain / ours:.1f}x"])  # fmt: skip
    return rows


def main() -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=500, help="straggler sets per point")
    args = parser.parse_args()
    samples = 20 if args.quick else args.samples
    start = print_header("gradcode approximate codes: error vs stragglers")
    checked: list[Point] = []
    for n, ts in CASES.items():
        result = study(n, [2, 3], list(ts), samples=samples, seed=args.seed,
                       schemes=APPROX + EXACT)  # fmt: skip
        checked += result.points
        print_table(
            f"n={n}: mean error over {samples} random sets of t stragglers, and the paper's bound",
            ["code", "load", "row", *(f"t={t}" for t in ts)],
            rows_of(result.points),
            left=3,
        )
        for line in result.skipped:
            CONSOLE.print(f"  skipped {line}", markup=False)
    rows: list[list[str] | None] = []
    for n in BIBD_N:
        ts = [round(f * n) for f in BIBD_FRACTIONS]
        load = make_code("bibd", n, 0).load
        result = study(n, [load], ts, samples=samples, seed=args.seed,
                       schemes=("bibd", *APPROX))  # fmt: skip
        checked += result.points
        for row in rows_of(result.points):
            rows.append([f"{row[0]}", f"n={n}" if row[1] else "", *row[1:]] if row else row)
        rows.append(None)
    print_table(
        f"BIBD codes (projective planes) at their n: mean error, t = n/8, n/4, n/2, {samples} sets",
        ["code", "n", "load", "row", "t=n/8", "t=n/4", "t=n/2"],
        rows[:-1],
        left=4,
    )
    n, load, ts = WORST_CASE
    print_table(
        f"worst case: max error over all C({n}, t) straggler sets, load {load}, n={n}",
        ["code", "row", *(f"t={t}" for t in ts)],
        worst_case(args.seed),
        left=2,
    )
    speed_rows = speed(20 if args.quick else 100, args.seed)
    n, t = SPEED_CASE
    print_table(
        f"optimal decoder vs dense lstsq on B_F, n={n}, t={t}: median µs per decode",
        ["code", "load", "decoder", "lstsq", "speed-up"],
        speed_rows,
        left=2,
    )
    bad = [p for p in checked if not within(p)]
    for p in bad:
        CONSOLE.print(f"  outside its bound: {p}", markup=False)
    CONSOLE.print(
        f"measured errors within the papers' bounds: {len(checked) - len(bad)}/{len(checked)} "
        f"points: {verdict(not bad)}"
    )
    print_footer(start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
