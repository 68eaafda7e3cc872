"""Asynchronous SGD with a staleness bound beside naive and a gradient code (`gradcode compare`),
under a persistent and a moving straggler, with the simulator's prediction of each clock time.

    .venv/bin/python benchmarks/bench_async.py [--quick] [--seed 0] [--rounds 40]

n=8 workers, s=1 for cyclic-mds, plain GD (async steps with nothing else), the amazon-synthetic
data set; one straggler +0.1 s a round: the same worker every round ("fixed") or a random one
each round ("random"), drawn per (worker, round) so every scheme, and the simulator, sees the
same draws (async: per worker clock). Per delay and scheme: the mean round (clock step) time,
the simulator's prediction of it (t_partition: the run's mean compute time per message), the
final test AUC and the time to the target AUC (99% of naive's final).
"""

from __future__ import annotations

import numpy as np

import gradcode as gc
from _common import CONSOLE, base_parser, fmt, print_footer, print_header, print_table
from gradcode.data import load_dataset
from gradcode.experiments import CompareConfig, compare

N, S = 8, 1
SCHEMES = ("naive", "cyclic-mds", "async:staleness=0", "async:staleness=2", "async:staleness=8")
DELAYS = {"fixed": "fixed:workers=0;delay=0.1", "random": "random:count=1;delay=0.1"}


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    start = print_header("asynchronous SGD (stale synchronous parallel) against coding")
    rows_, rounds = (3000, 10) if args.quick else (None, args.rounds)
    params = {} if rows_ is None else {"rows": rows_}
    data = load_dataset("amazon-synthetic", seed=args.seed, **params)
    for label, delay in DELAYS.items():
        config = CompareConfig(
            schemes=SCHEMES, n=N, s=S, rounds=rounds, seed=args.seed, delay=delay,
            dataset="amazon-synthetic", dataset_params=params, optimizer="gd", lr=10.0,
            l2=1.0 / data.X_train.shape[0],
        )  # fmt: skip
        result = compare(config, data=data)
        table = []
        for row in result.summary:
            name = row["scheme"]
            res = result.results[name]
            code = gc.make_code(name, N, S if gc.codes.needs_s(name) else 0, seed=args.seed)
            t = float(np.nanmean([np.nanmean(r.compute_s) for r in res.rounds]))
            per = t / code.load  # seconds per partition
            sim = gc.simulate(code, config.build_delay(), rounds, t_partition=per)
            stale = [r.metrics.get("staleness_max", np.nan) for r in res.rounds]
            table.append(
                [
                    name,
                    fmt(row["mean_ms"], ".1f"),
                    fmt(1e3 * sim.mean, ".1f"),
                    fmt(row["final_test_auc"], ".4f"),
                    fmt(row["time_to_target_s"], ".2f"),
                    "" if np.isnan(stale).all() else f"{np.nanmax(stale):.0f}",
                ]
            )
        print_table(
            f"{label} straggler ({delay}), {rounds} rounds; target AUC {row['target_auc']}",
            ["scheme", "mean ms", "simulated ms", "final AUC", "to target s", "max staleness"],
            table,
        )
    CONSOLE.print(
        "a round of async is one clock step of the slowest worker; simulated: the same draws"
    )
    print_footer(start)


if __name__ == "__main__":
    main()
