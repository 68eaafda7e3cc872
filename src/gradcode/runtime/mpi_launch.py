"""Starting under MPI: detect an mpiexec-launched process and relaunch a command under mpiexec.

Nothing here imports mpi4py (importing it initialises MPI).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ..registry import MissingDependency

SHM = Path("/dev/shm")
MPI_SHM_PREFIXES = ("mpich_shm_", "mpich", "MPICH", "sm_segment.", "vader_segment.", "psm2_shm")

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
        raise MissingDependency(
            "engine 'mpi' needs mpiexec, which is not on PATH",
            'pip install "gradcode[mpi]", whose mpich wheel brings one; or put your MPI\'s '
            "mpiexec on PATH, or set GRADCODE_MPIEXEC",
            name="mpiexec",
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


def relaunch_under_mpiexec(
    n: int, argv: list[str], module: str = "gradcode", out: str | Path | None = None
) -> int:
    """Run `mpiexec -n n+1 sys.executable -m gradcode <argv>` and return its exit code.

    Ctrl-C reaches mpiexec too (same process group), which forwards it to the ranks: we keep
    waiting so the master can save its results; a third Ctrl-C kills mpiexec. SIGTERM and SIGHUP
    sent to this process are passed on to mpiexec. When the job is over, shared-memory segments
    it left in /dev/shm (a rank killed by a signal makes MPICH's hydra tear the job down before
    MPI_Finalize) are removed, and if the run in `out` did not finish, one line says how to
    resume it.
    """
    before = shm_entries()
    proc = subprocess.Popen(mpiexec_command(n, argv, module))

    def forward(signum: int, frame) -> None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGHUP)}
    interrupts = 0
    try:
        while True:
            try:
                code = proc.wait()
                break
            except KeyboardInterrupt:
                interrupts += 1
                if interrupts >= 3:
                    proc.kill()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        removed = remove_leaked_shm(before)
    if code != 0 and out is not None:
        _say_how_to_resume(Path(out), code, removed)
    return code


def shm_entries(root: Path = SHM) -> set[str]:
    try:
        return set(os.listdir(root))
    except OSError:
        return set()


def remove_leaked_shm(before: set[str], root: Path = SHM) -> list[str]:
    """Remove the entries of `root` that appeared since `before`, carry an MPI library's name,
    and are mapped by no process (a live job's segments are mapped); returns their names."""
    new = [f for f in shm_entries(root) - before if f.startswith(MPI_SHM_PREFIXES)]
    if not new:
        return []
    mapped = _mapped_paths()
    removed = []
    for name in sorted(new):
        path = root / name
        if str(path) not in mapped:
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(name)
    return removed


def _mapped_paths() -> set[str]:
    """Every file mapped by a process we can see (/proc/*/maps)."""
    paths: set[str] = set()
    for maps in Path("/proc").glob("[0-9]*/maps"):
        with contextlib.suppress(OSError):
            for line in maps.read_text().splitlines():
                parts = line.split(maxsplit=5)
                if len(parts) == 6:
                    paths.add(parts[5].removesuffix(" (deleted)"))
    return paths


def _say_how_to_resume(out: Path, code: int, removed: list[str]) -> None:
    from .journal import load_result

    try:
        result = load_result(out)
    except ValueError:
        return  # no run folder: the job failed before the master started
    if result.status != "died":
        return  # the master wrote its own end (ok, failed, interrupted) and said so
    cleaned = f"; removed {len(removed)} leftover MPI shared-memory segment(s)" if removed else ""
    sys.stderr.write(
        f"gradcode: the MPI job ended (mpiexec exit status {code}) before the run finished; "
        f"{len(result.rounds)} rounds are journaled in {out}{cleaned}; resume with: "
        f"gradcode train --resume {out}\n"
    )
