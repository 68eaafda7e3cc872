"""Adaptive codes: speeds re-estimated online, re-encoding between rounds, exact throughout."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import gradcode as gc
from gradcode.data import gaussian_mixture

adaptive = importlib.import_module("gradcode.codes.adaptive")  # the module, not the factory

RUN = dict(optimizer="gd", lr=0.5, l2=1e-3, record_params=True, seed=2, row_time=2e-5)
# from round 10 on, workers 2 and 4 compute 4x slower: two stragglers against s=1
DRIFT = "fixed:workers=2,4;delay=0;factor=4;start=10"


@pytest.fixture(scope="module")
def data():
    return gaussian_mixture(2400, 8, seed=1)


def test_equal_speeds_keep_the_code_and_two_slow_workers_re_encode():
    code = gc.make_code("adaptive:every=5;threshold=0.1", 6, 1)
    policy = code.adapt
    policy.observe(code, np.full(6, 0.02))  # every worker: 2 partitions in 20 ms
    assert policy.propose(code) is None
    slow = np.array([0.02, 0.02, 0.08, 0.02, 0.08, 0.02])
    for _ in range(6):  # the EWMA follows the new speeds
        policy.observe(code, slow)
    new, gain, moved = policy.propose(code)
    assert new.name == "adaptive" and new.adapt is policy and new.exact
    work = np.array([new.work(i) for i in range(6)])
    assert work[[2, 4]].max() < work[[0, 1, 3, 5]].min()  # the slow ones hold less
    assert gain == pytest.approx(
        1
        - adaptive.predicted_round(new, policy.speeds)
        / adaptive.predicted_round(code, policy.speeds)
    )
    assert gain > 0.1 and 0 < moved < 1
    # the offset chosen moves no more rows than laying the arcs from 0 would
    v = policy.speeds / policy.speeds.mean()
    from0 = adaptive._moved(adaptive._arcs_of(code), adaptive._arcs(v, 1, 0.0))
    assert moved <= from0 + 1e-12
    mask = np.ones(6, dtype=bool)
    mask[4] = False
    assert new.residual(new.decode(mask)) <= 1e-9  # exact from any n-s


def test_a_worker_missing_from_the_estimates_keeps_the_code():
    code = gc.make_code("adaptive", 4, 1)
    code.adapt.observe(code, np.array([0.01, np.nan, 0.01, 0.01]))
    assert code.adapt.propose(code) is None


@pytest.mark.timeout(120)
def test_the_trajectory_stays_exact_across_re_encodings(data):
    X, y = data
    got = gc.train("adaptive:every=5;threshold=0.3", X, y, n=6, s=1, rounds=30, delay=DRIFT, **RUN)
    naive = gc.train("naive", X, y, n=6, rounds=30, **RUN)
    want = np.stack(naive.params)
    assert np.abs(np.stack(got.params) - want).max() <= 1e-9 * np.abs(want).max()
    switches = [g for g in got.segments if g.get("reencoded")]
    assert switches, "two persistent stragglers against s=1 must trigger a re-encoding"
    assert switches[0]["from_round"] >= 10  # not before they appeared
    assert switches[0]["predicted_gain"] >= 0.3 and 0 < switches[0]["moved_share"] < 1


@pytest.mark.parametrize(
    "spec, message",
    [
        ("adaptive:every=0", "every must be a number of rounds >= 1, got every=0"),
        ("adaptive:threshold=1.5", r"threshold must be a predicted gain in \[0, 1\)"),
        ("adaptive:alpha=0", r"alpha must be an EWMA weight in \(0, 1\]"),
    ],
)
def test_bad_parameters_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        gc.make_code(spec, 6, 1)


def test_the_mpi_engine_is_refused_before_any_work(data):
    X, y = data
    with pytest.raises(ValueError, match="engine 'local' only"):
        gc.train("adaptive", X, y, n=6, s=1, rounds=2, engine="mpi", **RUN)
