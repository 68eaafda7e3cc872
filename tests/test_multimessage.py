"""Multi-message and unequal-partition codes: partial stragglers (the paper's two-message scheme),
streaming (a message per chunk), heterogeneity-aware allocation; exactness, runtime, engines."""

from __future__ import annotations

import itertools
import multiprocessing

import numpy as np
import pytest

import gradcode as gc
from gradcode.data import gaussian_mixture, split_rows
from gradcode.delays import FixedStragglers
from gradcode.models import full_objective, make_model
from gradcode.runtime import Fault, TrainingError, train
from gradcode.runtime.engines.local import LocalEngine
from gradcode.runtime.messages import Idle, Reply
from gradcode.runtime.worker import Segment, WorkerJob

pytestmark = pytest.mark.timeout(120)

MODEL = make_model("logistic", l2=1e-3)
LR, ROUNDS = 0.5, 8
SPECS = [
    ("partial-cyclic:P=4", 5, 1),
    ("partial-frc:P=5", 6, 2),
    ("stream", 5, 2),
    ("hetero:speeds=1,1,2,2,1", 5, 1),
    ("hetero:speeds=1,3,1,1,5,1", 6, 2),
]


def decodable(code: gc.GradientCode, mask: np.ndarray) -> bool:
    """Brute force: does some a on the arrived messages give aᵀB = 1ᵀ?"""
    if not mask.any():
        return False
    a = gc.codes.min_norm_lstsq(code.B, mask)
    return code.residual(a) <= 1e-8


@pytest.mark.parametrize(("spec", "n", "s"), SPECS)
def test_every_sufficient_pattern_decodes_and_insufficient_ones_are_refused(spec, n, s):
    code = gc.make_code(spec, n, s, seed=2)
    M = code.messages
    rng = np.random.default_rng(0)
    patterns = (
        itertools.product((False, True), repeat=M)
        if M <= 14
        else (rng.random(M) < rng.uniform(0.3, 1.0) for _ in range(3000))
    )
    ready = refused = 0
    for pattern in patterns:
        mask = np.array(pattern, dtype=bool)
        if code.can_decode(mask):
            a = code.decode(mask)
            assert not a[~mask].any()
            assert code.residual(a) <= 1e-9
            ready += 1
        else:
            with pytest.raises(ValueError, match="cannot decode"):
                code.decode(mask)
            refused += 1
            if not spec.startswith("hetero"):  # those rules are exact: refused = impossible
                assert not decodable(code, mask)
    assert ready and refused


@pytest.mark.parametrize(("spec", "n", "s"), SPECS)
def test_any_s_lost_workers_are_survived_except_partial_first_messages(spec, n, s):
    code = gc.make_code(spec, n, s, seed=2)
    for lost in itertools.combinations(range(n), s):
        dead = np.ones(code.messages, dtype=bool)
        for w in lost:
            dead[w * code.parts : (w + 1) * code.parts] = False
        assert code.can_decode(dead) == (not spec.startswith("partial"))
        assert code.can_decode(code.survivors(lost))  # partial: slow, their first messages in


def test_partial_codes_layout_and_bad_P():
    code = gc.make_code("partial-cyclic", 6, 1, P=5)
    assert code.parts == 2 and code.k == 6 + 6 * 3 and code.load == 5
    assert code.name == "partial-cyclic:P=5"
    assert all(len(code.message_partitions(2 * i)) == 3 for i in range(6))
    assert gc.make_code("partial-frc", 6, 2).load == 6  # default P = 2(s+1)
    with pytest.raises(ValueError, match=r"P \(chunks per worker\) must be an integer >= s\+2=3"):
        gc.make_code("partial-cyclic", 6, 1, P=2)


def test_stream_order_is_staggered():
    code = gc.make_code("stream", 5, 2)
    assert [code.partitions(i) for i in (0, 4)] == [(0, 1, 2), (4, 0, 1)]
    firsts = [code.message_partitions(i * code.parts)[0] for i in range(5)]
    assert sorted(firsts) == list(range(5))  # after one chunk each, every partition is in
    assert code.can_decode(np.arange(5) * code.parts)


