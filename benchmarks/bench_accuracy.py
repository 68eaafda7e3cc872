"""Decoding accuracy: relative error of the decoded gradient over many straggler sets, for float64
and float32 messages, against the paper's plain least-squares decoder.

    .venv/bin/python benchmarks/bench_accuracy.py [--quick] [--sets N] [--paper-sets N] [--seed 0]
        [--large-sets N] [--large-only]

Per (n, s): `--sets` uniformly random sets of exactly s stragglers (seeded; all C(n, s) sets when
there are no more than that). Partition gradients G (k x 8) are seeded standard normal; worker
messages m = B @ G are computed in float64 and, for float32 messages, rounded to float32; the master
combines in float64. Error = |a @ m - G.sum(0)| / |G.sum(0)|. A set the code refuses
(`DecodingError`: the residual check rejects a numerically unsafe decode) is counted as refused and
left out of the error statistics. "paper" is `np.linalg.lstsq` over the survivors of the cyclic
code, with no residual check, on the first `--paper-sets` of the same sets.

Target: worst float64 error <= 1e-9 for every (n, s), met when at least one exact scheme decodes
every set (none refused) within it. Every case also runs the binary code (`binary`: 0/1 B and 0/1
decoding vectors).

Communication-efficient codes (`comm-cyclic:m=2`, `comm-cyclic:m=4`) run beside cyclic-mds in the
same grid, on the same sets: messages fold the m blocks of each partition gradient (D values split
into m blocks of ceil(D/m)), float32 rounding applies to the short messages, the error is that of
the reassembled gradient. Where the family refuses (n, s, m) as unsafe in float64 (strict), the
row is built with `strict=0` (as safe as cyclic-mds: sets may be refused, never decoded wrong) and
says so. `--comm-only` runs just cyclic-mds and the family.

Binary code at scale: at n=256, s=16 (`--large-sets` random sets of exactly s stragglers, default
10,000, seeded the same way) the binary code against cyclic-mds and cyclic, with the same error
measure. Targets for the binary code: worst error <= 1e-12 with float64 messages and <= 1e-6 with
float32 messages, no set refused. `load / bound` is the largest fraction of the data a worker holds
over the lower bound (s+1)/n of any exact code. `--large-only` runs just this part.
"""

# ruff: noqa: E402 (BLAS threads are set before numpy loads)
from __future__ import annotations

import os

# Accuracy, not speed: one BLAS thread per process is the fastest on 2 shared cores (two threads
# spin against other jobs, about 3x slower per lstsq under load). Set before numpy is imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import math
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from functools import partial

import numpy as np
from numpy.typing import NDArray

import gradcode as gc
from _common import (
    CONSOLE,
    SCHEMES,
    base_parser,
    fmt,
    make_codes,
    paper_decode,
    print_footer,
    print_header,
    print_table,
    survivor_masks,
    verdict,
)
from gradcode.codes import DecodingError, GradientCode
from gradcode.codes.verify import amplification

N_VALUES = (12, 24, 48, 96, 200)
S_VALUES = (1, 4, 10)
GRID_SCHEMES = (*SCHEMES, "binary")
COMM_SCHEMES = ("comm-cyclic:m=2", "comm-cyclic:m=4")
LARGE = (256, 16)  # (n, s) of the binary code's comparison
LARGE_SCHEMES = ("binary", "cyclic-mds", "cyclic")
LARGE_TARGETS = {"float64": 1e-12, "float32": 1e-6}  # worst error of the binary code
D = 8  # gradient dimension per partition
TARGET = 1e-9
PERCENTILE = 99.99

Decode = Callable[[NDArray[np.bool_]], NDArray[np.float64]]


@dataclass(frozen=True)
class Outcome:
    """One decoder over one case's sets; per-set arrays hold NaN for a refused set."""

    label: str
    err64: NDArray[np.float64]
    err32: NDArray[np.float64]
    residual: NDArray[np.float64]  # max|aᵀB - 1|
    amplification: NDArray[np.float64]  # `verify.amplification`

    @property
    def sets(self) -> int:
        return len(self.err64)

    @property
    def decoded(self) -> NDArray[np.bool_]:
        return ~np.isnan(self.err64)

    @property
    def refused(self) -> int:
        return self.sets - int(np.count_nonzero(self.decoded))

    @property
    def exact_everywhere(self) -> bool:
        """Every set decoded, each within the float64 target."""
        return self.refused == 0 and worst(self.err64) <= TARGET


def worst(x: NDArray[np.float64]) -> float:
    """Largest value, ignoring refused sets (NaN); NaN when there is none."""
    x = x[~np.isnan(x)]
    return float(x.max()) if x.size else float("nan")


