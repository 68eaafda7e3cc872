"""The alternatives to coding that practitioners use, beside the codes: backup workers
(``backup:b=B``) and fixed-time-budget rounds (``budget:T=SECONDS``), on the local engine here
(the mpi engine: tests/test_mpi.py's trajectories), in the simulator and in `compare`.

A budget every worker meets, and b = 0, are naive's gradient descent; a short budget steps on
exactly the mean gradient of the rows the workers finished (rebuilt here from the counts the
messages carry); a persistent straggler drops a different partition every round under backup,
the same one under ignore."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradcode as gc
from gradcode.codes import dealt, make_code
from gradcode.data import gaussian_mixture, split_rows
from gradcode.delays import FixedStragglers
from gradcode.experiments import compare
from gradcode.experiments.config import CompareConfig
from gradcode.models import make_model
from gradcode.runtime.loop import RoundLoop
from gradcode.runtime.master import make_jobs
from gradcode.simulate import simulate

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("no_leaks")]

N, LR, L2, ROUNDS, D = 4, 0.5, 1e-3, 6, 6


@pytest.fixture(scope="module")
def data():
    return gaussian_mixture(602, D, seed=5)  # 602 rows: partitions of unequal size


def kwargs(**kw):
    base = dict(optimizer="gd", lr=LR, l2=L2, rounds=ROUNDS, record_params=True, theta0=np.zeros(D))
    return base | kw


def gradient(model, theta, X, y, rows) -> np.ndarray:
    """Σ over `rows` of the loss gradient at θ (no penalty)."""
    return model.value_and_grad(theta, X[rows], y[rows], np.ones(rows.size))[1]


@pytest.mark.parametrize("spec", ["budget:T=60", "backup:b=0"])
def test_full_budget_and_no_backup_are_naive(data, spec):
    X, y = data
    delay = FixedStragglers(workers=(1,), delay=0.02)
    want = np.stack(gc.train("naive", X, y, n=N, delay=delay, **kwargs()).params)
    res = gc.train(spec, X, y, n=N, delay=delay, **kwargs())
    assert res.status == "ok"
    got = np.stack(res.params)
    assert np.max(np.abs(got - want)) <= 1e-12 * np.max(np.abs(want))
    assert all(r.error == 0.0 for r in res.rounds)  # every row done / every message used


def test_a_short_budget_steps_on_the_mean_gradient_of_the_rows_finished(data, monkeypatch):
    """Worker 0 three times slower, each worker 2e-4 s a row, a 20 ms budget: the workers
    finish different numbers of pieces. From each message's count (and the round's seeded
    starting piece) the rows each worker did are rebuilt; the step must be θ - lr (Σ_rows g /
    Σ c + l2 θ), to 1e-12, and the record's error the share of rows left undone."""
    X, y = data
    counts: list[dict[int, float]] = []
    decode = RoundLoop.decode

    def spy(self, a, vectors, theta):
        counts.append({int(i): float(vectors[int(i)][-1]) for i in np.flatnonzero(a)})
        return decode(self, a, vectors, theta)

    monkeypatch.setattr(RoundLoop, "decode", spy)
    spec, delay = "budget:T=0.02;pieces=10", FixedStragglers(workers=(0,), factor=3.0)
    res = gc.train(spec, X, y, n=N, delay=delay, row_time=2e-4, **kwargs())
    assert res.status == "ok" and len(counts) == ROUNDS
    code, model = make_code(spec, N), make_model("logistic", l2=L2)
    jobs = make_jobs(code, X, y, model, delay, ())
    thetas = [np.zeros(D), *res.params]
    partial = slower = 0
    for t, seen in enumerate(counts):
        assert sorted(seen) == list(range(N))  # every live worker's message is waited for
        g, total = np.zeros(D), 0.0
        for i, c in seen.items():
            pieces = jobs[i].messages_of(t)[0]
            sizes = np.cumsum([p.y.size for p in pieces])
            done = int(np.searchsorted(sizes, c)) + 1  # the pieces that add up to c rows
            assert sizes[done - 1] == c
            for p in pieces[:done]:
                g += model.value_and_grad(thetas[t], p.X, p.y, p.w)[1]
            total += c
        want = thetas[t] - LR * (g / total + L2 * thetas[t])
        assert np.max(np.abs(thetas[t + 1] - want)) <= 1e-12 * np.max(np.abs(want))
        assert res.rounds[t].error == pytest.approx(1.0 - total / X.shape[0], abs=1e-15)
        partial += total < X.shape[0]
        slower += seen[0] < max(seen.values())
    assert partial == ROUNDS  # a full partition takes 30 ms: never finished in 20
    assert slower  # the slow worker finished fewer rows (round 0 may start everyone late)