def test_hetero_shares_follow_speeds_and_bad_speeds():
    speeds = np.array([1, 1, 2, 2, 1, 3.0])
    code = gc.make_code("hetero", 6, 2, speeds=tuple(speeds))
    work = np.array([code.work(i) for i in range(6)]) / code.k
    assert np.allclose(work, 3 * speeds / speeds.sum())  # (s+1) copies of the data in all
    rows = [len(r) for r in split_rows(1000, code.k, code.sizes)]
    assert sum(rows) == 1000
    assert np.allclose(rows, np.array(code.sizes) * 1000 / code.k, atol=1)
    capped = gc.make_code("hetero", 4, 1, speeds=(1, 1, 1, 10))
    assert capped.work(3) == pytest.approx(capped.k)  # holds everything, the rest share the rest
    with pytest.raises(ValueError, match="one number per worker"):
        gc.make_code("hetero", 4, 1, speeds=(1, 2))
    with pytest.raises(ValueError, match="positive"):
        gc.make_code("hetero", 3, 1, speeds=(1, 0, 1))


# ---- runtime -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data():
    return gaussian_mixture(601, 6, seed=5)


def reference(X, y, rounds=ROUNDS):
    theta, out = np.zeros(X.shape[1]), []
    for _ in range(rounds):
        theta = theta - LR * full_objective(MODEL, theta, X, y)[1]
        out.append(theta)
    return np.array(out)


def run(code, X, y, **kw):
    base = dict(model=MODEL, optimizer="gd", lr=LR, rounds=ROUNDS, record_params=True)
    return train(code, X, y, **base | kw)


def rel_err(result, ref) -> float:
    got = np.array(result.params)
    return float(np.max(np.linalg.norm(got - ref, axis=1) / np.linalg.norm(ref, axis=1)))


@pytest.mark.parametrize(("spec", "n", "s"), SPECS)
def test_exact_trajectories_with_slow_workers(data, spec, n, s):
    X, y = data
    code = gc.make_code(spec, n, s, seed=1)
    slow = FixedStragglers(workers=(0,), delay=0.02, factor=3.0)
    result = run(code, X, y, delay=slow)
    assert rel_err(result, reference(X, y)) <= 1e-9
    assert result.config["parts"] == code.parts and result.status == "ok"
    assert all(r.error <= 1e-18 for r in result.rounds)


@pytest.mark.parametrize("spec", ["stream", "hetero:speeds=1,1,2,2,1"])
def test_s_killed_workers_are_survived(data, spec):
    X, y = data
    code = gc.make_code(spec, 5, 2, seed=1)
    # killed at their first task: the master hears of it by the end, even when the code never
    # had to wait for them (stream decodes from the others' messages)
    faults = [Fault(worker=1, round=0), Fault(worker=3, round=0)]
    steady = FixedStragglers(workers=tuple(range(5)), delay=0.03)
    result = run(code, X, y, faults=faults, delay=steady)
    assert rel_err(result, reference(X, y)) <= 1e-9
    assert sorted(result.dead) == [1, 3]


def test_workers_stop_early_once_a_round_is_decoded(data):
    X, y = data
    steady = FixedStragglers(workers=tuple(range(5)), delay=0.09)  # 0.03 s per chunk of three
    result = run("stream", X, y, n=5, s=2, delay=steady, rounds=4)
    assert rel_err(result, reference(X, y, rounds=4)) <= 1e-9
    assert sum(r.stopped for r in result.rounds) > 0  # told, they stopped before their last
    assert all(r.messages >= 5 for r in result.rounds)


def test_partial_code_cannot_lose_a_worker(data):
    X, y = data
    with pytest.raises(TrainingError, match="the first message of all n=5 workers"):
        run("partial-cyclic:P=4", X, y, n=5, s=1, faults=[Fault(worker=2, round=1)])


def test_float32_messages_end_to_end(data):
    X, y = data
    ref = reference(X, y)
    for spec in ("stream", "frc", "cyclic-mds"):
        code = gc.make_code(spec, 6, 1)
        result = run(code, X, y, message_dtype="float32")
        assert rel_err(result, ref) <= 1e-5
        assert result.config["message_dtype"] == "float32"
    with pytest.raises(ValueError, match="message_dtype must be one of float64, float32"):
        run("frc", X, y, n=6, s=1, message_dtype="float16")


