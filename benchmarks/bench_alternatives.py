"""Decide with evidence: gradient codes against what practitioners use instead, on a drifting
straggler and on work-proportional delays, with the simulator's prediction and the oracle bound.

    .venv/bin/python benchmarks/bench_alternatives.py [--quick] [--seed 0] [--rounds 40]

n=8 workers, s=1, `gaussian` data (4,000 x 20 rows, 1,000 held out), logistic regression,
plain GD (async SGD applies each gradient as it arrives and takes plain GD only), emulated work
of ROW_TIME seconds per row (so 8 workers on 2 cores behave like 8 machines), every scheme on
the same data, partitions, seed and delay draws (`gradcode compare`). Scenarios:

* drift: workers 2 and 5 become 4x slower at round 12 (`fixed:workers=2,5;delay=0;factor=4;
  start=12`): two persistent stragglers against s=1, appearing mid-run;
* work-proportional: every worker, every round, is slowed by a factor ~ U[1, 3] (`slowdown:
  fraction=1;factor_low=1;factor_high=3`): a slow machine is slow on every row it holds, so
  redundancy costs as much as it saves.

Per scheme: time to the target training loss (the loss naive reaches half-way through the run,
the same target for every scheme of a scenario), its final test AUC, mean round time measured, the simulator's prediction of it (`gc.simulate`, same
delay model, t_partition = ROW_TIME x rows per partition; adaptive: its starting code, without
re-encoding), and the oracle bound T* (total work / total speed, simulate/bounds.py).
"""

from __future__ import annotations

import math

import numpy as np

import gradcode as gc
from _common import base_parser, fmt, print_footer, print_header, print_table
from gradcode.codes import needs_s
from gradcode.data import load_dataset
from gradcode.experiments import CompareConfig, compare
from gradcode.simulate.bounds import oracle_bound

N, S, ROW_TIME, ROWS = 8, 1, 5e-5, 5000
SCENARIOS = {
    "drift": "fixed:workers=2,5;delay=0;factor=4;start=12",
    "work-proportional": "slowdown:fraction=1;factor_low=1;factor_high=3;seed=0",
}
SCHEMES: tuple[str, ...] = (
    "naive",
    "ignore",
    "backup:b=1",
    "budget:T=0.03",
    "async:staleness=2",
    "cyclic-mds",
    "partial-cyclic:P=4",
    "stream",
    "adaptive:every=5;threshold=0.2",
)


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    start = print_header("Alternatives to coding, bounds and adaptive codes")
    rounds = 8 if args.quick else args.rounds
    params = {"rows": ROWS, "d": 20, "separation": 1.0}
    data = load_dataset("gaussian", seed=args.seed, **params)
    t_partition = ROW_TIME * data.X_train.shape[0] / N  # one average partition of n
    for scenario, delay in SCENARIOS.items():
        config = CompareConfig(
            schemes=SCHEMES, n=N, s=S, rounds=rounds, seed=args.seed, delay=delay,
            row_time=ROW_TIME, optimizer="gd", lr=0.5, dataset="gaussian",
            dataset_params=params,
        )  # fmt: skip
        result = compare(config, data=data)
        # the target: the training loss naive reaches half-way (the exact codes' trajectories
        # are naive's; the others' steps differ)
        target = float(result.series("naive", "loss")[rounds // 2])
        rows = []
        for row in result.summary:
            name = row["scheme"]
            loss, time_s = result.series(name, "loss"), result.series(name, "time_s")
            hit = np.flatnonzero(loss <= target * (1 + 1e-9))
            to_target = float(time_s[hit[0]]) if hit.size else math.nan
            code = gc.make_code(name, N, S if needs_s(name) else 0, seed=args.seed)
            sim = gc.simulate(
                code, delay, rounds, t_partition=t_partition * N / code.k, first_round=0
            )
            predicted = 1e3 * float(sim.round_s.mean())
            bound = 1e3 * oracle_bound(code, delay, rounds, t_partition=t_partition * N / code.k)
            measured = row["mean_ms"]
            rows.append(
                [
                    name,
                    fmt(to_target, ".2f"),
                    fmt(row["final_test_auc"], ".4f"),
                    fmt(measured, ".1f"),
                    fmt(predicted, ".1f"),
                    fmt(100 * (predicted / measured - 1), "+.0f") + "%",
                    fmt(bound, ".1f"),
                ]
            )
        print_table(
            f"{scenario}: {delay} (target: training loss {target:.5f}, naive's at round "
            f"{rounds // 2}; {rounds} rounds)",
            ["scheme", "time to target s", "final AUC", "mean ms", "simulated ms", "sim vs run",
             "T* ms"],
            rows,
        )  # fmt: skip
    print_footer(start)


if __name__ == "__main__":
    main()
