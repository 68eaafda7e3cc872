"""The oracle lower bound T* and work-proportional delays: T* in closed form where one exists,
no exact code below it (round by round, from the same draws), the exact codes' loss under
exponential work-proportional delays, and advise's statement exactly when it applies."""

import json
import math

import numpy as np
import pytest

import gradcode as gc
from gradcode.cli import main
from gradcode.experiments.advise import advise, notes
from gradcode.experiments.sweep import sweep
from gradcode.simulate import (
    exponential_penalty,
    harmonic,
    oracle_bound,
    oracle_times,
    proportional_share,
    simulate,
)

pytestmark = pytest.mark.timeout(300)


class ProportionalExponential:
    """Work-proportional exponential delays: a reply takes load x t_p x X, X ~ Exp(1) i.i.d.
    per (worker, round) (factor = X, no extra seconds). Not a registered model: its factors go
    below 1, which the simulator allows."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def sample(self, round: int, n: int):
        extra, factor = self.sample_many([round], n)
        return extra[0], factor[0]

    def sample_many(self, rounds, n: int):
        f = np.array(
            [np.random.default_rng([self.seed, int(t), 7]).standard_exponential(n) for t in rounds]
        ).reshape(len(rounds), n)
        return np.zeros_like(f), f

    def __repr__(self) -> str:
        return f"ProportionalExponential(seed={self.seed})"


def test_equal_speeds_give_the_work_over_n():
    for name, s in [("naive", 0), ("cyclic", 2), ("frc", 1), ("partial-cyclic", 1)]:
        code = gc.make_code(name, n=6, s=s)
        bound = oracle_bound(code, None, 5, t_partition=0.01)
        assert bound == pytest.approx(code.k * 0.01 / 6)  # W t_p / n
    naive = gc.make_code("naive", n=6, s=0)
    assert oracle_bound(naive, None, 5, t_partition=0.01) == pytest.approx(
        simulate(naive, None, 5).mean
    )  # naive reaches it
    # one worker 4x slower: total speed n - 1 + 1/4; a fixed 30 ms on every worker: (W t_p + e)/n
    slow = "fixed:workers=0;factor=4;delay=0"
    assert oracle_bound(naive, slow, 3) == pytest.approx(6 * 0.01 / (5 + 1 / 4))
    every = "fixed:workers=0,1,2,3,4,5;delay=0.03"
    assert oracle_bound(naive, every, 3, comm=0.002, overhead=0.001) == pytest.approx(
        (6 * 0.01 + 0.03) / 6 + 0.002 + 0.001
    )


DELAYS = [
    "exponential:mean=0.01;seed=0",
    "pareto:alpha=1.5;scale=0.01;seed=0",
    "bimodal:fraction=0.1;seed=0",
    "slowdown:fraction=1;factor_low=1;factor_high=3;seed=0",
    "markov:fraction=0.1;duration=20;factor=5;delay=0.01;seed=0",
    "random:count=2;delay=0.02;seed=0",
    ProportionalExponential(),
]


@pytest.mark.parametrize("delays", DELAYS, ids=str)
def test_no_exact_scheme_is_below_the_bound(delays):
    n = 12
    result = sweep(n, delays, rounds=300, t_partition=0.01, comm=0.001)
    assert math.isfinite(result.bound) and result.bound > 0
    for p in result.points:
        if p.exact:
            assert p.mean >= result.bound * (1 - 1e-12), (p.scheme, p.s)
    for name, s in [("naive", 0), ("cyclic", 2), ("frc", 2), ("stream", 3), ("partial-frc", 2)]:
        code = gc.make_code(name, n=n, s=s)
        for kw in ({}, {"carryover": True}):  # round by round, from the same draws
            sim = simulate(code, delays, 300, t_partition=0.02, overhead=0.001, **kw)
            T = oracle_times(delays, 300, n, work_s=0.02 * code.k) + 0.001
            assert (sim.round_s >= T * (1 - 1e-12)).all(), (name, kw)


def test_the_bound_with_measured_seconds():
    from gradcode.delays import EmpiricalDelay

    tp = EmpiricalDelay(values=(0.005, 0.01, 0.02), seed=1)  # seconds per partition, drawn
    comm = EmpiricalDelay(values=(0.001, 0.003), seed=2, stream=3)
    for name, s in [("naive", 0), ("cyclic", 1), ("frc", 1)]:
        code = gc.make_code(name, n=6, s=s)
        d = "exponential:mean=0.01;seed=0"
        sim = simulate(code, d, 200, t_partition=tp, comm=comm)
        assert 0 < oracle_bound(code, d, 200, t_partition=tp, comm=comm) <= sim.mean


def test_exact_codes_lose_by_the_harmonic_ratio_under_exponential_work_proportional_delays():
    n, s, rounds = 16, 1, 20_000
    d = ProportionalExponential()
    naive = simulate(gc.make_code("naive", n=n, s=0), d, rounds).mean
    cyclic = simulate(gc.make_code("cyclic", n=n, s=s), d, rounds).mean
    assert exponential_penalty(n, s) == pytest.approx(2 * (harmonic(16) - 1) / harmonic(16))
    assert 1 / exponential_penalty(n, s) == pytest.approx(0.710, abs=5e-4)
    assert naive / cyclic == pytest.approx(1 / exponential_penalty(n, s), rel=0.02)
    assert naive == pytest.approx(0.01 * harmonic(n), rel=0.02)  # E max of n Exp: H_n
    # FRC is not such a code: a group's first of s+1 exponentials comes s+1 times sooner, so
    # it takes t_p H_{n/(s+1)}, below naive's t_p H_n
    frc = simulate(gc.make_code("frc", n=n, s=s), d, rounds).mean
    assert frc == pytest.approx(0.01 * harmonic(n // 2), rel=0.02) and frc < naive


def test_work_proportional_share():
    assert proportional_share("exponential:mean=0.01;seed=0", 8) == 0.0
    assert proportional_share("pareto:alpha=1.5;seed=0", 8) == 0.0
    assert proportional_share("bimodal:fraction=0.2;seed=0", 8) == 1.0
    assert proportional_share(ProportionalExponential(), 8) == 1.0
    assert math.isnan(proportional_share(None, 8))
    base = "bimodal:fraction=0.2;base=0.05;seed=0"  # extra = base x factor: 5x the compute
    assert proportional_share(base, 8, share_s=0.01) == pytest.approx(1 / 26)


def _said(advice) -> str:
    return "\n".join(notes(advice))


def test_advise_states_work_proportional_delays_exactly_when_they_are():
    kw = {"s_values": range(4), "rounds": 400}
    for delays in ("exponential:mean=0.01;seed=0", "pareto:alpha=1.5;seed=0", None):
        said = _said(advise(16, delays, **kw))
        assert "oracle bound T*" in said and "work-proportional" not in said, delays
    d = ProportionalExponential()
    few = advise(16, d, schemes=["naive", "cyclic", "cyclic-mds", "ignore"], **kw)
    said = _said(few)
    assert few.work_proportional and few.best_mean.scheme == "naive"
    assert "delays look work-proportional" in said and "1.41x naive's time" in said
    assert "no exact code beats naive" in said and "ignore s=3" in said and "--deadline" in said
    every = _said(advise(16, d, **kw))  # FRC, stream and binary codes still win here
    assert "exact codes that still beat naive" in every and "no exact code" not in every
    fixed = _said(advise(8, "fixed:workers=0;factor=5;delay=0", **kw))  # 5 > s+1: codes win
    assert "work-proportional" in fixed and "exact codes that still beat naive" in fixed


def test_cli_advise_and_simulate_show_the_bound(capsys):
    args = ["-n", "8", "--delay", "slowdown:fraction=1,factor_low=1,factor_high=3"]
    assert main(["advise", *args, "--schemes", "naive,cyclic", "-s", "0-2", "--rounds", "300"]) == 0
    out = capsys.readouterr().out
    assert "mean / T*" in out and "oracle bound T* = " in out
    assert "delays look work-proportional" in out and "no exact code beats naive" in out
    assert main(["advise", *args, "-s", "0-1", "--rounds", "100", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bound_s"] > 0 and report["work_proportional"] is True
    assert report["work_proportional_share"] == 1.0 and report["notes"]
    assert main(["simulate", *args, "--rounds", "100", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["simulations"]
    assert all(0 < r["bound_s"] <= r["mean_s"] for r in rows)
    assert main(["simulate", *args, "--rounds", "100"]) == 0
    assert "T* ms" in capsys.readouterr().out