def test_deadline_steps_with_the_best_approximation(data):
    X, y = data
    code = gc.make_code("cyclic-mds", 6, 1)
    late = FixedStragglers(workers=(0, 1, 2), delay=2.0)  # 3 > s stragglers every round
    result = run(code, X, y, delay=late, deadline=0.8, rounds=2)
    assert all(0 < r.error < 1 for r in result.rounds)
    assert all(r.messages == 3 for r in result.rounds)
    with pytest.raises(ValueError, match="deadline must be a number of seconds > 0"):
        run(code, X, y, deadline=0)


def test_local_engine_stops_a_round_early_when_told(data):
    """A worker between two messages of a finished round stops and reports Idle."""
    X, y = data
    seg = Segment(X[:50], y[:50], np.ones(50))
    slow = FixedStragglers(workers=(0,), delay=0.9)  # 0.3 s per message of three
    job = WorkerJob(0, 1, ((seg,), (seg,), (seg,)), MODEL, slow)
    eng = LocalEngine(1)
    try:
        eng.start([job], X.shape[1], parts=3)
        eng.send(0, 0, np.zeros(X.shape[1]))
        events = []
        while not events:
            events = eng.wait(5.0)
        assert isinstance(events[0], Reply) and events[0].part == 0 and not events[0].last
        eng.round_done(0)
        while not (isinstance(events[-1], Idle) or events[-1].last):
            events += eng.wait(5.0)
        # stopped after the message in flight when told: the last one was never computed
        assert isinstance(events[-1], Idle)
        assert [e.part for e in events[:-1]] in ([0], [0, 1])
    finally:
        eng.close()
    assert multiprocessing.active_children() == []


# ---- simulator ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("spec", "n", "s"), SPECS)
@pytest.mark.parametrize("carryover", [False, True])
def test_simulator_fast_rules_match_the_exact_loop(spec, n, s, carryover):
    code = gc.make_code(spec, n, s, seed=1)
    kw = dict(rounds=60, t_partition=0.01, comm=0.001, carryover=carryover)
    delays = "exponential:mean=0.02;seed=3"
    fast = gc.simulate(code, delays, **kw)
    slow = gc.simulate(code, delays, exact_loop=True, **kw)
    assert np.allclose(fast.round_s, slow.round_s)
    assert fast.method != "loop"


def test_simulated_stream_waits_for_one_chunk_and_partial_for_slow_workers():
    t = 0.01
    stream = gc.simulate(gc.make_code("stream", 6, 2), None, rounds=3, t_partition=t)
    cyclic = gc.simulate(gc.make_code("cyclic", 6, 2), None, rounds=3, t_partition=t)
    assert np.allclose(stream.round_s, t) and np.allclose(cyclic.round_s, 3 * t)
    partial = gc.make_code("partial-cyclic", 6, 1, P=4)  # tolerates 4/2 = 2x slower workers
    for factor, want in ((2.0, 4 * t), (3.0, 2 * 3 * t)):
        delays = f"fixed:workers=0;factor={factor};delay=0"
        sim = gc.simulate(partial, delays, rounds=2, t_partition=t)
        assert np.allclose(sim.round_s, want)


def test_simulated_hetero_allocation_evens_out_two_speeds():
    slow = (0, 1, 2, 3, 4)
    delays = "fixed:workers=0,1,2,3,4;factor=3;delay=0"  # half the workers 3x slower, every round
    speeds = tuple(1 / 3 if i in slow else 1.0 for i in range(10))
    hetero = gc.make_code("hetero", 10, 2, speeds=speeds)
    cyclic = gc.make_code("cyclic", 10, 2)
    t_h = gc.simulate(hetero, delays, rounds=2, t_partition=0.01).mean
    t_c = gc.simulate(cyclic, delays, rounds=2, t_partition=0.01).mean
    # hetero: 30 partition-units of work shared 1:3, so every worker needs 4.5 t at its speed;
    # cyclic needs 8 replies, so at least 3 slow ones with 3 partitions at 3x: 9 t
    assert t_h == pytest.approx(0.045) and t_c == pytest.approx(0.09)


