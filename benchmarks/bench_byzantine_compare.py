"""Byzantine workers, end to end: the codes with an adversary budget against robust aggregation
without redundancy and plain naive, same data, same attackers, same seed (`gradcode compare`).

    .venv/bin/python benchmarks/bench_byzantine_compare.py [--quick] [--seed 0] [--rounds 60]

n=12 workers, s=1, two attackers (workers 3 and 8) corrupting every round from round 0 with each
attack model of gradcode.attacks (quarantine off: they attack to the end), on the amazon-synthetic
data set (the demo's), Nesterov as in the paper. Schemes: cyclic-mds:a=2 and frc:a=2 (load
s+2a+1 = 6), the four robust aggregators on naive with f=2 (coordinate-wise median, trimmed
mean, Krum, multi-Krum; and the geometric median), and plain naive. Per attack and scheme: the
final test AUC and the mean round time; the "no attack" row is every scheme's clean run. The
coded schemes must end at the clean naive run's AUC exactly (their trajectories are exact).
"""

from __future__ import annotations

import math

from _common import CONSOLE, base_parser, fmt, print_footer, print_header, print_table
from gradcode.attacks import ATTACKS
from gradcode.data import load_dataset
from gradcode.experiments import CompareConfig, compare

N, S, ATTACKERS = 12, 1, (3, 8)
CODED = ("cyclic-mds:a=2", "frc:a=2")
BASELINES = tuple(
    f"naive:agg={rule};f=2" for rule in ("median", "trimmed", "krum", "multikrum", "geomed")
)
SCHEMES = (*CODED, *BASELINES, "naive")


def short(name: str) -> str:
    return name.removeprefix("naive:agg=").removesuffix(";f=2")


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    start = print_header("Byzantine workers: coded schemes against robust aggregation")
    rows_, rounds = (3000, 10) if args.quick else (None, args.rounds)
    params = {} if rows_ is None else {"rows": rows_}
    data = load_dataset("amazon-synthetic", seed=args.seed, **params)
    attacks = ("none", *(ATTACKS[:2] if args.quick else ATTACKS))
    auc: dict[str, dict[str, float]] = {}
    ms: dict[str, dict[str, float]] = {}
    caught: dict[str, dict[str, str]] = {}
    for attack in attacks:
        faults = [] if attack == "none" else [f"{w}@0:corrupt={attack}" for w in ATTACKERS]
        config = CompareConfig(
            schemes=SCHEMES, n=N, s=S, rounds=rounds, seed=args.seed, faults=faults,
            quarantine=0, dataset="amazon-synthetic", dataset_params=params, lr=10.0,
            l2=1.0 / data.X_train.shape[0], optimizer="nesterov",
        )  # fmt: skip
        result = compare(config, data=data)
        auc[attack] = {r["scheme"]: r["final_test_auc"] for r in result.summary}
        ms[attack] = {r["scheme"]: r["mean_ms"] for r in result.summary}
        caught[attack] = {
            name: f"{sum(bool(r.corrupt) for r in res.rounds)}/{sum(r.flagged for r in res.rounds)}"
            for name, res in result.results.items()
        }
        CONSOLE.print(f"{attack}: done", style="dim")
    clean = auc["none"]["naive"]
    head = ["attack", *(short(s) for s in SCHEMES)]
    print_table(
        f"final test AUC after {rounds} rounds (clean naive: {clean:.4f})",
        head,
        [[a, *(fmt(auc[a][s], ".4f") for s in SCHEMES)] for a in attacks],
    )
    print_table(
        "mean round time, ms",
        head,
        [[a, *(fmt(ms[a][s], ".1f") for s in SCHEMES)] for a in attacks],
    )
    print_table(
        "coded schemes: rounds with a corrupt worker dropped / rounds flagged",
        ["attack", *CODED],
        [[a, *(caught[a][s] for s in CODED)] for a in attacks],
    )
    exact = all(
        math.isclose(auc[a][s], clean, rel_tol=0, abs_tol=1e-9) for a in attacks for s in CODED
    )
    CONSOLE.print(
        f"coded schemes at the clean AUC under every attack: {'yes' if exact else 'NO'} "
        f"(largest gap {max(abs(auc[a][s] - clean) for a in attacks for s in CODED):.1e})"
    )
    print_footer(start)


if __name__ == "__main__":
    main()
