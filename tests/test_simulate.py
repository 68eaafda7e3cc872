"""The straggler simulator: fast rules against the exact loop, closed forms, trace replay, advice."""

import json
import math
from dataclasses import dataclass

import numpy as np
import pytest
import scipy.sparse as sp

import gradcode as gc
from gradcode.cli import main
from gradcode.codes import STRAGGLER_FREE, Decoder, GradientCode
from gradcode.delays import (
    ExponentialDelay,
    FixedStragglers,
    MarkovDelay,
    NoDelay,
    ParetoDelay,
    SlowdownDelay,
    TraceDelay,
)
from gradcode.experiments.advise import advise
from gradcode.simulate import (
    calibrate,
    expected_round_time,
    harmonic,
    pareto_order_mean,
    ready_rule,
    ready_times,
    ready_times_loop,
    simulate,
)

CODES = [("naive", 6, 0), ("ignore", 6, 2), ("frc", 6, 1), ("frc", 6, 2), ("cyclic", 6, 2)]
CODES += [("cyclic-mds", 7, 2)]


def codes():
    return [gc.make_code(name, n, s) for name, n, s in CODES]


def write_trace(path, times):
    """A CSV with round, worker, time_s; NaN is written empty."""
    lines = ["round,worker,time_s"]
    for t, row in enumerate(times):
        lines += [f"{t},{i},{'' if math.isnan(x) else x}" for i, x in enumerate(row)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.parametrize("code", codes(), ids=repr)
def test_fast_rules_equal_the_exact_loop(code):
    rng = np.random.default_rng(0)
    T = rng.exponential(1.0, (300, code.n)).round(1)  # rounding makes ties
    T[rng.random(T.shape) < 0.15] = math.inf  # workers that never reply
    assert ready_rule(code) is not None
    np.testing.assert_array_equal(ready_times(code, T), ready_times_loop(code, T))


@pytest.mark.parametrize("code", codes(), ids=repr)
@pytest.mark.parametrize("carryover", [False, True])
def test_simulate_fast_equals_exact_loop(code, carryover):
    delays = SlowdownDelay(fraction=0.3, seed=3)
    kw = {"t_partition": 0.01, "comm": 0.002, "overhead": 0.001, "carryover": carryover}
    fast = simulate(code, delays, 60, gap=0.003, **kw)
    slow = simulate(code, delays, 60, gap=0.003, exact_loop=True, **kw)
    assert slow.method == "loop" and fast.method in ("kth", "groups")
    np.testing.assert_array_equal(fast.round_s, slow.round_s)


def test_unknown_decoder_uses_the_exact_loop():
    @dataclass(frozen=True)
    class FirstTwoOfThree(Decoder):  # ready once two of workers 0, 1, 2 replied
        requirement = "two of workers 0, 1, 2"

        def ready(self, mask):
            return int(mask[:3].sum()) >= 2

        def solve(self, mask):
            raise NotImplementedError

    code = GradientCode("odd", 4, 1, sp.csr_array(np.eye(4)), False, lambda c: FirstTwoOfThree())
    T = np.array([[0.3, 0.1, 0.2, 0.0], [0.5, math.inf, 0.4, 0.1], [math.inf] * 3 + [0.0]])
    np.testing.assert_array_equal(ready_times(code, T), [0.2, 0.5, math.inf])
    assert simulate(code, FixedStragglers(workers=(1,)), 3).method == "loop"


def test_time_model_and_carryover_by_hand(tmp_path):
    """ignore n=3 s=1 waits for 2 replies. Round 0: replies at .3 .1 .2, ends at .2 (+ overhead
    .01); worker 0 is busy .3 - .2 - .01 - gap .02 = .07 s into round 1, whose replies become
    .1+.07, .1, .3: with carryover round 1 ends at .17, without at .1."""
    trace = TraceDelay(path=write_trace(tmp_path / "t.csv", [[0.3, 0.1, 0.2], [0.1, 0.1, 0.3]]))
    code = gc.make_code("ignore", 3, 1)
    chained = simulate(code, trace, overhead=0.01, carryover=True, gap=0.02, keep_arrivals=True)
    np.testing.assert_allclose(chained.round_s, [0.21, 0.18])
    np.testing.assert_allclose(chained.arrivals[1], [0.17, 0.1, 0.3])
    np.testing.assert_allclose(simulate(code, trace, overhead=0.01).round_s, [0.21, 0.11])
    censored = TraceDelay(path=write_trace(tmp_path / "c.csv", [[0.3, math.nan, math.nan]]))
    stuck = simulate(code, censored, 3, carryover=True)  # a missing reply never arrives
    assert stuck.round_s.tolist() == [math.inf] * 3 and stuck.median == stuck.p95 == math.inf
    # load x t_partition x factor + extra + comm, per worker: frc n=4 s=1 holds 2 partitions
    frc = gc.make_code("frc", 4, 1)
    fixed = FixedStragglers(workers=(0, 2), delay=0.5, factor=3.0)
    sim = simulate(frc, fixed, 2, t_partition=0.1, comm=0.01, keep_arrivals=True)
    np.testing.assert_allclose(sim.arrivals[0], [1.11, 0.21, 1.11, 0.21])
    np.testing.assert_allclose(sim.round_s, [0.21, 0.21])
    assert expected_round_time(frc, fixed, t_partition=0.1, comm=0.01) == pytest.approx(0.21)


def _close(sim, expected, z=4.5, batches=None):
    """|mean - expected| within z standard errors (batch means for correlated rounds)."""
    x = sim.round_s if batches is None else sim.round_s.reshape(batches, -1).mean(axis=1)
    se = x.std(ddof=1) / math.sqrt(x.size)
    assert abs(sim.mean - expected) <= z * se + 1e-12, (sim.mean, expected, se)


@pytest.mark.parametrize("code", codes(), ids=repr)
@pytest.mark.parametrize(
    "delays",
    [
        ExponentialDelay(mean=0.05, seed=1),
        ExponentialDelay(mean=0.05, p=0.4, shift=0.01, seed=2),
        ParetoDelay(alpha=2.5, scale=0.02, seed=3),
    ],
    ids=["exp", "exp-p-shift", "pareto"],
)
def test_simulated_means_match_order_statistics(code, delays):
    kw = {"t_partition": 0.01, "comm": 0.002, "overhead": 0.001}
    expected = expected_round_time(code, delays, **kw)
    _close(simulate(code, delays, 6000, **kw), expected)


@pytest.mark.parametrize("code", codes(), ids=repr)
def test_markov_mean_matches_its_stationary_closed_form(code):
    delays = MarkovDelay(fraction=0.2, duration=4, factor=3, delay=0.02, seed=4)
    expected = expected_round_time(code, delays, t_partition=0.01)
    _close(simulate(code, delays, 8000, t_partition=0.01), expected, batches=80)


def test_closed_forms_by_hand():
    """The (n-s)-th of n exponentials: mean (H_n - H_s); FRC: (mean/(s+1)) H_{n/(s+1)}."""
    assert harmonic(0) == 0 and harmonic(4) == pytest.approx(1 + 1 / 2 + 1 / 3 + 1 / 4)
    d = ExponentialDelay(mean=2.0, seed=0)
    cyc = gc.make_code("cyclic", 6, 2)  # load 3
    assert expected_round_time(cyc, d, t_partition=0.1) == pytest.approx(
        0.3 + 2.0 * (1 / 3 + 1 / 4 + 1 / 5 + 1 / 6)
    )
    frc = gc.make_code("frc", 6, 2)
    assert expected_round_time(frc, d, t_partition=0.1) == pytest.approx(0.3 + 2.0 / 3 * 1.5)
    # Pareto(alpha): max of 2 has mean 2 alpha^2 / ((alpha - 1)(2 alpha - 1))
    assert pareto_order_mean(2, 2, 3.0) == pytest.approx(2 * 9 / (2 * 5))
    assert pareto_order_mean(1, 5, 1.0) == pytest.approx(5 / 4)  # the min is Pareto(5 alpha)
    assert pareto_order_mean(5, 5, 1.0) == math.inf
    assert expected_round_time(cyc, SlowdownDelay(fraction=0.1, seed=0)) is None
    assert expected_round_time(cyc, NoDelay(), t_partition=0.1, overhead=0.5) == pytest.approx(0.8)


@pytest.mark.timeout(60)
def test_train_trace_replays_to_the_recorded_round_ends(tmp_path):
    code = gc.make_code("cyclic", 4, 1)
    X, y = np.random.default_rng(0).normal(size=(400, 5)), np.arange(400) % 2
    result = gc.train(
        code, X, y, rounds=12, delay=ExponentialDelay(mean=0.02, seed=0), out=tmp_path
    )
    trace = TraceDelay(path=str(tmp_path / "workers.csv"))
    replay = simulate(code, trace, keep_arrivals=True)
    assert replay.round_s.size == 12
    determined = 0
    for r, end in zip(result.rounds, replay.round_s, strict=True):
        arrived = ~np.isnan(r.arrival_s)
        last = int(np.nanargmax(r.arrival_s))
        assert end <= r.arrival_s[last] <= r.wall_s
        if not code.can_decode(arrived & (np.arange(4) != last)):  # the last reply was needed
            assert end == r.arrival_s[last]
            determined += 1
    assert determined >= 3  # most rounds; a busy machine batches a few replies together
    recorded = np.array([r.arrival_s for r in result.rounds])
    np.testing.assert_array_equal(replay.arrivals, np.where(np.isnan(recorded), np.inf, recorded))
    cal = calibrate(code, result.rounds)
    assert cal.t_partition > 0 and cal.overhead >= 0


def test_advise_avoids_a_persistent_straggler():
    slow = FixedStragglers(workers=(0,), delay=1.0)
    advice = advise(6, slow, s_values=range(4), rounds=20, t_partition=0.01)
    assert (advice.best_mean.s, advice.best_mean.load) == (1, 2)
    assert advice.best_mean.mean == pytest.approx(0.02)
    naive = next(p for p in advice.points if p.scheme == "naive")
    assert naive.mean == pytest.approx(1.01) and naive.expected == pytest.approx(1.01)
    # s=0 only for the schemes that take no s (naive, async)
    assert all(p.s > 0 for p in advice.points if p.scheme.partition(":")[0] not in STRAGGLER_FREE)
    with pytest.raises(ValueError, match="no scheme is available"):
        advise(5, slow, schemes=["frc"], s_values=[1])


def test_simulate_validates_and_parses_specs():
    code = gc.make_code("frc", 4, 1)
    assert simulate(code, "fixed:workers=0;delay=1", 5).round_s.tolist() == [0.02] * 5
    with pytest.raises(ValueError, match="rounds must be an integer >= 1, got rounds=0"):
        simulate(code, None, 0)
    with pytest.raises(ValueError, match="comm must be a finite number of seconds >= 0"):
        simulate(code, None, 3, comm=-1)


def run_cli(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_simulate_and_advise(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    rc, out, err = run_cli(
        capsys, "simulate", "-n", "6", "-s", "1", "--scheme", "naive,frc", "--rounds", "2000",
        "--delay", "exponential:mean=0.05", "--json", "--plot", str(tmp_path / "sim"),
    )  # fmt: skip
    assert rc == 0, err
    sims = json.loads(out)["simulations"]
    assert [s["scheme"] for s in sims] == ["naive", "frc"]
    assert sims[1]["mean_s"] == pytest.approx(sims[1]["expected_s"], rel=0.05)
    assert (tmp_path / "sim.png").stat().st_size > 0 and (tmp_path / "sim.svg").exists()
    rc, out, err = run_cli(
        capsys, "advise", "-n", "6", "--delay", "fixed:workers=0;delay=1", "--s", "0-2",
        "--rounds", "5", "--plot", str(tmp_path / "advice.png"),
    )  # fmt: skip
    assert rc == 0, err
    assert "recommended: frc s=1" in out and (tmp_path / "advice.png").exists()
    rc, out, err = run_cli(capsys, "advise", "--delay", "none")
    assert rc == 2 and "pass -n" in err
