"""Communication-efficient codes on bandwidth-limited links: measured rounds against the simulator.

    .venv/bin/python benchmarks/bench_comm.py [--quick] [--rounds 40] [--seed 0]

One data set (synthetic Gaussian mixture, 1,200 rows x d=2,000 features, seed 0), n=8 workers on
the local engine, s=1, float64 messages (16,000 bytes uncoded), the same seed, delays and links
for every scheme. Work and network are emulated so the numbers do not depend on the shared cores:
`row_time` 2e-4 s per row (150 rows a partition: 30 ms each), links of 1e5 bytes/s slowed per
(round, worker) by U[1, 1.5] (seeded), and exponential straggler delays (mean 50 ms, seeded).
Communication is then the larger part of an uncoded round (160-240 ms of link against 30 ms of
work). Schemes: naive, cyclic-mds, comm-cyclic with m in {1, 2, 4} (m=1 is cyclic-mds).

Per scheme: the message length and bytes, the bytes the master receives per round (messages of the
round and stale ones), the measured mean round time, and the simulator's prediction with the same
delay and link models, rounds chained as the runtime runs them (carryover), t_partition =
row_time x rows per partition and the master's measured per-round gap; the difference must stay
within 10 %. The final training loss shows every exact scheme computed the same trajectory.
"""

# ruff: noqa: E402
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np

import gradcode as gc
from _common import CONSOLE, base_parser, fmt, print_footer, print_header, print_table, verdict
from gradcode.data.synthetic import gaussian_mixture
from gradcode.links import parse_link
from gradcode.models import make_model
from gradcode.runtime.worker import message_width
from gradcode.simulate import simulate

N, S, ROWS, D = 8, 1, 1200, 2000
ROW_TIME = 2e-4
LINK = "rate=1e5;spread=0.5;seed={seed}"
DELAY = "exponential:mean=0.05;seed={seed}"
SCHEMES = ("naive", "cyclic-mds", "comm-cyclic:m=1", "comm-cyclic:m=2", "comm-cyclic:m=4")
TARGET = 0.10  # simulated vs measured mean round time

COLUMNS = (
    "scheme",
    "m",
    "load",
    "message\nvalues",
    "message\nbytes",
    "bytes per\nround",
    "measured\nmean ms",
    "simulated\nmean ms",
    "sim vs\nmeasured",
    "final\nloss",
)


def run_scheme(name: str, X, y, rounds: int, seed: int) -> tuple[list[str], float]:
    s = 0 if name == "naive" else S
    code = gc.make_code(name, N, s, seed=seed)
    delay, link = DELAY.format(seed=seed), LINK.format(seed=seed)
    result = gc.train(
        code, X, y, rounds=rounds, delay=delay, link=link, row_time=ROW_TIME, eval_every=0,
        seed=seed, lr=0.5,
    )  # fmt: skip
    walls = np.array([r.wall_s for r in result.rounds])
    L = message_width(D)  # what a worker sends: the gradient, then the loss
    width = code.message_length(L)
    nbytes = width * 8
    received = np.mean([(r.messages + r.stale) * nbytes for r in result.rounds])
    rows_per_partition = ROWS / code.k
    sim = simulate(
        code,
        delay,
        rounds,
        t_partition=ROW_TIME * rows_per_partition,
        link=parse_link(link),
        length=L,
        carryover=True,
    )
    measured, predicted = float(walls.mean()), sim.mean
    gap = predicted / measured - 1.0
    model = make_model("logistic", l2=1e-4)
    loss = model.loss(result.theta, X, y) / X.shape[0] + model.penalty(result.theta)
    row = [
        name,
        str(code.blocks),
        str(code.load),
        f"{width:,}",
        f"{nbytes:,}",
        f"{received:,.0f}",
        fmt(measured * 1e3),
        fmt(predicted * 1e3),
        f"{gap:+.1%}",
        f"{loss:.6f}",
    ]
    return row, gap


def main() -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, help="rounds per scheme (default 40; quick 8)")
    args = parser.parse_args()
    rounds = args.rounds or (8 if args.quick else 40)
    start = print_header("gradcode: communication-efficient codes on slow links")
    X, y = gaussian_mixture(ROWS, D, seed=args.seed)
    CONSOLE.print(
        f"n={N}, s={S}, rows={ROWS}, d={D}, float64, rounds={rounds}, row_time={ROW_TIME}, "
        f"link {LINK.format(seed=args.seed)}, delay {DELAY.format(seed=args.seed)}",
        markup=False,
    )
    rows, gaps = [], []
    for name in SCHEMES:
        row, gap = run_scheme(name, X, y, rounds, args.seed)
        rows.append(row)
        gaps.append(gap)
    print_table(
        "bandwidth-limited emulated links: bytes per round and round time, measured and simulated",
        COLUMNS,
        rows,
    )
    ok = all(abs(g) <= TARGET for g in gaps)
    CONSOLE.print(f"simulated within {TARGET:.0%} of measured for every scheme: {verdict(ok)}")
    print_footer(start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
