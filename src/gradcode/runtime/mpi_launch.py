"""Starting under MPI: detect an mpiexec-launched process and relaunch a command under mpiexec.

Nothing here imports mpi4py (importing it initialises MPI).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

# Set by the process managers for every rank they start: MPICH/Intel MPI hydra (PMI_*,
# MPI_LOCALNRANKS), PMIx launchers (Open MPI 5, srun --mpi=pmix), Open MPI, MVAPICH.
WORLD_VARS = (
    "PMI_RANK",
    "PMI_SIZE",
    "PMI_ID",
    "PMI_FD",
    "PMI_PORT",
    "PMIX_RANK",
    "OMPI_COMM_WORLD_SIZE",
    "MPI_LOCALNRANKS",
    "MV2_COMM_WORLD_SIZE",
)


def in_mpi_world() -> bool:
    """True when this process was started by mpiexec/mpirun (or srun with PMI), by environment."""
    return any(os.environ.get(var) for var in WORLD_VARS)


def find_mpiexec() -> str:
    """The mpiexec of this interpreter's environment (the `mpich` wheel puts it next to python),
    else the first on PATH (`GRADCODE_MPIEXEC` overrides both)."""
    if override := os.environ.get("GRADCODE_MPIEXEC"):
        return override
    here = Path(sys.executable).parent / "mpiexec"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which("mpiexec") or shutil.which("mpirun")
    if found is None:
        raise RuntimeError(
            "engine 'mpi' needs mpiexec: `pip install \"gradcode[mpi]\"` (the mpich wheel brings "
            "one) or put your MPI's mpiexec on PATH (or set GRADCODE_MPIEXEC)"
        )
    return found


def mpiexec_flags(mpiexec: str) -> list[str]:
    """Extra flags this mpiexec needs to run n+1 ranks on a small machine (Open MPI: oversubscribe,
    and run as root where we are root; MPICH's hydra needs none), then `GRADCODE_MPIEXEC_ARGS`."""
    flags: list[str] = []
    try:
        version = subprocess.run(
            [mpiexec, "--version"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        version = ""
    if "Open MPI" in version or "OpenRTE" in version:
        flags.append("--oversubscribe")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            flags.append("--allow-run-as-root")
    return flags + shlex.split(os.environ.get("GRADCODE_MPIEXEC_ARGS", ""))


def mpiexec_command(n: int, argv: Sequence[str], module: str = "gradcode") -> list[str]:
    """`mpiexec -n n+1 python -m module argv...`: rank 0 the master, ranks 1..n the workers."""
    if n < 1:
        raise ValueError(f"n must be >= 1 workers, got n={n}")
    mpiexec = find_mpiexec()
    return [
        mpiexec,
        *mpiexec_flags(mpiexec),
        "-n",
        str(n + 1),
        sys.executable,
        "-m",
        module,
        *argv,
    ]


def relaunch_under_mpiexec(n: int, argv: list[str], module: str = "gradcode") -> int:
    """Run `mpiexec -n n+1 sys.executable -m gradcode <argv>` and return its exit code.

    Ctrl-C reaches mpiexec too (same process group), which forwards it to the ranks: we keep
    waiting so the master can save its results; a third Ctrl-C kills mpiexec.
    """
    proc = subprocess.Popen(mpiexec_command(n, argv, module))
    interrupts = 0
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            interrupts += 1
            if interrupts >= 3:
                proc.kill()
