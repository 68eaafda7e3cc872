"""A worker's gradient: dense rows in cache-sized blocks (one read of X) against two whole passes.

    .venv/bin/python benchmarks/bench_gradient.py [--quick] [--seed 0]

`LinearModel.value_and_grad` computes z = X θ, r = w * dl/dz and Xᵀ r. Over X whole that reads X
from memory twice; block by block (`models.base.fused_rows`: 2 MB of rows at a time) the block
is still in cache for Xᵀ r, so X is read once. Measured for logistic regression on the shapes
the runtime benchmark's workers hold, both ways, interleaved A/B (3 pairs; 1 with --quick):
- alone: one process, nothing else running (median of 25 calls);
- together: P processes at once on this machine's cores, each with its own rows, woken by a
  pipe like a round's workers (median over 30 rounds of the time until all P are done), which is
  where memory bandwidth, not arithmetic, sets the pace.
Reported: medians in ms and blocked/whole ratios; the gradients agree to 1e-12 relative.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy loads: one BLAS thread per process

import functools  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from _common import (  # noqa: E402
    base_parser,
    fmt,
    median_ms,
    print_footer,
    print_header,
    print_table,
    together_ms,
)
from gradcode.models import base  # noqa: E402
from gradcode.models.logistic import LogisticRegression  # noqa: E402

SHAPES = [  # (rows a worker holds, d, processes together): bench_runtime (b) and (a) workers
    (4000, 2000, 5),
    (12_500, 1000, 8),
    (250, 100_000, 8),
]
MODEL = LogisticRegression(l2=1e-4)


def whole(fn: Callable[[], object]) -> Callable[[], object]:
    """fn with the blocked pass switched off (two passes over X whole)."""

    def call() -> object:
        saved, base.FUSE_BYTES = base.FUSE_BYTES, 0
        try:
            return fn()
        finally:
            base.FUSE_BYTES = saved

    return call


def main() -> None:
    args = base_parser(__doc__).parse_args()
    rng = np.random.default_rng(args.seed)
    calls, rounds, pairs = (5, 6, 1) if args.quick else (25, 30, 3)
    start = print_header("bench_gradient: blocked dense rows against two whole passes")
    table = []
    for m, d, procs in SHAPES[:2] if args.quick else SHAPES:
        m = m // 10 if args.quick else m
        data = []
        for _ in range(procs):
            X = rng.standard_normal((m, d))
            y = (rng.random(m) < 0.5).astype(np.float64)
            w = rng.random(m) + 0.5
            data.append((X, y, w))
        theta = 0.01 * rng.standard_normal(d)
        fns = [functools.partial(MODEL.value_and_grad, theta, X, y, w) for X, y, w in data]
        blocked_v, blocked_g = fns[0]()
        whole_v, whole_g = whole(fns[0])()
        rel = float(np.abs(blocked_g - whole_g).max() / np.abs(whole_g).max())
        rel = max(rel, abs(blocked_v - whole_v) / abs(whole_v))
        a_blk, a_whl, t_blk, t_whl = [], [], [], []
        for _ in range(pairs):  # interleaved A/B
            a_whl.append(median_ms(whole(fns[0]), calls))
            a_blk.append(median_ms(fns[0], calls))
            t_whl.append(together_ms([whole(f) for f in fns], rounds))
            t_blk.append(together_ms(fns, rounds))
        rows = base.fused_rows(data[0][0])
        a_b, a_w, t_b, t_w = (float(np.median(x)) for x in (a_blk, a_whl, t_blk, t_whl))
        table.append(
            [
                f"{m:,} x {d:,}",
                f"{m * d * 8 / 2**20:.0f}",
                "-" if rows is None else f"{rows}",
                str(procs),
                fmt(a_w, ".2f"),
                fmt(a_b, ".2f"),
                fmt(a_b / a_w, ".2f"),
                fmt(t_w, ".1f"),
                fmt(t_b, ".1f"),
                fmt(t_b / t_w, ".2f"),
                f"{rel:.0e}",
            ]
        )
    columns = [
        "rows x d",
        "X MB",
        "block rows",
        "P",
        "alone whole ms",
        "alone blocked ms",
        "ratio",
        "P together whole ms",
        "blocked ms",
        "ratio",
        "max rel diff",
    ]
    print_table(
        f"logistic value_and_grad with weights; medians over {pairs} interleaved A/B pairs; "
        f"'-' block rows: not blocked (rows wider than {base.FUSE_BYTES >> 20} MB / "
        f"{base.FUSE_MIN_ROWS})",
        columns,
        table,
    )
    print_footer(start)


if __name__ == "__main__":
    main()
