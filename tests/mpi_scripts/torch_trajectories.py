"""Coded float32 training of a torch MLP on the mpi engine, one worker straggling.

Usage: mpiexec -n 5 python torch_trajectories.py OUTDIR   (N=4 workers). Saves OUTDIR/<scheme>.npy,
the parameter trajectory with torch's SGD (momentum) stepped on the master.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from torch_common import CASES, LR, MOMENTUM, ROUNDS, STRAGGLERS, N, data, model

import gradcode as gc
from gradcode.optim_torch import TorchSGD

out = Path(sys.argv[1])
X, y = data()
net = model()
for scheme, s in CASES.items():
    res = gc.train(
        scheme,
        X,
        y,
        n=N,
        s=s,
        seed=1,
        model=net,
        optimizer=TorchSGD(lr=LR, momentum=MOMENTUM),
        rounds=ROUNDS,
        engine="mpi",
        delay=STRAGGLERS,
        eval_every=0,
        record_params=True,
    )
    assert res.status == "ok", (scheme, res.status, res.error)
    np.save(out / f"{scheme}.npy", np.stack(res.params))
print("torch trajectories: done", flush=True)
