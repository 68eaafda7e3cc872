"""Asynchronous SGD with a staleness bound (``async:staleness=T``) on both engines and in the
simulator: T = 0 is naive gradient descent, the bound holds, the engines hand every worker the
right θ version (a replay of the recorded order of applications), dead workers leave the clock,
the simulator predicts the clock time, bad options are refused, nothing leaks."""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import gradcode as gc
from gradcode.data import gaussian_mixture, split_rows
from gradcode.delays import FixedStragglers, RandomStragglers
from gradcode.experiments import compare
from gradcode.experiments.config import CompareConfig
from gradcode.models import make_model
from gradcode.runtime import Fault
from gradcode.runtime.async_loop import ASYNC_METRICS, AsyncLoop
from outside import run_bounded

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("no_leaks")]

N, LR, L2, ROUNDS = 4, 0.5, 1e-3, 10
SCRIPTS = Path(__file__).parent / "mpi_scripts"


@pytest.fixture(scope="module")
def data():
    return gaussian_mixture(402, 12, seed=3)  # 402 rows: partitions of unequal size


@pytest.fixture
def trace(monkeypatch):
    """Every message the async master applies, in order: (worker, θ version, clock); and the
    loop itself (its bookkeeping, checked empty at the end)."""
    log: dict = {"applied": [], "loop": None}
    arrived = AsyncLoop._arrived

    def spy(self, ev):
        log["loop"] = self
        log["applied"].append((ev.worker, int(self.sent[ev.worker]), int(self.clock[ev.worker])))
        arrived(self, ev)

    monkeypatch.setattr(AsyncLoop, "_arrived", spy)
    return log


def kwargs(**kw):
    base = dict(
        optimizer="gd", lr=LR, l2=L2, rounds=ROUNDS, record_params=True, theta0=np.zeros(12)
    )
    return base | kw


def replay(X, y, applied, n=N, lr=LR, l2=L2) -> np.ndarray:
    """θ after applying, in order, each (worker, version, clock) message, as the master does:
    θ <- θ - lr (g_i(θ_v)/m + l2 θ_v / n), θ_v the parameters after v applications."""
    model, m = make_model("logistic", l2=l2), X.shape[0]
    parts = split_rows(m, n)
    thetas = [np.zeros(X.shape[1])]
    for i, v, _ in applied:
        at = thetas[v]
        rows = parts[i]
        _, g = model.value_and_grad(at, X[rows], y[rows], np.ones(rows.size))
        thetas.append(thetas[-1] - lr * (g / m + (l2 / n) * at))
    return thetas[-1]


# -- T = 0 is naive gradient descent --------------------------------------------------------------


def test_staleness_zero_is_naive_gradient_descent(data, trace):
    """Every clock's gradients at one θ: the trajectory sampled each n applied messages is
    naive GD's to 1e-12 (only the summation order differs), with random stragglers reordering
    the arrivals; every staleness is 0, every clock step applies n messages."""
    X, y = data
    delay = RandomStragglers(count=1, delay=0.02, seed=4)
    got = gc.train("async:staleness=0", X, y, n=N, **kwargs(delay=delay))
    want = gc.train("naive", X, y, n=N, **kwargs(delay=delay))
    assert got.status == "ok" and len(got.rounds) == ROUNDS
    P, Q = np.stack(got.params), np.stack(want.params)
    assert np.max(np.abs(P - Q)) <= 1e-12 * np.max(np.abs(Q))
    assert [r.messages for r in got.rounds] == [N] * ROUNDS
    assert all(r.metrics["staleness_max"] == 0 for r in got.rounds)
    # the loss of clock c is F at θ_c, as naive decodes it
    assert np.allclose([r.loss for r in got.rounds], [r.loss for r in want.rounds], rtol=1e-12)
    assert got.config["staleness"] == 0 and got.rounds[0].survivors == tuple(range(N))
    loop = trace["loop"]
    assert loop.held == {} and loop.waiting == set() and not loop.busy.any()


# -- T = 2: the bound, the speed, the loss --------------------------------------------------------


