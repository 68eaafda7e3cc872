"""Asynchronous SGD on the mpi engine: T = 0 against naive, and T = 2 with its order of
applications, for a replay (tests/test_async.py).

Usage: mpiexec -n 5 python async_runs.py OUTDIR   (4 workers). Saves OUTDIR/async0.npy and
OUTDIR/naive.npy (parameter trajectories) and OUTDIR/async2.json (the T = 2 run's applications
in order, final θ, largest staleness, versions still held, most task buffers at once).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

import gradcode as gc
from gradcode.data import gaussian_mixture
from gradcode.delays import RandomStragglers
from gradcode.runtime.async_loop import AsyncLoop
from gradcode.runtime.engines.mpi import master as mpi_master

out = Path(sys.argv[1])
X, y = gaussian_mixture(402, 12, seed=3)  # the same as tests/test_async.py's
kw = dict(
    optimizer="gd", lr=0.5, l2=1e-3, rounds=10, engine="mpi", record_params=True,
    theta0=np.zeros(12),
)  # fmt: skip
log: dict = {"applied": [], "loop": None, "buffers": 0}
arrived, of = AsyncLoop._arrived, mpi_master._TaskBuffers.of


def spy(self, ev):
    log["loop"] = self
    log["applied"].append((ev.worker, int(self.sent[ev.worker]), int(self.clock[ev.worker])))
    arrived(self, ev)


def counted(self, round, theta):
    buf = of(self, round, theta)
    log["buffers"] = max(log["buffers"], len(self.bufs))
    return buf


AsyncLoop._arrived = spy
mpi_master._TaskBuffers.of = counted
delay = RandomStragglers(count=1, delay=0.02, seed=4)
a0 = gc.train("async:staleness=0", X, y, n=4, delay=delay, **kw)
naive = gc.train("naive", X, y, n=4, delay=delay, **kw)
assert a0.status == naive.status == "ok", (a0.error, naive.error)
np.save(out / "async0.npy", np.stack(a0.params))
np.save(out / "naive.npy", np.stack(naive.params))
log["applied"], log["buffers"] = [], 0
a2 = gc.train(
    "async:staleness=2", X, y, n=4, delay=RandomStragglers(count=1, delay=0.03, seed=1), **kw
)
assert a2.status == "ok", a2.error
report = {
    "applied": log["applied"],
    "theta": a2.theta.tolist(),
    "max_staleness": max(r.metrics["staleness_max"] for r in a2.rounds),
    "held": len(log["loop"].held),
    "buffers": log["buffers"],
}
(out / "async2.json").write_text(json.dumps(report))
print("async: done", flush=True)
