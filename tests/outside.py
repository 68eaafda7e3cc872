"""Faults the way the world delivers them: processes found and signalled from outside, and what
they leave behind (processes, /dev/shm entries, files)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

SHM = Path("/dev/shm")


def processes_with(marker: str) -> list[int]:
    """Pids whose command line mentions marker (a unique output folder); forked workers keep
    their master's command line, so they are found too."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if marker.encode() in cmdline and state != "Z":  # zombies are gone, not reaped yet
                pids.append(int(entry.name))
    return pids


def environ_of(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    return dict(kv.split("=", 1) for kv in raw.decode(errors="replace").split("\0") if "=" in kv)


def children_of(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                kids.append(int(entry.name))
    return kids


def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    """Poll until predicate() is true; False if `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def journaled_rounds(folder: Path) -> int:
    """Complete rows in folder/rounds.csv (0 before the header is there)."""
    try:
        text = (folder / "rounds.csv").read_text()
    except OSError:
        return 0
    return max(0, text.count("\n") - 1)


def shm_entries() -> set[str]:
    return set(os.listdir(SHM)) if SHM.is_dir() else set()


def mapped_files() -> set[str]:
    paths = set()
    for maps in Path("/proc").glob("[0-9]*/maps"):
        try:
            lines = maps.read_text().splitlines()
        except OSError:
            continue
        paths.update(p[5] for p in (line.split(maxsplit=5) for line in lines) if len(p) == 6)
    return paths


def leaked_shm(before: set[str]) -> list[str]:
    """/dev/shm entries that appeared since `before` and that no live process maps."""
    mapped = mapped_files()
    return sorted(f for f in shm_entries() - before if str(SHM / f) not in mapped)


def gradcode(*args: str, **kw) -> subprocess.Popen:
    """`python -m gradcode ARGS` in its own session (signals from the test reach only it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "gradcode", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **kw,
    )


def run_bounded(cmd: list[str], marker: str, timeout: float) -> subprocess.CompletedProcess:
    """Run cmd in its own session; past `timeout` s kill it (and every process naming `marker`)
    and fail. Then check that no process naming `marker` is left (3 s of grace)."""
    import pytest

    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        for pid in processes_with(marker):
            os.kill(pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail(f"{cmd} hung for {timeout} s\n{stdout}\n{stderr}")
    wait_for(lambda: not processes_with(marker), 3.0, 0.1)
    left = processes_with(marker)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"{cmd} left processes behind: {left}"
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