def test_staleness_bound_holds_and_engine_delivers_each_version(data, trace):
    """T = 2 with a random straggler every clock: fast workers run ahead (some staleness > 0,
    none > 2); the engine's shared slots hand each worker the θ version it was sent, so the
    recorded order of applications replays to the run's θ."""
    X, y = data
    delay = RandomStragglers(count=1, delay=0.03, seed=1)
    res = gc.train("async:staleness=2", X, y, n=N, **kwargs(delay=delay))
    assert res.status == "ok" and len(res.rounds) == ROUNDS
    stale = [r.metrics["staleness_max"] for r in res.rounds]
    assert max(stale) == 2 >= min(stale)  # ran ahead, never past the bound
    assert all(0 <= r.metrics["staleness_mean"] <= 2 for r in res.rounds)
    assert sum(r.messages for r in res.rounds) == N * ROUNDS  # nobody computes past the end
    applied = trace["applied"]
    assert len(applied) == N * ROUNDS
    assert sorted(c for i, _, c in applied if i == 0) == list(range(ROUNDS))
    want = replay(X, y, applied)
    assert np.max(np.abs(res.theta - want)) <= 1e-12 * np.max(np.abs(want))
    assert np.array_equal(res.params[-1], res.theta)
    loop = trace["loop"]
    assert loop.held == {} and loop.waiting == set() and not loop.busy.any()


def test_one_slow_worker_async_keeps_pace_and_reaches_the_loss(data):
    """One persistently slow worker (FixedStragglers): the slowest's clock sets the pace of SSP
    as it sets naive's rounds, so a clock step takes about a naive round (not more: within 15%),
    while the fast workers run up to T = 2 clocks ahead; the training loss after the run is
    within 2% of naive GD's. A straggler that moves (RandomStragglers) is where async wins: its
    clock steps are faster than naive's rounds (under 80% of them)."""
    X, y = data
    model = make_model("logistic", l2=L2)
    rounds = 12
    slow = FixedStragglers(workers=(2,), delay=0.06)
    a = gc.train("async:staleness=2", X, y, n=N, **kwargs(delay=slow, rounds=rounds))
    b = gc.train("naive", X, y, n=N, **kwargs(delay=slow, rounds=rounds))
    assert a.wall_s.mean() <= 1.15 * b.wall_s.mean()
    assert max(r.metrics["staleness_max"] for r in a.rounds) == 2
    la = model.loss(a.theta, X, y) / X.shape[0] + model.penalty(a.theta)
    lb = model.loss(b.theta, X, y) / X.shape[0] + model.penalty(b.theta)
    assert abs(la - lb) <= 0.02 * lb
    moving = RandomStragglers(count=1, delay=0.06, seed=2)
    a = gc.train("async:staleness=2", X, y, n=N, **kwargs(delay=moving, rounds=rounds))
    b = gc.train("naive", X, y, n=N, **kwargs(delay=moving, rounds=rounds))
    assert a.wall_s.mean() < 0.8 * b.wall_s.mean()
    la = model.loss(a.theta, X, y) / X.shape[0] + model.penalty(a.theta)
    assert abs(la - lb) <= 0.02 * lb


# -- dead workers, the simulator, the journal -----------------------------------------------------


def test_a_dead_worker_leaves_the_clock(data, tmp_path):
    """Worker 1 is killed at its clock 3: the others finish every clock without it, the death
    is in result.dead, later clock steps apply none of its messages (n - 1 a clock, and record
    no loss: its share never comes); the journal holds the staleness columns."""
    X, y = data
    res = gc.train(
        "async:staleness=1",
        X,
        y,
        n=N,
        out=tmp_path / "run",
        **kwargs(faults=[Fault(1, 3)], delay=FixedStragglers(workers=tuple(range(N)), delay=0.01)),
    )
    assert res.status == "ok" and len(res.rounds) == ROUNDS
    assert res.dead == {1: "killed by signal SIGKILL"}
    assert all(1 not in r.survivors for r in res.rounds[3:])
    assert sum(r.messages for r in res.rounds) == 3 * N + (ROUNDS - 3) * (N - 1)
    assert math.isfinite(res.rounds[0].loss) and math.isnan(res.rounds[-1].loss)
    back = gc.load_result(tmp_path / "run")
    assert [r.metrics["staleness_max"] for r in back.rounds] == [
        r.metrics["staleness_max"] for r in res.rounds
    ]
    header = (tmp_path / "run" / "rounds.csv").read_text().splitlines()[0].split(",")
    assert header[-len(ASYNC_METRICS) :] == list(ASYNC_METRICS)


