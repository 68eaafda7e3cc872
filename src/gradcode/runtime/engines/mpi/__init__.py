"""MPI engine: rank 0 is the master, ranks 1..n are workers 0..n-1 (`mpiexec -n n+1 python ...`).

Every rank runs the same script. On a worker rank `train(..., engine="mpi")` never returns: building
the engine there serves every training session rank 0 opens, then raises `SystemExit(0)` once
rank 0 exits (it sends SHUTDOWN from an atexit hook). Only rank 0 goes past `train`.

Hot path: buffer-based Isend/Irecv on preallocated float64 buffers, never pickles. Messages are
told apart by a few fixed tags; session and round ids travel inside the messages:
task = [round, theta...], reply = [session, round, compute_s, part, last | message], ready =
[session], done = [round]. A reply is raw bytes: a float64 header, then the message in the
session's dtype (float64 or float32); a header with part -1 says the worker stopped the round
early (DONE). Multi-message codes send up to `parts` replies per task, into consecutive slots.
Startup (each worker's WorkerJob) is pickled once per session; ERROR carries UTF-8 text.

Fault isolation: a worker rank is a thin relay. It forks one compute process per session that holds
the job and computes in shared memory; the rank waits on it and on the master at once. A compute
process that dies, raises or hangs (then the master's KILL makes the rank SIGKILL it) is reported
as a dead worker while the rank stays in the MPI job, so MPI itself never sees a process die and
the run finishes, or fails with TrainingError, cleanly under any MPI (MPICH's hydra SIGKILLs every
rank on a node as soon as one rank is killed by a signal, even with -disable-auto-cleanup).
Losing a rank process itself is survived only where the MPI reports it (Open MPI with ULFM, an
MPI error on the request); see docs/mpi.md.

Modules, one per process role: `master` (rank 0: `MPIEngine`, the release of the worker ranks at
exit), `rank` (a worker rank's relay), `child` (its compute process, which runs the worker loop
of gradcode.runtime.serve), `wire` (tags, reply layout, polling naps).
"""

from __future__ import annotations

import os

# Before MPI_Init, so here, before any module of this package imports mpi4py: oversubscribed
# ranks otherwise busy-poll (MPICH ch4; ignored by other MPIs). The mpich 5.0.2 wheel's blocking
# waits spin regardless (docs/mpi.md), so idle ranks wait with Test and growing naps instead.
os.environ.setdefault("MPIR_CVAR_CH4_PROGRESS_THROTTLE", "1")
os.environ.setdefault("MPIR_CVAR_CH4_PROGRESS_THROTTLE_NO_PROGRESS_COUNT", "16")

from .master import MPIEngine, serve_if_worker, world_check

__all__ = ["MPIEngine", "serve_if_worker", "world_check"]
