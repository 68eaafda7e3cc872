"""`gradcode codes show SCHEME -n N -s S`: structure and verification of one code."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
from rich.console import Console
from rich.table import Table

from ..codes import SCHEMES, make_code
from ..codes.verify import SAFE_ERROR, UNIT_ROUNDOFF, Verification, verify
from .tables import print_table, progress

SHOW_B_UP_TO = 16


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("codes", help="inspect gradient codes")
    codes_sub = p.add_subparsers(dest="codes_command", required=True)
    show = codes_sub.add_parser("show", help="supports, B, load and a verification of one code")
    show.add_argument("scheme", help=f"one of: {', '.join(SCHEMES)}")
    show.add_argument("-n", type=int, required=True, help="number of workers")
    show.add_argument("-s", type=int, default=0, help="stragglers tolerated")
    show.add_argument("--seed", type=int, default=0, help="seed of random constructions")
    show.add_argument(
        "--samples", type=int, default=1000, help="sets sampled when there are over 100,000"
    )
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(run=run_show)


def run_show(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    code = make_code(args.scheme, args.n, args.s, seed=args.seed)
    with progress(f"verifying {code!r}") as on_set:
        v = verify(code, samples=args.samples, seed=args.seed, on_set=on_set)
    report = summary(code, v)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        show(code, v, report)
    return 1 if code.exact and not v.ok else 0


def summary(code, v: Verification) -> dict:
    sizes = np.array([len(code.partitions(i)) for i in range(code.n)])
    share = max(code.work(i) for i in range(code.n)) / code.k
    return {
        "scheme": code.name,
        "n": code.n,
        "s": code.s,
        "k": code.k,
        "exact": code.exact,
        "notes": code.notes,
        "supports": [list(code.partitions(i)) for i in range(code.n)],
        "B": code.B.tolist() if code.n <= SHOW_B_UP_TO else None,
        "load": {
            "max": int(sizes.max()),
            "mean": float(sizes.mean()),
            "lower_bound": code.s + 2 * code.a + 1,
        },
        "data_share": {"max": share, "lower_bound": (code.s + 2 * code.a + 1) / code.n},
        "messages_per_worker": code.parts,
        "blocks": code.blocks,  # each message is ceil(L / blocks) long for vectors of length L
        "verification": {
            "sets": v.sets,
            "exhaustive": v.exhaustive,
            "failures": v.failures,
            "worst_residual": _finite(v.worst_residual),
            "worst_condition": _finite(v.worst_cond),
            "worst_amplification": _finite(v.worst_amplification),
            "worst_stragglers": list(v.worst_set),
            "first_failure": v.first_failure,
            "unsafe_message_dtypes": v.unsafe_dtypes(),
        },
    }


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def show(code, v: Verification, report: dict) -> None:
    out = Console(highlight=False, soft_wrap=True)
    out.print(
        f"[bold]{code!r}[/]  k={code.k} partitions, {'exact' if code.exact else 'approximate'}"
    )
    if code.notes:
        out.print(f"[yellow]note:[/] {code.notes}")
    load, share = report["load"], report["data_share"]
    out.print(
        f"load: {load['max']} partitions per worker (mean {load['mean']:.2f}); "
        f"lower bound for s={code.s}"
        + (f", a={code.a}" if code.a else "")
        + f": {load['lower_bound']}"
    )
    if code.sizes is not None or code.parts > 1:
        out.print(
            f"data per worker: at most {share['max']:.3g} of the data; lower bound for "
            f"s={code.s}: (s+1)/n = {share['lower_bound']:.3g}; {code.parts} message(s) per round"
        )
    if code.n <= SHOW_B_UP_TO:
        head = "worker" if code.parts == 1 else "worker.message"
        cols = [f"B[:, {j}]" for j in range(code.k)]
        if code.blocks > 1:  # column u*k+j: block u of partition j
            cols = [f"{u}:{j}" for u in range(code.blocks) for j in range(code.k)]
        table = Table(head, "partitions", *cols, box=None)
        for row in range(code.messages):
            cells = [f"{x:.3g}" if x else "." for x in code.B[row]]
            label = str(row) if code.parts == 1 else f"{row // code.parts}.{row % code.parts}"
            table.add_row(label, ",".join(map(str, code.message_partitions(row))), *cells)
        print_table(table, names=2)
    else:
        head = ", ".join(f"{i}:{list(code.partitions(i))}" for i in range(4))
        out.print(f"supports: {head}, ... (row i holds {code.load} partitions)")
    if code.blocks > 1:
        out.print(
            f"messages: {code.blocks} blocks, each message ceil(L/{code.blocks}) long (B's "
            f"column u:j is block u of partition j); load s+m = {code.load}"
        )
    how = "all" if v.exhaustive else "sampled"
    out.print(f"verification over {v.sets} straggler sets of size s ({how}):")
    status = "[green]ok[/]" if v.ok else f"[bold red]{v.failures} FAILED[/]"
    out.print(f"  decodes: {status}; worst residual max|aᵀB-1| = {v.worst_residual:.2e}")
    out.print(
        f"  worst condition number of B_F: {v.worst_cond:.3g}; worst error amplification: "
        f"{v.worst_amplification:.3g} (stragglers {list(v.worst_set)})"
    )
    for dtype in v.unsafe_dtypes():
        bound = v.worst_amplification * UNIT_ROUNDOFF[dtype]
        out.print(
            f"[bold yellow]warning:[/] {dtype} messages are unsafe for this code: decoded "
            f"gradients can be off by ~{bound:.1e} relative (> {SAFE_ERROR:g})"
        )
    if v.first_failure:
        out.print(f"[red]first failure:[/] {v.first_failure}")