def test_a_hung_worker_is_killed_and_the_others_go_on(data):
    """Worker 2 hangs at its clock 3: past the round timeout it is killed as hung, the others
    finish every clock without it."""
    X, y = data
    res = gc.train(
        "async:staleness=1",
        X,
        y,
        n=N,
        **kwargs(faults=[Fault(2, 3, "hang")], round_timeout=1.0),
    )
    assert res.status == "ok" and len(res.rounds) == ROUNDS
    assert res.dead == {2: "no reply within the round timeout of 1.0 s (hung)"}
    # every clock of the other three applied, and worker 2's three before it hung (which of
    # them land in the last window depends on timing)
    assert sum(r.messages for r in res.rounds) == 3 * ROUNDS + 3
    assert 2 not in res.rounds[-1].survivors and set(res.rounds[-1].survivors) <= {0, 1, 3}


def test_messages_not_finite_are_never_applied_and_quarantined(data):
    """Worker 1 sends NaN from its clock 2: those messages are dropped (recorded as corrupt),
    θ stays finite, and after 3 of them the worker is quarantined (dead); the others go on."""
    X, y = data
    res = gc.train("async:staleness=1", X, y, n=N, **kwargs(faults=["1@2:corrupt=nan"]))
    assert res.status == "ok" and np.isfinite(res.theta).all()
    assert res.dead[1].startswith("quarantined: 3 messages not finite")
    assert sum(1 in r.corrupt for r in res.rounds) >= 1
    assert all(1 not in r.survivors for r in res.rounds[6:])


def test_resume_continues_the_clock(data, tmp_path):
    """A T = 0 run stopped after 5 clocks and resumed to 10 is naive's 10 rounds."""
    X, y = data
    folder = tmp_path / "run"
    gc.train("async:staleness=0", X, y, n=N, out=folder, **kwargs(rounds=5))
    res = gc.train("async:staleness=0", X, y, n=N, resume=folder, **kwargs(theta0=None))
    want = gc.train("naive", X, y, n=N, **kwargs())
    assert [r.round for r in res.rounds] == list(range(ROUNDS))
    P, Q = np.stack(res.params), np.stack(want.params)
    assert np.max(np.abs(P - Q)) <= 1e-12 * np.max(np.abs(Q))


def test_simulator_predicts_the_clock_time_with_emulated_work(data):
    """Emulated work (row_time: 100 rows x 0.2 ms = 20 ms a message) and a random straggler
    (+60 ms): the event simulation's mean clock time, from the same delay draws, is within 15%
    of the measured one; and T = 0 simulates as naive."""
    X, y = gaussian_mixture(400, 12, seed=3)
    row_time, rounds = 2e-4, 20
    delay = RandomStragglers(count=1, delay=0.06, seed=7)
    code = gc.make_code("async:staleness=2", N)
    res = gc.train(code, X, y, n=N, **kwargs(delay=delay, rounds=rounds, row_time=row_time))
    sim = gc.simulate(code, delay, rounds, t_partition=row_time * 100)
    measured = res.wall_s.mean()
    assert abs(sim.mean - measured) <= 0.15 * measured, (sim.mean, measured)
    assert sim.round_s.shape == (rounds,) and sim.method == "async"
    naive = gc.simulate(gc.make_code("naive", N), delay, rounds, t_partition=0.02)
    zero = gc.simulate(gc.make_code("async:staleness=0", N), delay, rounds, t_partition=0.02)
    assert np.allclose(zero.round_s, naive.round_s)
    assert sim.mean < 0.8 * naive.mean  # the moving straggler: async clocks are faster


def test_simulator_staleness_and_delays_by_clock():
    """The event simulation alone: a fixed straggler sets the pace (clock time = its time);
    arrivals are kept per window; a huge T approaches the mean worker time."""
    slow = FixedStragglers(workers=(0,), delay=0.1)
    sim = gc.simulate(gc.make_code("async:staleness=3", 5), slow, 50, keep_arrivals=True)
    assert np.allclose(sim.round_s, 0.11)  # 0.01 compute + 0.1
    assert sim.arrivals.shape == (50, 5)
    moving = RandomStragglers(count=1, delay=0.1, seed=0)
    far = gc.simulate(gc.make_code("async:staleness=1000", 5), moving, 400)
    assert far.mean == pytest.approx(0.01 + 0.1 / 5, rel=0.25)


