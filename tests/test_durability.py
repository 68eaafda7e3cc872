"""Durable runs: the journal, checkpoints and resume, under faults delivered from outside.

The master is killed with SIGKILL and SIGTERM by this test (as a scheduler, `timeout` or the OOM
killer would), workers are killed while a run resumes, output folders fill up or turn read-only;
then what is left is checked: processes, /dev/shm, the files, and the resumed trajectory against
an uninterrupted run's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import gradcode as gc
from gradcode.cli import main
from gradcode.data import gaussian_mixture
from gradcode.delays import ExponentialDelay
from outside import (
    children_of,
    gradcode,
    journaled_rounds,
    leaked_shm,
    processes_with,
    shm_entries,
    wait_for,
)

pytestmark = pytest.mark.timeout(180)

N, ROUNDS = 6, 80
# two slow workers and s=1: every round waits ~20 ms for one of them, so a run lasts ~2 s
TRAIN = ["-n", str(N), "-s", "1", "--rows", "1500", "--features", "10", "--rounds", str(ROUNDS)]
TRAIN += ["--delay", "fixed:workers=0,1;delay=0.02", "--checkpoint-every", "7", "--quiet"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> np.ndarray:
    """θ after an uninterrupted run of TRAIN."""
    out = tmp_path_factory.mktemp("reference")
    assert main(["train", *TRAIN, "--out", str(out)]) == 0
    return np.load(out / "theta.npy")


def start_and_wait(out: Path, rounds: int, *extra: str) -> subprocess.Popen:
    p = gradcode("train", *TRAIN, "--out", str(out), *extra)
    if not wait_for(lambda: journaled_rounds(out) >= rounds, 90):
        p.kill()
        pytest.fail(f"the run journaled {journaled_rounds(out)} rounds: {p.communicate()}")
    return p


def resume(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gradcode", "train", "--resume", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_complete(out: Path, reference: np.ndarray, segments: int = 2) -> gc.Result:
    result = gc.load_result(out)
    assert result.status == "ok"
    assert [r.round for r in result.rounds] == list(range(ROUNDS))  # each round once
    assert len(result.segments) == segments
    np.testing.assert_allclose(np.load(out / "theta.npy"), reference, rtol=0, atol=1e-12)
    return result


def test_sigkill_of_the_master_leaves_nothing_and_the_run_resumes(tmp_path, reference):
    before, out = shm_entries(), tmp_path / "run"
    p = start_and_wait(out, 25)
    assert len(processes_with(str(out))) == N + 1  # the master and its forked workers
    os.kill(p.pid, signal.SIGKILL)
    killed_at = time.time()
    p.wait(10)
    assert wait_for(lambda: not processes_with(str(out)), 2.0), processes_with(str(out))
    assert leaked_shm(before) == []
    assert killed_at - (out / "rounds.csv").stat().st_mtime < 1.0  # journaled until the kill
    died = gc.load_result(out)
    assert died.status == "died"
    assert [r.round for r in died.rounds] == list(range(len(died.rounds)))
    assert len(died.rounds) >= 25

    done = resume(out)
    assert done.returncode == 0, done.stderr
    assert_complete(out, reference)
    assert not processes_with(str(out)) and leaked_shm(before) == []


def test_sigterm_is_a_clean_stop_and_a_worker_killed_while_resuming_is_a_straggler(
    tmp_path, reference
):
    before, out = shm_entries(), tmp_path / "run"
    p = start_and_wait(out, 20)
    p.send_signal(signal.SIGTERM)
    stdout, stderr = p.communicate(timeout=30)
    assert p.returncode == 143
    assert "Traceback" not in stderr
    assert f"resume with: gradcode train --resume {out}" in stderr
    assert wait_for(lambda: not processes_with(str(out)), 2.0)
    stopped = gc.load_result(out)
    assert stopped.status == "interrupted" and "SIGTERM" in stopped.error
    kept = len(stopped.rounds)

    r = gradcode("train", "--resume", str(out))
    assert wait_for(lambda: journaled_rounds(out) >= kept + 5, 60)
    victim = max(children_of(r.pid))  # the last forked worker: not one of the slow ones
    os.kill(victim, signal.SIGKILL)
    stdout, stderr = r.communicate(timeout=120)
    assert r.returncode == 0, stderr
    result = assert_complete(out, reference)
    assert list(result.dead) == [N - 1] and "SIGKILL" in result.dead[N - 1]
    assert not processes_with(str(out)) and leaked_shm(before) == []


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGHUP, 129)])
def test_ctrl_c_and_sighup_stop_like_sigterm(tmp_path, sig, status):
    out = tmp_path / "run"
    p = start_and_wait(out, 5)
    p.send_signal(sig)
    _, stderr = p.communicate(timeout=30)
    assert p.returncode == status
    assert "Traceback" not in stderr and f"interrupted by {sig.name}" in stderr
    assert wait_for(lambda: not processes_with(str(out)), 2.0)
    assert gc.load_result(out).status == "interrupted"


@pytest.fixture(scope="module")
def data():
    return gaussian_mixture(900, 8, seed=5)


@pytest.mark.parametrize(
    ("scheme", "optimizer"),
    [("cyclic", "nesterov"), ("cyclic-mds", "adam"), ("partial-cyclic:P=4", "nesterov")],
)
def test_resume_after_a_signal_follows_the_uninterrupted_trajectory(
    tmp_path, data, scheme, optimizer
):
    X, y = data
    kw = dict(n=5, s=1, optimizer=optimizer, lr=0.2, rounds=14, record_params=True)
    kw |= dict(delay=ExponentialDelay(mean=0.003, seed=2))
    full = gc.train(scheme, X, y, **kw)

    def sigterm_at_round_6(record):
        if record.round == 6:
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(gc.Interrupted) as stop:
        gc.train(scheme, X, y, out=tmp_path, checkpoint_every=4, on_round=sigterm_at_round_6, **kw)
    assert stop.value.exit_status == 143
    assert stop.value.result.status == "interrupted"
    assert gc.load_result(tmp_path).status == "interrupted"

    res = gc.train(scheme, X, y, resume=tmp_path, **kw)
    np.testing.assert_allclose(np.stack(res.params), np.stack(full.params), rtol=0, atol=1e-12)
    assert [r.round for r in res.rounds] == list(range(14))
    saved = gc.load_result(tmp_path)
    np.testing.assert_allclose(np.stack(saved.params), np.stack(full.params), rtol=0, atol=1e-12)


def test_resume_on_fewer_workers_stays_exact(tmp_path, data):
    X, y = data
    kw = dict(s=1, lr=0.3, record_params=True)
    full = gc.train("cyclic", X, y, n=6, rounds=10, **kw)
    gc.train("cyclic", X, y, n=6, rounds=4, out=tmp_path, **kw)
    res = gc.train("cyclic", X, y, n=5, rounds=10, resume=tmp_path, **kw)  # a node was lost
    np.testing.assert_allclose(res.theta, full.theta, rtol=0, atol=1e-12)
    assert res.segments[-1] | {"started": None} == {
        "from_round": 4,
        "scheme": "cyclic",
        "n": 5,
        "s": 1,
        "resumed": True,
        "same_code": False,
        "engine": "local",
        "started": None,
    }
    assert [r.arrival_s.size for r in gc.load_result(tmp_path).rounds] == [6] * 4 + [5] * 6


def test_resume_refuses_another_run(tmp_path, data):
    X, y = data
    gc.train("cyclic", X, y, n=4, s=1, rounds=3, out=tmp_path)
    with pytest.raises(ValueError, match="has data"):
        gc.train("cyclic", X[:-1], y[:-1], n=4, s=1, rounds=5, resume=tmp_path)
    with pytest.raises(ValueError, match="has optimizer"):
        # lr=0.1, the old default: any lr but the default lr=0.5 of the run saved above
        gc.train("cyclic", X, y, n=4, s=1, rounds=5, lr=0.1, resume=tmp_path)
    with pytest.raises(ValueError, match="its run used 'cyclic'"):
        gc.train("frc", X, y, n=4, s=1, rounds=5, resume=tmp_path)
    with pytest.raises(ValueError, match="writes on into its own folder"):
        gc.train("cyclic", X, y, n=4, s=1, resume=tmp_path, out=tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="holds no checkpoint"):
        gc.train("cyclic", X, y, n=4, s=1, resume=tmp_path / "nothing")
    ck = tmp_path / "checkpoint.npz"
    ck.write_bytes(ck.read_bytes()[:100])  # truncated, as a full disk or a crash would leave it
    with pytest.raises(ValueError, match="is damaged"):
        gc.train("cyclic", X, y, n=4, s=1, rounds=5, resume=tmp_path)


def test_a_finished_run_extends_and_a_new_run_replaces_an_old_folder(tmp_path, data):
    X, y = data
    full = gc.train("frc", X, y, n=4, s=1, rounds=9)
    gc.train("frc", X, y, n=4, s=1, rounds=5, out=tmp_path)
    res = gc.train("frc", X, y, n=4, s=1, rounds=9, resume=tmp_path)
    np.testing.assert_allclose(res.theta, full.theta, rtol=0, atol=1e-12)
    gc.train("naive", X, y, n=4, rounds=2, out=tmp_path, record_params=True)
    again = gc.load_result(tmp_path)
    assert (again.config["scheme"], len(again.rounds), len(again.params)) == ("naive", 2, 2)
    assert len(again.segments) == 1


def test_reader_drops_a_row_cut_short_by_a_crash(tmp_path, data):
    X, y = data
    gc.train("cyclic", X, y, n=4, s=1, rounds=6, out=tmp_path)
    rounds = tmp_path / "rounds.csv"
    rounds.write_text(rounds.read_text()[:-7])  # the last row lost its end
    result = gc.load_result(tmp_path)
    assert [r.round for r in result.rounds] == [0, 1, 2, 3, 4]
    assert all(r.arrival_s.size == 4 for r in result.rounds)
    (tmp_path / "result.json").write_text('{"status": "runn')
    with pytest.raises(ValueError, match="not valid JSON"):
        gc.load_result(tmp_path)


def test_truncated_data_file_is_one_clear_line(tmp_path):
    path = tmp_path / "data.npz"
    X, y = gaussian_mixture(100, 4, seed=0)
    np.savez(path, X=X, y=y)
    path.write_bytes(path.read_bytes()[:-40])
    p = subprocess.run(
        [sys.executable, "-m", "gradcode", "train", "--data", str(path), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 2
    assert "is damaged or truncated" in p.stderr and "Traceback" not in p.stderr


@pytest.fixture
def small_mount(tmp_path):
    """A 256 KiB tmpfs (root only): a disk that fills up, or turns read-only, under the run."""
    folder = tmp_path / "mnt"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"needs root to mount a small tmpfs: {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=True)


def test_full_output_folder_stops_the_run_cleanly(small_mount):
    before = shm_entries()
    out = small_mount / "run"
    p = subprocess.run(
        [sys.executable, "-m", "gradcode", "train", "-n", "4", "-s", "1", "--rows", "400"]
        + ["--features", "400", "--rounds", "400", "--record-params", "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 1, p.stderr
    assert "No space left on device" in p.stderr and "Traceback" not in p.stderr
    assert not processes_with(str(out)) and leaked_shm(before) == []
    saved = json.loads((out / "result.json").read_text())  # as the last atomic write left it
    assert saved["status"] in ("running", "failed")


def test_read_only_output_folder_fails_before_any_work(small_mount):
    subprocess.run(["mount", "-o", "remount,ro", str(small_mount)], check=True)
    out = small_mount / "run"
    p = subprocess.run(
        [sys.executable, "-m", "gradcode", "train", "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 1
    assert "Read-only file system" in p.stderr and "Traceback" not in p.stderr
    assert not processes_with(str(out))


def test_killed_comparison_resumes_without_redoing_finished_schemes(tmp_path):
    args = ["--schemes", "naive,frc,cyclic", "-n", "4", "-s", "1", "--dataset", "gaussian"]
    args += ["--dataset-params", '{"rows": 800, "d": 6}', "--rounds", "60", "--quiet"]
    args += ["--delay", "fixed:workers=0,1;delay=0.02"]
    full = tmp_path / "full"
    assert main(["compare", *args, "--out", str(full)]) == 0
    out = tmp_path / "killed"
    p = gradcode("compare", *args, "--out", str(out))
    assert wait_for(lambda: journaled_rounds(out / "runs" / "01-frc") >= 10, 90)
    p.send_signal(signal.SIGTERM)
    _, stderr = p.communicate(timeout=30)
    assert p.returncode == 143 and "Traceback" not in stderr
    assert f"gradcode compare --resume {out}" in stderr
    naive = (out / "runs" / "00-naive" / "rounds.csv").stat().st_mtime_ns

    assert main(["compare", "--resume", str(out), "--quiet"]) == 0
    assert (out / "runs" / "00-naive" / "rounds.csv").stat().st_mtime_ns == naive  # not rerun
    assert len(gc.load_result(out / "runs" / "01-frc").segments) == 2  # resumed mid-run
    expect = {r["scheme"]: r["final_train_loss"] for r in _csv(full / "summary.csv")}
    got = {r["scheme"]: r["final_train_loss"] for r in _csv(out / "summary.csv")}
    assert got.keys() == expect.keys()
    for scheme, loss in expect.items():
        assert abs(float(got[scheme]) - float(loss)) <= 1e-12


def _csv(path: Path) -> list[dict]:
    import csv

    with open(path, newline="") as f:
        return list(csv.DictReader(f))
