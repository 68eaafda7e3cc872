"""`mpiexec -n 4 python by_reference.py OUT DATA.npz [HOSTS]`: a run whose rows stay in DATA.npz.

Worker ranks serve before anything else (they never see the data set as a whole); each reads
its partitions' rows from the file. Rank 0 writes OUT/summary.json: its peak RSS, the size of X
in the file, the final θ, the decoded losses, and each rank's host name."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

from mpi4py import MPI

from gradcode.runtime.engines.mpi import serve_if_worker

ssh = os.environ.get("SSH_CONNECTION", "- - local -").split()  # client port server port
hosts = MPI.COMM_WORLD.gather(f"{socket.gethostname()}|{MPI.Get_processor_name()}|{ssh[2]}", 0)
serve_if_worker(3)

import numpy as np  # noqa: E402

import gradcode as gc  # noqa: E402

out, data = Path(sys.argv[1]), sys.argv[2]
res = gc.train(
    "cyclic", f"npz:path={data}", n=3, s=1, rounds=6, engine="mpi", record_params=True,
    out=out / "run",
)  # fmt: skip
np.save(out / "theta.npy", res.theta)
summary = {
    "status": res.status,
    "peak_rss_bytes": res.master["peak_rss_bytes"],
    "x_bytes": gc.NpzRows(data).nbytes,
    "losses": [r.loss for r in res.rounds],
    "hosts": hosts,
}
(out / "summary.json").write_text(json.dumps(summary))
print("by_reference: done", flush=True)
