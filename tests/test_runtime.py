"""The master loop on the local engine: exact trajectories, faults, timeouts, clean shutdown."""

import json
import multiprocessing
import os

import numpy as np
import pytest

import gradcode as gc
from gradcode.data import gaussian_mixture
from gradcode.delays import ExponentialDelay, FixedStragglers
from gradcode.models import full_objective, make_model
from gradcode.runtime import Fault, TrainingError, train

pytestmark = pytest.mark.timeout(120)

MODEL = make_model("logistic", l2=1e-3)
LR, ROUNDS = 0.5, 10


@pytest.fixture(scope="module")
def data():
    return gaussian_mixture(1003, 12, seed=3)  # 1003 rows: partitions of unequal size


def reference(X, y, rounds=ROUNDS):
    """Single-process full-batch gradient descent: the uncoded all-workers trajectory."""
    theta, out = np.zeros(X.shape[1]), []
    for _ in range(rounds):
        theta = theta - LR * full_objective(MODEL, theta, X, y)[1]
        out.append(theta)
    return np.array(out)


def leaked_segments():
    return [f for f in os.listdir("/dev/shm") if f.startswith(f"gradcode_{os.getpid()}_")]


@pytest.fixture(autouse=True)
def no_leaks():
    yield
    assert multiprocessing.active_children() == []
    assert leaked_segments() == []


@pytest.mark.parametrize(
    ("scheme", "n", "s"), [("naive", 4, 0), ("frc", 6, 1), ("cyclic", 6, 2), ("cyclic-mds", 7, 2)]
)
def test_exact_trajectory_with_stragglers_and_s_killed(data, scheme, n, s):
    X, y = data
    code = gc.make_code(scheme, n, s, seed=1)
    faults = [Fault(worker=w, round=1 + w) for w in range(1, s + 1)]  # early: seen for sure
    result = train(
        code,
        X,
        y,
        model=MODEL,
        optimizer="gd",
        lr=LR,
        rounds=ROUNDS,
        faults=faults,
        delay=FixedStragglers(workers=(0,), delay=0.01),
        record_params=True,
    )
    ref = reference(X, y)
    got = np.array(result.params)
    assert np.max(np.linalg.norm(got - ref, axis=1) / np.linalg.norm(ref, axis=1)) <= 1e-9
    assert sorted(result.dead) == list(range(1, s + 1))
    assert all("SIGKILL" in why for why in result.dead.values())
    assert result.status == "ok" and len(result.rounds) == ROUNDS
    for r in result.rounds[2 + s :]:  # once dead, never used again
        assert not set(r.survivors) & set(range(1, s + 1))
        assert code.residual(code.decode(r.survivors)) <= 1e-9


def test_ignore_is_not_exact_but_runs(data):
    X, y = data
    result = train(
        "ignore",
        X,
        y,
        n=4,
        s=1,
        model=MODEL,
        optimizer="gd",
        lr=LR,
        rounds=5,
        delay=FixedStragglers(workers=(2,), delay=0.5),  # far slower than any loaded machine
    )
    assert all(len(r.survivors) == 3 and 2 not in r.survivors for r in result.rounds[1:])
    assert np.linalg.norm(result.theta - reference(X, y, 5)[-1]) > 1e-6


def test_more_than_s_killed_fails_clearly_and_keeps_results(data, tmp_path):
    X, y = data
    faults = [Fault(1, 4), Fault(2, 4)]
    with pytest.raises(TrainingError) as err:
        train("cyclic", X, y, n=5, s=1, model=MODEL, rounds=10, faults=faults, out=tmp_path)
    message = str(err.value)
    assert "round 4: cannot decode: workers [1, 2] are dead" in message
    assert "killed by signal SIGKILL" in message and "needs any 4 of the n=5 workers" in message
    assert len(err.value.result.rounds) == 4
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["status"] == "failed" and saved["rounds_completed"] == 4
    assert len((tmp_path / "rounds.csv").read_text().splitlines()) == 1 + 4


def test_worker_exception_reaches_master_with_traceback(data):
    X, y = data
    result = train(
        "frc",
        X,
        y,
        n=4,
        s=1,
        model=MODEL,
        rounds=8,
        faults=[Fault(3, 1, "raise")],
        delay=ExponentialDelay(mean=0.01, seed=0),
    )
    assert "Traceback" in result.dead[3]
    assert "RuntimeError: injected fault: worker 3 raised at round 1" in result.dead[3]


