"""A short run started as `python -m small_run OUTDIR` by relaunch_under_mpiexec (n=2)."""

from __future__ import annotations

import sys

from common import data, gd_kwargs

import gradcode as gc
from gradcode.runtime.mpi_launch import in_mpi_world

assert in_mpi_world()
X, y = data()
res = gc.train("frc", X, y, n=2, s=1, out=sys.argv[1], **gd_kwargs())
print(f"small_run: {res.status} after {len(res.rounds)} rounds", flush=True)
