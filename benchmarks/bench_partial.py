"""Partial stragglers: simulated mean round times of the partial-straggler, streaming and
heterogeneity-aware schemes against plain cyclic codes (and naive), in three scenarios:

(a) every worker 1.5-3x slower, at random, every round;
(b) a few persistent stragglers, slow but working (2x) or nearly dead (10x);
(c) two fixed speeds: half the workers 2x slower in every round.

Every scheme processes the same data: one worker alone would need T_DATA seconds for all of it,
so a code with k partitions gets t_partition = T_DATA / k (the partial schemes cut the data into
more, smaller partitions). Rounds are chained as the runtime runs them (carryover); the streaming
and partial workers stop after the message in flight once a round decodes.
"""

from __future__ import annotations

import numpy as np

import gradcode as gc
from _common import CONSOLE, base_parser, fmt, print_footer, print_header, print_table

T_DATA = 1.0  # seconds for one worker to process all the data
N, S = 12, 2


def scenarios(n: int) -> dict[str, tuple[str, tuple[float, ...] | None]]:
    """name -> (delay spec, known speeds for the hetero allocation, if any)."""
    half = ",".join(map(str, range(n // 2)))
    return {
        "(a) all 1.5-3x slower at random": (
            "slowdown:fraction=1;factor_low=1.5;factor_high=3;seed=1",
            None,
        ),
        "(b) 2 persistent 1.5x stragglers": ("fixed:workers=0,5;factor=1.5;delay=0", None),
        "(b') 2 persistent 10x stragglers": ("fixed:workers=0,5;factor=10;delay=0", None),
        "(c) half the workers 2x slower": (
            f"fixed:workers={half};factor=2;delay=0",
            tuple(0.5 if i < n // 2 else 1.0 for i in range(n)),
        ),
    }


def schemes(speeds: tuple[float, ...] | None) -> list[tuple[str, int]]:
    """(spec, s) pairs: naive and, with known speeds, the hetero allocation without redundancy."""
    out = [("naive", 0)]
    out += [(spec, S) for spec in ("cyclic", "cyclic-mds", "partial-cyclic:P=6")]
    out += [(spec, S) for spec in ("partial-frc:P=6", "stream")]
    if speeds is not None:
        hetero = "hetero:speeds=" + ",".join(f"{c:g}" for c in speeds)
        out += [(hetero, S), (hetero, 0)]
    return out


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10_000)
    args = parser.parse_args()
    rounds = 200 if args.quick else args.rounds
    start = print_header(f"partial stragglers: n={N}, s={S}, {rounds} simulated rounds")
    for name, (delays, speeds) in scenarios(N).items():
        if speeds is not None:
            name += f" (hetero knows the speeds {','.join(f'{c:g}' for c in speeds)})"
        rows, means = [], {}
        for spec, s in schemes(speeds):
            code = gc.make_code(spec, N, s, seed=args.seed)
            sim = gc.simulate(
                code,
                delays,
                rounds,
                t_partition=T_DATA / code.k,
                carryover=True,
            )
            label = f"{spec.partition(':speeds')[0]} s={s}"
            means[label] = sim.mean
            share = f"{max(code.work(i) for i in range(N)) / code.k:.3f}"
            rows.append([label, str(code.k), share, sim])
        base = means[f"cyclic s={S}"]
        table = [
            [label, k, share, fmt(1e3 * sim.mean), fmt(1e3 * sim.p95), f"{base / sim.mean:.2f}x"]
            for label, k, share, sim in rows
        ]
        columns = ["scheme", "k", "max data/worker", "mean ms", "p95 ms", "vs cyclic"]
        print_table(f"{name}: delay {delays!r}", columns, table)
        best = min(means, key=means.get)
        CONSOLE.print(f"fastest: {best} ({base / means[best]:.2f}x cyclic's mean round)\n")
    print_footer(start)


if __name__ == "__main__":
    np.seterr(all="raise")
    main()
