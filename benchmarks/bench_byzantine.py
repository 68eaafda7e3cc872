"""Robust decoding cost: the master's plain decode against the robust one that locates and drops
up to a corrupted messages (runtime/trust.py), side by side.

    .venv/bin/python benchmarks/bench_byzantine.py [--quick] [--seed 0] [--width 10001]

Per (scheme, n, s=1, a), over random sets of exactly s stragglers (seeded), messages of `width`
values (d+1: the gradient and the loss) as the runtime's:

* plain: what a code without an adversary budget does per round: `code.decode(mask)` (cached)
  and the fused sum Σ a_i y_i over the arrived messages (runtime/combine.py);
* robust, clean: `Trust.decide` (2 random projections of every message, the code's locator,
  parity checks confirmed on the full vectors, the decode of what is left) and the fused sum,
  when no message is corrupt;
* robust, a corrupt: the same with a arrived messages corrupted (Gaussian noise as large as the
  message), which the locator must name exactly (checked: the benchmark stops otherwise) and the
  decoded sum must equal the true one to 1e-9 relative.
Times are medians over repeats, then over sets; "x plain" is robust (a corrupt) / plain.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

import gradcode as gc
from _common import (
    CONSOLE,
    base_parser,
    fmt,
    median_seconds,
    print_footer,
    print_header,
    print_table,
)
from gradcode.attacks import Attack
from gradcode.runtime.combine import Combiner
from gradcode.runtime.trust import Trust

N_VALUES, A_VALUES, S = (12, 48, 200), (1, 2, 4), 1


def build(scheme: str, n: int, a: int) -> gc.GradientCode | None:
    try:
        return gc.make_code(scheme, n, S, a=a)
    except ValueError:  # (n, s, a) this scheme cannot meet (FRC: s+2a+1 must divide n)
        return None


def corrupt_set(code: gc.GradientCode, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """a arrived messages to corrupt (FRC: in the group with the fewest arrivals: a per group)."""
    arrived = np.flatnonzero(mask)
    if code.name.startswith("frc"):
        group = arrived // (code.s + 2 * code.a + 1)
        arrived = arrived[group == np.argmin(np.bincount(group))]
    return rng.choice(arrived, code.a, replace=False)


def measure(code: gc.GradientCode, width: int, sets: int, repeats: int, rng) -> list[float]:
    G = rng.standard_normal((code.k, width))
    Y, truth = code.B @ G, G.sum(axis=0)
    combine = Combiner(width)
    trust = Trust(code, width, seed=0)
    plain, clean, attacked = [], [], []
    for t in range(sets):
        mask = np.ones(code.n, dtype=bool)
        mask[rng.choice(code.n, code.s, replace=False)] = False
        E = corrupt_set(code, mask, rng)
        Yc = Y.copy()
        for i in E:
            Attack("noise").corrupt(Yc[i], np.random.default_rng((t, int(i))))
        honest, corrupted = dict(enumerate(Y)), dict(enumerate(Yc))

        def robust(vectors, t=t, mask=mask):
            verdict = trust.decide(t, mask, vectors, final=True)
            used = np.flatnonzero(verdict.a)
            return verdict, combine(verdict.a[used].tolist(), [vectors[int(i)] for i in used])

        verdict, decoded = robust(corrupted)
        if set(verdict.dropped) != set(E.tolist()):
            raise SystemExit(f"{code!r}: located {verdict.dropped}, corrupted {sorted(E)}")
        if np.abs(decoded - truth).max() > 1e-9 * np.abs(truth).max():
            raise SystemExit(f"{code!r}: the robust decode is not exact")
        a_inner = code.locator.inner.decode(mask)  # the plain decode of the same arrivals
        used = np.flatnonzero(a_inner)

        def plain_decode(a=a_inner, used=used, mask=mask, honest=honest):
            code.locator.inner.decode(mask)
            return combine(a[used].tolist(), [honest[int(i)] for i in used])

        plain.append(median_seconds(plain_decode, repeats))
        clean.append(median_seconds(lambda v=honest: robust(v), repeats))
        attacked.append(median_seconds(lambda v=corrupted: robust(v), repeats))
    return [float(np.median(x)) * 1e3 for x in (plain, clean, attacked)]


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=10_001, help="values per message (d+1)")
    args = parser.parse_args()
    start = print_header("Robust decoding: locate and drop a corrupted messages")
    rng = np.random.default_rng(args.seed)
    n_values, sets, repeats = ((12, 48), 2, 2) if args.quick else (N_VALUES, 5, 5)
    rows = []
    limit = threadpool_limits(1)  # as the master: single-threaded BLAS (runtime/master.py)
    for scheme in ("cyclic-mds", "frc"):
        rows.append(None)
        for n in n_values:
            for a in A_VALUES:
                code = build(scheme, n, a)
                if code is None:
                    rows.append([scheme, str(n), str(S), str(a), "(s+2a+1 must divide n)"])
                    continue
                p, c, x = measure(code, args.width, sets, repeats, rng)
                rows.append(
                    [scheme, str(n), str(code.s), str(a), str(code.load), fmt(p, ".2f"),
                     fmt(c, ".2f"), fmt(x, ".2f"), fmt(x / p, ".1f")]
                )  # fmt: skip
    limit.unregister()
    print_table(
        f"decode per round, ms (messages of {args.width:,} values; s=1 stragglers)",
        ["scheme", "n", "s", "a", "load", "plain", "robust clean", "robust a corrupt", "x plain"],
        rows,
    )
    CONSOLE.print("every robust decode named exactly the corrupted messages and was exact (1e-9)")
    print_footer(start)


if __name__ == "__main__":
    main()