def percentile(x: NDArray[np.float64]) -> float:
    x = x[~np.isnan(x)]
    return float(np.percentile(x, PERCENTILE)) if x.size else float("nan")


def count(flags: NDArray[np.bool_]) -> str:
    return f"{int(np.count_nonzero(flags)):,}"


def decode_all(decode: Decode, masks: NDArray[np.bool_], blocks: int = 1) -> NDArray[np.float64]:
    """Decoding vectors (sets x n; block codes: sets x m x n); NaN where the code refuses the set."""
    A = np.full((masks.shape[0], *((blocks,) if blocks > 1 else ()), masks.shape[1]), np.nan)
    for i, mask in enumerate(masks):
        with suppress(DecodingError):
            A[i] = decode(mask)
    return A


def relative_errors(A: NDArray, messages: NDArray, exact: NDArray) -> NDArray[np.float64]:
    """|a @ m - exact| / |exact| for every row a of A, combined in float64 (one matmul)."""
    decoded = A @ messages.astype(np.float64)
    return np.linalg.norm(decoded - exact, axis=1) / np.linalg.norm(exact)


def amplifications(code: GradientCode, A: NDArray) -> NDArray[np.float64]:
    """`verify.amplification` of every row of A, vectorised (checked against it on one row)."""
    row_norms = np.linalg.norm(code.B, axis=1)
    amps = np.linalg.norm(A * row_norms, axis=1) / np.sqrt(code.k)
    if not np.all(np.isnan(amps)):
        i = int(np.nanargmax(amps))
        assert np.isclose(amps[i], amplification(code, A[i]), rtol=1e-9)
    return amps


def evaluate_blocks(label: str, code: GradientCode, masks, G: NDArray) -> Outcome:
    """`evaluate` for a block code: messages of ceil(D/m) values, m block decodes per set."""
    m, k, D = code.blocks, code.k, G.shape[1]
    w = code.message_length(D)
    padded = np.zeros((k, m * w))
    padded[:, :D] = G
    Gb = padded.reshape(k, m, w)
    m64 = sum(code.B[:, u * k : (u + 1) * k] @ Gb[:, u] for u in range(m))  # (n, w) messages
    A = decode_all(code.decode, masks, m)
    exact = G.sum(axis=0)

    def errors(messages: NDArray) -> NDArray[np.float64]:
        decoded = np.einsum("smn,nw->smw", A, messages.astype(np.float64)).reshape(len(A), -1)
        return np.linalg.norm(decoded[:, :D] - exact, axis=1) / np.linalg.norm(exact)

    ok = ~np.isnan(A[:, 0, 0])
    residual = np.full(len(A), np.nan)
    amp = np.full(len(A), np.nan)
    for i in np.flatnonzero(ok):
        residual[i], amp[i] = code.residual(A[i]), amplification(code, A[i])
    return Outcome(label, errors(m64), errors(m64.astype(np.float32)), residual, amp)


def comm_codes(n: int, s: int, seed: int, schemes=COMM_SCHEMES) -> list[tuple[str, GradientCode]]:
    """(label, code) of the family for (n, s): strict where it builds, else strict=0, labelled."""
    out = []
    for name in schemes:
        try:
            out.append((name, gc.make_code(name, n, s, seed=seed)))
        except ValueError:
            try:
                code = gc.make_code(name, n, s, seed=seed, strict=0)
                out.append((f"{name} (strict=0)", code))
            except ValueError as e:
                NOT_BUILT.append(f"n={n} s={s} {name}: {str(e).split(': use')[0]}")
    return out


NOT_BUILT: list[str] = []  # the family's refusals to build, printed after the grid


def evaluate(label: str, code: GradientCode, decode: Decode, masks, G: NDArray) -> Outcome:
    A = decode_all(decode, masks)
    m64 = code.B @ G
    exact = G.sum(axis=0)
    return Outcome(
        label=label,
        err64=relative_errors(A, m64, exact),
        err32=relative_errors(A, m64.astype(np.float32), exact),
        residual=np.abs(A @ code.B - 1.0).max(axis=1),
        amplification=amplifications(code, A),
    )


def run_case(
    n: int, s: int, sets: int, paper_sets: int, seed: int, schemes=GRID_SCHEMES, comm=COMM_SCHEMES
) -> list[Outcome]:
    """Every scheme available for (n, s), the paper's decoder on the cyclic code, and the
    communication-efficient family (`comm`)."""
    mask_seed, grad_seed = np.random.SeedSequence([seed, n, s]).spawn(2)
    masks, _ = survivor_masks(n, s, sets, np.random.default_rng(mask_seed))
    outcomes = []
    for code in make_codes(n, s, seed, schemes):
        G = np.random.default_rng(grad_seed).standard_normal((code.k, D))  # same G per k
        code.cache_clear()
        outcomes.append(evaluate(code.name, code, code.decode, masks, G))
        if code.name == "cyclic" and paper_sets > 0:
            paper = partial(paper_decode, code.B)
            outcomes.append(evaluate(PAPER, code, paper, masks[:paper_sets], G))
    for label, code in comm_codes(n, s, seed, comm):
        G = np.random.default_rng(grad_seed).standard_normal((code.k, D))
        outcomes.append(evaluate_blocks(label, code, masks, G))
    return outcomes