def test_hung_worker_within_s_never_delays_the_master(data):
    X, y = data
    result = train(
        "cyclic",
        X,
        y,
        n=4,
        s=1,
        model=MODEL,
        rounds=6,
        faults=[Fault(0, 2, "hang")],
        round_timeout=30,
    )
    assert result.status == "ok" and max(result.wall_s) < 30
    assert all(0 not in r.survivors for r in result.rounds[2:])


def test_hung_worker_beyond_s_hits_round_timeout(data):
    X, y = data
    with pytest.raises(TrainingError, match="no reply within the round timeout of 0.5 s"):
        train(
            "naive",
            X,
            y,
            n=3,
            model=MODEL,
            rounds=5,
            faults=[Fault(1, 2, "hang")],
            round_timeout=0.5,
        )


def test_ctrl_c_leaves_nothing_behind(data):
    X, y = data

    def interrupt(record):
        if record.round == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train("cyclic", X, y, n=4, s=1, model=MODEL, rounds=10, on_round=interrupt)


def test_records_arrivals_and_saves_tidy_results(data, tmp_path):
    X, y = data
    result = train(
        "frc",
        X,
        y,
        n=4,
        s=1,
        model=MODEL,
        rounds=3,
        out=tmp_path,
        delay=FixedStragglers(workers=(1,), delay=0.3),
    )
    r = result.rounds[1]
    assert np.isnan(r.arrival_s[1]) and 1 not in r.survivors  # the straggler is not waited for
    assert np.all(np.isfinite(r.arrival_s[list(r.survivors)]))
    assert r.wall_s < 0.3
    lines = (tmp_path / "workers.csv").read_text().splitlines()
    assert lines[0] == "scheme,round,worker,arrival_s,compute_s,used" and len(lines) == 1 + 3 * 4
    assert np.load(tmp_path / "theta.npy").shape == (12,)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"code": "cyclic", "n": 4, "s": 4}, "s must satisfy 0 <= s < n, got s=4, n=4"),
        ({"code": gc.make_code("cyclic", 4, 1), "n": 5}, "n=5 does not match the code's n=4"),
        ({"code": "cyclic"}, "pass n"),
        (
            {"code": "cyclic", "n": 4, "s": 1, "faults": [Fault(9, 1)]},
            "fault worker 9 is out of range",
        ),
        ({"code": "cyclic", "n": 4, "s": 1, "rounds": 0}, "rounds must be an integer >= 1"),
        ({"code": "cyclic", "n": 4, "s": 1, "engine": "spark"}, "unknown engine 'spark'"),
    ],
)
def test_bad_arguments_fail_before_any_work(data, kwargs, message):
    X, y = data
    with pytest.raises(ValueError, match=message):
        train(X=X, y=y, model=MODEL, **kwargs)


def test_bad_data_fails_before_any_work():
    X, y = gaussian_mixture(50, 3, seed=0)
    X[7, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        train("cyclic", X, y, n=4, s=1)
    with pytest.raises(ValueError, match="3 rows cannot fill k=4 partitions"):
        train("cyclic", X[:3] * 0, y[:3], n=4, s=1)


def test_sparse_data_least_squares_and_nesterov_match_the_reference():
    import scipy.sparse as sp

    from gradcode.optim import make_optimizer

    rng = np.random.default_rng(5)
    X = sp.random(301, 40, density=0.1, format="csr", random_state=rng)
    y = rng.standard_normal(301)
    model = make_model("least-squares", l2=1e-2)
    result = train(
        "cyclic-mds",
        X,
        y,
        n=5,
        s=2,
        model=model,
        optimizer="nesterov",
        lr=0.3,
        rounds=8,
        record_params=True,
        delay=FixedStragglers(workers=(4,), delay=0.02),
    )
    opt = make_optimizer("nesterov", lr=0.3)
    theta = np.zeros(40)
    state = opt.init(theta)
    for got in result.params:
        theta, state = opt.step(theta, full_objective(model, theta, X, y)[1], state)
        assert np.linalg.norm(got - theta) <= 1e-9 * np.linalg.norm(theta)


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is Linux's")
def test_workers_run_as_batch_jobs_and_the_master_does_not():
    """Workers are CPU-bound batch jobs (they never preempt the master when handed a task);
    the master keeps its own policy."""
    from outside import children_of

    X, y = gaussian_mixture(400, 6, seed=0)
    policies: list[set[int]] = []

    def look(record) -> None:
        policies.append({os.sched_getscheduler(pid) for pid in children_of(os.getpid())})

    master = os.sched_getscheduler(0)
    train("cyclic", X, y, n=3, s=1, rounds=3, on_round=look)
    assert policies and all(p == {os.SCHED_BATCH} for p in policies), policies
    assert os.sched_getscheduler(0) == master != os.SCHED_BATCH
