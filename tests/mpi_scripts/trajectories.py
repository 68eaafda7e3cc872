"""Every exact code with stragglers, and with s workers killed / hung / raising mid-run.

Usage: mpiexec -n 7 python trajectories.py OUTDIR   (N=6 workers). Saves OUTDIR/<case>.npy (the
parameter trajectory) and OUTDIR/dead.json (who died, and why, per case).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from common import MULTI, N, S, data, gd_kwargs

import gradcode as gc
from gradcode.delays import FixedStragglers
from gradcode.runtime import Fault

out = Path(sys.argv[1])
X, y = data()
cases = {}
slow = FixedStragglers(workers=(0, 3), delay=0.03)
# Faults strike at a given round; a worker lagging a round behind skips rounds. A delay on every
# worker, long against scheduling noise, makes every worker compute every round.
steady = FixedStragglers(workers=tuple(range(N)), delay=0.03)
for scheme in ("naive", "frc", "cyclic", "cyclic-mds"):
    s = 0 if scheme == "naive" else S
    cases[f"{scheme}-stragglers"] = (scheme, s, {"delay": slow})
    cases[f"{scheme}-killed"] = (
        scheme,
        s,
        {"faults": [Fault(1, 2), Fault(4, 5)][:s], "delay": steady},
    )
# a worker that hangs (never needed: killed at close) and one that raises
cases["cyclic-hang-raise"] = (
    "cyclic",
    S,
    {"faults": [Fault(2, 3, "hang"), Fault(5, 4, "raise")], "delay": steady, "round_timeout": 5.0},
)
# multi-message and unequal-partition codes; float32 messages (compared at 1e-5)
for name, spec in MULTI.items():
    cases[f"{name}-stragglers"] = (spec, S, {"delay": slow})
cases["comm-cyclic-killed"] = (  # with an emulated link: 16-byte messages at 4 kB/s
    "comm-cyclic:m=2",
    S,
    {"faults": [Fault(1, 2), Fault(4, 5)], "delay": steady, "link": "rate=4000"},
)
cases["stream-killed"] = ("stream", S, {"faults": [Fault(1, 2), Fault(4, 5)], "delay": steady})
cases["cyclic-mds-float32"] = ("cyclic-mds", S, {"delay": slow, "message_dtype": "float32"})
cases["comm-cyclic-float32"] = ("comm-cyclic:m=2", S, {"delay": slow, "message_dtype": "float32"})
cases["stream-float32"] = ("stream", S, {"delay": slow, "message_dtype": "float32"})
cases["stream-steady"] = (
    "stream",
    S,
    {"delay": FixedStragglers(workers=tuple(range(N)), delay=0.09)},
)
# Byzantine workers: located, dropped, quarantined after 3 rounds; the trajectory stays exact
cases["cyclic-mds-a1-corrupt"] = (
    "cyclic-mds:a=1",
    1,
    {"faults": ["2@0:corrupt=sign"], "delay": slow},
)
cases["frc-a1-corrupt"] = ("frc:a=1", 0, {"faults": ["4@1:corrupt=noise"], "delay": steady})
# the alternatives: a budget every worker meets and no backup are naive; one backup worker
# drops the persistent straggler's dealt partition; a short budget steps on the rows finished
cases["budget-full-stragglers"] = ("budget:T=60", 0, {"delay": slow})
cases["backup-b0-stragglers"] = ("backup:b=0", 0, {"delay": slow})
cases["backup-b1-persistent"] = (
    "backup:b=1",
    0,
    {"delay": FixedStragglers(workers=(0,), delay=0.3)},
)
cases["budget-short"] = ("budget:T=0.01;pieces=5", 0, {"delay": steady, "row_time": 1e-3})
dead, stopped, errors = {}, {}, {}
for name, (scheme, s, kw) in cases.items():
    res = gc.train(scheme, X, y, n=N, s=s, **gd_kwargs(**kw))
    assert res.status == "ok", (name, res.status, res.error)
    np.save(out / f"{name}.npy", np.stack(res.params))
    dead[name] = {str(w): why for w, why in res.dead.items()}
    stopped[name] = sum(r.stopped for r in res.rounds)
    errors[name] = [r.error for r in res.rounds]
(out / "dead.json").write_text(json.dumps(dead, indent=1))
(out / "stopped.json").write_text(json.dumps(stopped, indent=1))
(out / "errors.json").write_text(json.dumps(errors, indent=1))
print("trajectories: done", flush=True)