def test_backup_drops_a_different_partition_every_round_ignore_the_same(data):
    """Worker 0 takes 0.3 s, the others milliseconds: with b = 1 every round steps on the other
    three messages, rescaled by n/(n-1). Under backup they carry the partitions dealt to them,
    so the partition lost is dealt(seed, t)[0], a different one over the rounds; under ignore it
    is always partition 0."""
    X, y = data
    model, m, parts = make_model("logistic", l2=L2), X.shape[0], split_rows(X.shape[0], N)
    delay = FixedStragglers(workers=(0,), delay=0.3)
    lost = {}
    for spec, s in (("backup:b=1", 0), ("ignore", 1)):
        res = gc.train(spec, X, y, n=N, s=s, delay=delay, **kwargs())
        assert res.status == "ok"
        thetas = [np.zeros(D), *res.params]
        lost[spec] = []
        for t in range(ROUNDS):
            assert res.rounds[t].survivors == (1, 2, 3)
            j = int(dealt(0, t, N)[0]) if spec.startswith("backup") else 0
            lost[spec].append(j)
            kept = np.concatenate([parts[q] for q in range(N) if q != j])
            g = gradient(model, thetas[t], X, y, kept) * N / (N - 1) / m
            want = thetas[t] - LR * (g + L2 * thetas[t])
            assert np.max(np.abs(thetas[t + 1] - want)) <= 1e-12 * np.max(np.abs(want))
    assert len(set(lost["backup:b=1"])) > 1 and set(lost["ignore"]) == {0}


def test_a_dead_worker_is_a_straggler_of_the_budget(data):
    """Killed at round 2, worker 3's rows count 0 from then on; the others go on."""
    X, y = data
    res = gc.train("budget:T=60", X, y, n=N, faults=["3@2:kill"], **kwargs())
    assert res.status == "ok" and set(res.dead) == {3}
    assert [r.error == 0.0 for r in res.rounds[:2]] == [True, True]
    share = split_rows(X.shape[0], N)[3].size / X.shape[0]
    assert all(r.error == pytest.approx(share, abs=1e-15) for r in res.rounds[3:])


def test_simulator_caps_budget_replies_and_backup_is_ignore_in_time():
    slow = FixedStragglers(workers=(0,), delay=1.0)
    naive = simulate(make_code("naive", 6), slow, 50, t_partition=0.01)
    capped = simulate(make_code("budget:T=0.05", 6), slow, 50, t_partition=0.01)
    assert naive.mean == pytest.approx(1.01) and capped.mean == pytest.approx(0.05)
    short = simulate(make_code("budget:T=0.05", 6), "none", 50, t_partition=0.01)
    assert short.mean == pytest.approx(0.01)  # a budget never lengthens a round
    backup = simulate(make_code("backup:b=1", 6), "exponential:mean=0.05;seed=2", 200)
    ignore = simulate(make_code("ignore", 6, 1), "exponential:mean=0.05;seed=2", 200)
    assert np.array_equal(backup.round_s, ignore.round_s)


@pytest.mark.parametrize(
    ("spec", "s", "message"),
    [
        ("budget:T=0", 0, r"T \(seconds of compute a round\) must be a number > 0, got T=0"),
        ("budget:T=-1", 0, "must be a number > 0, got T=-1"),
        ("budget:T=0.1;pieces=0", 0, r"pieces .* must be an integer >= 1, got pieces=0"),
        ("budget:T=0.1", 1, "budget waits for no straggler .*: s must be 0, got s=1"),
        ("backup:b=4", 0, r"b \(backup workers.*\) must be an integer in \[0, n\) = \[0, 4\)"),
        ("backup:b=1", 2, r"backup's stragglers are b: give b or s, not both \(b=1, s=2\)"),
    ],
)
def test_bad_specs_are_refused(spec, s, message):
    with pytest.raises(ValueError, match=message):
        make_code(spec, N, s)


def test_a_deadline_with_a_budget_is_refused_before_any_work(data):
    X, y = data
    with pytest.raises(ValueError, match="sets its own round time .* leave deadline unset"):
        gc.train("budget:T=0.1", X, y, n=N, rounds=2, deadline=0.5)


def test_compare_runs_backup_and_budget_beside_the_codes(data):
    X, y = data
    ds = type("DS", (), {})()
    ds.X_train, ds.y_train, ds.X_test, ds.y_test = X[:450], y[:450], X[450:], y[450:]
    schemes = ("naive", "cyclic-mds", "backup:b=1", "budget:T=60")
    config = CompareConfig(schemes=schemes, n=N, s=1, rounds=3, optimizer="gd", lr=LR)
    c = compare(config, data=ds)
    rows = {r["scheme"]: r for r in c.summary}
    assert set(rows) == set(schemes)
    for spec in ("backup:b=1", "budget:T=60"):
        assert math.isfinite(rows[spec]["mean_ms"]) and math.isfinite(rows[spec]["final_test_auc"])
    naive, full = c.results["naive"], c.results["budget:T=60"]
    assert np.allclose(naive.theta, full.theta, rtol=1e-12, atol=0)
