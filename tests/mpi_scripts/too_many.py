"""More failures than the code tolerates: TrainingError, partial results saved, non-zero exit.

Usage: mpiexec -n 5 python too_many.py OUTDIR   (cyclic, N=4 workers, s=1).
First run: a kill, then a hang the master gives up on at the round timeout (caught here).
Second run: s+1 = 2 workers killed; the TrainingError ends the script (exit status 1).
"""

from __future__ import annotations

import sys
from pathlib import Path

from common import data, gd_kwargs

import gradcode as gc
from gradcode.delays import FixedStragglers
from gradcode.runtime import Fault, TrainingError

out = Path(sys.argv[1])
X, y = data()
steady = FixedStragglers(workers=(0, 1, 2, 3), delay=0.03)  # every worker computes every round
try:
    gc.train(
        "cyclic",
        X,
        y,
        n=4,
        s=1,
        out=out / "hang",
        **gd_kwargs(faults=[Fault(1, 2), Fault(3, 4, "hang")], delay=steady, round_timeout=1.0),
    )
except TrainingError as e:
    print(f"caught TrainingError: {e}", flush=True)
else:
    raise SystemExit("expected a TrainingError")
gc.train(
    "cyclic",
    X,
    y,
    n=4,
    s=1,
    out=out / "kill",
    **gd_kwargs(faults=[Fault(1, 2), Fault(3, 4)], delay=steady),
)