# ---- compare and CLI ---------------------------------------------------------------------------
def test_compare_runs_multi_message_codes_with_the_same_trajectory(tmp_path):
    from gradcode.experiments import compare, load_config
    from gradcode.spec import split_specs

    schemes = split_specs("naive,stream,partial-cyclic:P=4,hetero:speeds=1,1,2,2")
    assert schemes == ["naive", "stream", "partial-cyclic:P=4", "hetero:speeds=1,1,2,2"]
    config = load_config(
        None,
        schemes=schemes,
        n=4,
        s=1,
        dataset="gaussian",
        dataset_params={"rows": 400, "d": 6},
        rounds=4,
        lr=0.5,
        delay="fixed:workers=2;delay=0.02",
        message_dtype="float32",
    )
    c = compare(config, out=tmp_path)
    naive = c.series("naive", "train_loss")
    for name in schemes[1:]:
        assert np.allclose(c.series(name, "train_loss"), naive, rtol=1e-5)
    rows = {r["scheme"]: r for r in c.summary}
    assert rows["stream"]["load"] == 2 and rows["partial-cyclic:P=4"]["load"] == 4
    assert all(r["mean_error"] <= 1e-20 for r in c.summary)  # exact: rounding only
    assert "partial-cyclic:P=4" in (tmp_path / "summary.csv").read_text()


def test_row_time_emulates_work_in_proportion_to_rows(data):
    X, y = data
    code = gc.make_code("hetero", 3, 1, speeds=(1, 1, 2))
    result = run(code, X, y, row_time=2e-4, rounds=2, delay=FixedStragglers(workers=(2,), delay=0))
    rows = [len(X) * code.work(i) / code.k for i in range(3)]
    for r in result.rounds:  # a sleep lasts at least as long as asked
        got = r.arrival_s[np.isfinite(r.arrival_s)]
        want = np.array(rows)[np.isfinite(r.arrival_s)] * 2e-4
        assert np.all(got >= want - 1e-3)
    with pytest.raises(ValueError, match="row_time must be a number of seconds >= 0"):
        run(code, X, y, row_time=-1.0)


@pytest.mark.parametrize(
    ("spec", "n", "s", "parts"),
    [("partial-cyclic:P=4", 5, 1, 2), ("stream", 6, 2, 3), ("hetero:speeds=1,1,2,2,1,3", 6, 2, 1)],
)
def test_codes_show_verifies_multi_message_and_unequal_codes(capsys, spec, n, s, parts):
    import json

    from gradcode.cli import main

    assert main(["codes", "show", spec, "-n", str(n), "-s", str(s), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    v = report["verification"]
    assert v["failures"] == 0 and v["exhaustive"] and v["worst_residual"] < 1e-9
    assert report["messages_per_worker"] == parts
    code = gc.make_code(spec, n, s)
    assert report["data_share"]["max"] == pytest.approx(code.work(0 if parts > 1 else 5) / code.k)


def test_survivors_of_stragglers():
    partial = gc.make_code("partial-cyclic:P=4", 4, 1)
    assert partial.survivors([2]).tolist() == [True] * 5 + [False, True, True]
    stream = gc.make_code("stream", 4, 1)
    assert stream.survivors([0, 3]).tolist() == [False] * 2 + [True] * 4 + [False] * 2


def test_local_engine_stops_inside_a_message_between_chunks(data):
    """Told the round is over before its first message is done, a worker stops at the next
    chunk boundary: it reports Idle and never sends that message."""
    X, y = data
    seg = Segment(X[:50], y[:50], np.ones(50))
    slow = FixedStragglers(workers=(0,), delay=0.8)  # 0.2 s per chunk of four
    job = WorkerJob(0, 1, ((seg, seg, seg), (seg,)), MODEL, slow)
    eng = LocalEngine(1)
    try:
        eng.start([job], X.shape[1], parts=2)
        eng.send(0, 0, np.zeros(X.shape[1]))
        eng.round_done(0)
        events = []
        while not events:
            events = eng.wait(5.0)
        assert [type(e) for e in events] == [Idle]
    finally:
        eng.close()