COLUMNS = (
    "n",
    "s",
    "scheme",
    "sets",
    "refused",
    f"f64 err\np{PERCENTILE}",
    "f64 err\nworst",
    "f64 sets\n> 1e-9",
    f"f32 err\np{PERCENTILE}",
    "f32 err\nworst",
    "worst\nresidual",
    "worst\namplif.",
)


def row(n: int, s: int, o: Outcome) -> list[str]:
    return [
        str(n),
        str(s),
        o.label,
        f"{o.sets:,}" + (" all" if o.sets == math.comb(n, s) else ""),
        f"{o.refused:,}",
        fmt(percentile(o.err64), ".1e"),
        fmt(worst(o.err64), ".1e"),
        count(o.err64 > TARGET),
        fmt(percentile(o.err32), ".1e"),
        fmt(worst(o.err32), ".1e"),
        fmt(worst(o.residual), ".1e"),
        fmt(worst(o.amplification), ".1e"),
    ]


def summary_row(n: int, s: int, outcomes: list[Outcome]) -> list[str]:
    """Which schemes keep every decoded set within the target, and which also refuse none."""
    ours = [o for o in outcomes if not o.label.startswith("paper")]
    within = [o for o in ours if worst(o.err64) <= TARGET]
    refused = ", ".join(f"{o.label} {o.refused:,}" for o in ours if o.refused) or "-"
    meeting = [o.label for o in ours if o.exact_everywhere]
    return [
        str(n),
        str(s),
        ", ".join(o.label for o in within) or "none",
        refused,
        ", ".join(meeting) or "none",
        verdict(bool(meeting)),
    ]


SUMMARY_COLUMNS = (
    "n",
    "s",
    "worst f64 error <= 1e-9\n(decoded sets)",
    "sets refused",
    "<= 1e-9 and\nnone refused",
    "target",
)


PAPER = "paper (cyclic)"
PAPER_COLUMNS = (
    "n",
    "s",
    "sets",
    "paper: f64\nerr > 1e-9",
    "of them, sets\ngradcode decodes",
    "gradcode worst f64\non those sets",
    "sets gradcode\nrefuses",
    "paper worst f64\non those sets",
    "paper worst f32\non those sets",
)


def paper_row(n: int, s: int, outcomes: list[Outcome]) -> list[str] | None:
    """The paper's decoder against gradcode's on the same sets of the cyclic code: its silently
    wrong gradients, and what it returns for the sets gradcode refuses."""
    by_label = {o.label: o for o in outcomes}
    if PAPER not in by_label:
        return None
    paper, ours = by_label[PAPER], by_label["cyclic"]
    ours64 = ours.err64[: paper.sets]
    bad, ok = paper.err64 > TARGET, ~np.isnan(ours64)
    return [
        str(n),
        str(s),
        f"{paper.sets:,}",
        count(bad),
        count(bad & ok),
        fmt(worst(ours64[bad & ok]), ".1e"),
        count(~ok),
        fmt(worst(paper.err64[~ok]), ".1e"),
        fmt(worst(paper.err32[~ok]), ".1e"),
    ]


LARGE_COLUMNS = (
    "n",
    "s",
    "scheme",
    "code s",
    "load /\nbound",
    "sets",
    "refused",
    "f64 err\nmedian",
    "f64 err\nworst",
    "f32 err\nmedian",
    "f32 err\nworst",
    "worst\nresidual",
    "worst\namplif.",
    "f64\n<= 1e-12",
    "f32\n<= 1e-6",
)


def median(x: NDArray[np.float64]) -> float:
    x = x[~np.isnan(x)]
    return float(np.median(x)) if x.size else float("nan")


def load_over_bound(code: GradientCode, s: int) -> float:
    """Largest fraction of the data one worker holds, over the lower bound (s+1)/n."""
    most = max(code.work(i) for i in range(code.n)) / code.k
    return most / ((s + 1) / code.n)


def large_targets_met(o: Outcome) -> tuple[bool, bool]:
    """(float64, float32) targets: every set decoded, worst error within the target."""
    return (
        o.refused == 0 and worst(o.err64) <= LARGE_TARGETS["float64"],
        o.refused == 0 and worst(o.err32) <= LARGE_TARGETS["float32"],
    )