# -- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "s", "message"),
    [
        ("async:staleness=-1", 0, r"staleness must be an integer >= 0 .* got staleness=-1"),
        ("async:staleness=1.5", 0, r"staleness must be an integer >= 0 .* got staleness=1.5"),
        ("async:lag=2", 0, r"unknown parameter\(s\) lag for scheme 'async'; valid parameters: st"),
        ("async", 1, r"async waits for no straggler .* s must be 0, got s=1"),
    ],
)
def test_bad_specs_are_refused(spec, s, message):
    with pytest.raises(ValueError, match=message):
        gc.make_code(spec, N, s)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"optimizer": "nesterov"}, r"optimizer must be 'gd', got Nesterov.*per\s+arrival"),
        ({"optimizer": "momentum"}, r"optimizer must be 'gd', got Momentum"),
        ({"optimizer": "gd", "deadline": 0.5}, r"deadline must be None, got deadline=0.5"),
    ],
)
def test_other_optimizers_and_deadlines_are_refused_before_any_work(data, options, message):
    X, y = data
    with pytest.raises(ValueError, match=message):
        gc.train("async:staleness=1", X, y, n=N, rounds=2, **options)


def test_compare_runs_async_beside_the_codes(data):
    """`compare` runs it as one more scheme (summary: clock time, time to the AUC target);
    with an optimizer other than gd it refuses before running any scheme."""
    X, y = data
    with pytest.raises(ValueError, match="optimizer must be 'gd'"):
        compare(CompareConfig(schemes=("naive", "async:staleness=1"), n=N, s=0, rounds=2))
    ds = type("DS", (), {})()
    ds.X_train, ds.y_train, ds.X_test, ds.y_test = X[:300], y[:300], X[300:], y[300:]
    config = CompareConfig(
        schemes=("naive", "async:staleness=1"), n=N, s=0, rounds=4, optimizer="gd", lr=LR
    )
    c = compare(config, data=ds)
    rows = {r["scheme"]: r for r in c.summary}
    assert set(rows) == {"naive", "async:staleness=1"}
    row = rows["async:staleness=1"]
    assert math.isfinite(row["mean_ms"]) and math.isfinite(row["final_test_auc"])
    assert "time_to_target_s" in row and "staleness_max" in c.metrics
    assert all("test_auc" in r.metrics for r in c.results["async:staleness=1"].rounds)


# -- MPI -----------------------------------------------------------------------------------------


def mpiexec() -> str:
    here = Path(sys.executable).parent / "mpiexec"
    found = str(here) if here.exists() else shutil.which("mpiexec")
    if not found:
        pytest.skip("mpiexec not found: install the dev extras (mpi4py + the mpich wheel)")
    return found


def test_mpi_engine(tmp_path):
    """Under mpiexec (4 workers): T = 0 equals naive on the mpi engine to 1e-12, and T = 2
    replays exactly (the task buffers hand each worker its θ version, and stay few)."""
    pytest.importorskip("mpi4py")
    cmd = [mpiexec(), "-n", str(N + 1), sys.executable, str(SCRIPTS / "async_runs.py")]
    run = run_bounded([*cmd, str(tmp_path)], str(tmp_path), 120)
    assert run.returncode == 0, run.stdout + run.stderr
    got, want = np.load(tmp_path / "async0.npy"), np.load(tmp_path / "naive.npy")
    assert np.max(np.abs(got - want)) <= 1e-12 * np.max(np.abs(want))
    report = json.loads((tmp_path / "async2.json").read_text())
    X, y = gaussian_mixture(402, 12, seed=3)
    want = replay(X, y, report["applied"])
    theta = np.array(report["theta"])
    assert np.max(np.abs(theta - want)) <= 1e-12 * np.max(np.abs(want))
    assert report["max_staleness"] == 2 and report["held"] == 0
    assert report["buffers"] <= N + 1  # task buffers reused, not one per version
