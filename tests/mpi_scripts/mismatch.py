"""A world of the wrong size: every rank fails at once with a clear error (run with -n 3)."""

from __future__ import annotations

from common import data, gd_kwargs

import gradcode as gc
from gradcode.runtime.mpi_launch import in_mpi_world

print(f"in_mpi_world={in_mpi_world()}", flush=True)
X, y = data()
gc.train("cyclic", X, y, n=4, s=1, **gd_kwargs())