def large_row(code: GradientCode, s: int, o: Outcome) -> list[str]:
    ok64, ok32 = large_targets_met(o)
    return [
        str(code.n),
        str(s),
        o.label,
        str(code.s),
        f"{load_over_bound(code, s):.3f}",
        f"{o.sets:,}",
        f"{o.refused:,}",
        fmt(median(o.err64), ".1e"),
        fmt(worst(o.err64), ".1e"),
        fmt(median(o.err32), ".1e"),
        fmt(worst(o.err32), ".1e"),
        fmt(worst(o.residual), ".1e"),
        fmt(worst(o.amplification), ".1e"),
        verdict(ok64),
        verdict(ok32),
    ]


def run_large(sets: int, seed: int) -> bool:
    """The binary code against cyclic-mds and cyclic at n=256, s=16; True when the binary code
    meets both targets."""
    n, s = LARGE
    outcomes = run_case(n, s, sets, 0, seed, LARGE_SCHEMES)
    codes = make_codes(n, s, seed, LARGE_SCHEMES)
    print_table(
        f"binary code at n={n}, s={s}: {sets:,} random sets of {s} stragglers; targets for "
        f"binary: worst f64 error <= {LARGE_TARGETS['float64']:.0e}, worst f32 error <= "
        f"{LARGE_TARGETS['float32']:.0e}, none refused",
        LARGE_COLUMNS,
        [large_row(c, s, o) for c, o in zip(codes, outcomes, strict=True)],
        left=3,
    )
    for c in codes:
        if c.notes:
            CONSOLE.print(f"{c.name}: {c.notes}", markup=False)
    binary = outcomes[LARGE_SCHEMES.index("binary")]
    return all(large_targets_met(binary))


def main() -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--sets", type=int, help="straggler sets per case (default 10,000)")
    parser.add_argument(
        "--paper-sets", type=int, help="sets for the paper's decoder (default: --sets)"
    )
    parser.add_argument(
        "--large-sets", type=int, help="sets for the n=256, s=16 comparison (default 10,000)"
    )
    parser.add_argument("--large-only", action="store_true", help="only the n=256, s=16 comparison")
    parser.add_argument(
        "--comm-only", action="store_true", help="only cyclic-mds and the comm-cyclic family"
    )
    args = parser.parse_args()
    sets = args.sets or (500 if args.quick else 10_000)
    paper_sets = sets if args.paper_sets is None else args.paper_sets
    if args.comm_only:
        paper_sets = 0
    large_sets = args.large_sets or (500 if args.quick else 10_000)
    start = print_header("gradcode decoding accuracy")
    if args.large_only:
        CONSOLE.print(f"d={D}; seed={args.seed}")
        ok = run_large(large_sets, args.seed)
        CONSOLE.print(f"binary code targets: {verdict(ok)}")
        print_footer(start)
        return 0
    CONSOLE.print(
        f"sets per case: {sets:,} (paper's decoder: {paper_sets:,}); d={D}; seed={args.seed}"
    )

    rows: list[list[str] | None] = []
    summary: list[list[str]] = []
    papers: list[list[str]] = []
    grid = ("cyclic-mds",) if args.comm_only else GRID_SCHEMES
    for n in N_VALUES:
        for s in S_VALUES:
            outcomes = run_case(n, s, sets, paper_sets, args.seed, grid)
            rows += [row(n, s, o) for o in outcomes] + [None]
            summary.append(summary_row(n, s, outcomes))
            if (compared := paper_row(n, s, outcomes)) is not None:
                papers.append(compared)
    print_table(
        'relative error of the decoded gradient ("all": every straggler set)',
        COLUMNS,
        rows[:-1],
        left=3,
    )
    print_table(
        "float64 target: worst error <= 1e-9, every set decoded (none refused)",
        SUMMARY_COLUMNS,
        summary,
        left=5,
    )
    print_table(
        "the paper's decoder (lstsq, no residual check) vs gradcode on the cyclic code, same sets",
        PAPER_COLUMNS,
        papers,
        left=2,
    )
    CONSOLE.print("comm-cyclic not built (refused as unsafe, or m > n-s):", markup=False)
    for line in NOT_BUILT:
        CONSOLE.print(f"  {line}", markup=False)
    if args.comm_only:
        print_footer(start)
        return 0
    large_ok = run_large(large_sets, args.seed)
    CONSOLE.print(f"binary code targets at n={LARGE[0]}, s={LARGE[1]}: {verdict(large_ok)}")
    grid_ok = all(r[-1] == "PASS" for r in summary)
    CONSOLE.print(f"overall: {verdict(grid_ok and large_ok)}")
    print_footer(start)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
