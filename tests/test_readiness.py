"""Readiness is the decoder's, batch-first: for every scheme the simulator's decodable times are
the decoders' own per-row answers, and ``can_decode`` holds exactly from that time on."""

import math

import numpy as np
import pytest

import gradcode as gc
from gradcode.delays import SlowdownDelay
from gradcode.experiments.sweep import sweep
from gradcode.simulate import ready_times, simulate

BUILD = {  # (n, s, params): small valid codes, as tests/test_codes.py builds every scheme
    "naive": (12, 0, {}),
    "async": (12, 0, {}),
    "budget": (12, 0, {"T": 0.05}),
    "hetero": (12, 2, {"speeds": (1, 2) * 6}),
    "bibd": (13, 2, {}),
    "partial-cyclic": (6, 1, {"P": 4}),
    "partial-frc": (6, 2, {}),
    "stream": (7, 2, {}),
}
CODES = [(name, *BUILD.get(name, (12, 2, {}))) for name in gc.SCHEMES]
CODES += [("binary", 13, 3, {}), ("frc", 12, 3, {}), ("cyclic-mds", 11, 4, {})]  # unequal groups


def build(name, n, s, params):
    return gc.make_code(name, n, s, seed=1, **params)


def arrival_matrix(code, seed, rounds=120):
    """Random arrival times with ties and messages that never arrive (inf)."""
    rng = np.random.default_rng([seed, code.messages])
    T = rng.exponential(1.0, (rounds, code.messages)).round(1)
    T[rng.random(T.shape) < rng.uniform(0.0, 0.4, (rounds, 1))] = math.inf
    return T


def check_rows(code, T, times):
    """Each row decodes at times[r] and not a moment before; inf: not even with every arrival."""
    for row, t in zip(T, times, strict=True):
        if math.isinf(t):
            assert not code.can_decode(np.isfinite(row))
            continue
        assert t in row  # a round ends at an arrival
        assert code.can_decode(row <= t)
        assert not code.can_decode(row <= np.nextafter(t, -math.inf))
        assert code.can_decode(np.isfinite(row))  # and from then on


@pytest.mark.parametrize(("name", "n", "s", "params"), CODES, ids=lambda x: str(x))
def test_simulator_times_are_the_decoders_per_row_answers(name, n, s, params):
    code = build(name, n, s, params)
    for seed in range(3):
        T = arrival_matrix(code, seed)
        times = ready_times(code, T)
        own = np.array([code.decoder.decodable_at(row[None])[0] for row in T])
        np.testing.assert_array_equal(times, own)
        np.testing.assert_array_equal(times, ready_times(code, T, exact_loop=True))
        check_rows(code, T, times)


# async rounds are clock steps of an event simulation, not the first decodable arrival
SYNCHRONOUS = [case for case in CODES if case[0] not in gc.codes.ASYNCHRONOUS]


@pytest.mark.parametrize(("name", "n", "s", "params"), SYNCHRONOUS, ids=lambda x: str(x))
@pytest.mark.parametrize("carryover", [False, True])
def test_simulated_rounds_end_when_the_decoder_says(name, n, s, params, carryover):
    code = build(name, n, s, params)
    delays = SlowdownDelay(fraction=0.3, seed=2)
    sim = simulate(code, delays, 40, t_partition=0.01, carryover=carryover, keep_arrivals=True)
    np.testing.assert_array_equal(sim.round_s, code.decodable_at(sim.arrivals))
    assert sim.method == code.decoder.rule != "loop"
    check_rows(code, sim.arrivals, sim.round_s)


def test_decodable_at_rejects_a_wrong_shape():
    code = gc.make_code("stream", 5, 2)
    with pytest.raises(ValueError, match=r"shape \(rounds, 15\) .* got shape \(2, 5\)"):
        code.decodable_at(np.zeros((2, 5)))
    assert code.decodable_at(np.zeros(15)).shape == (1,)  # one row as a vector


def test_sweep_covers_every_scheme_with_loads_per_unit_of_data():
    """Under no delay a round takes the most loaded worker's share of the data times n
    t_partition whatever k is: partial-cyclic (P=4 of k=18 chunks) beats cyclic (2 of 6)."""
    result = sweep(6, None, s_values=[1, 2], rounds=3, t_partition=0.01)
    listed = {p.scheme for p in result.points} | {x.split(":")[0] for x in result.skipped}
    assert listed == set(gc.SCHEMES)
    assert [x.split(":")[0] for x in result.skipped] == ["naive", "bibd"]  # s > 0; no design
    by = {(p.scheme, p.s): p for p in result.points}
    assert by["partial-cyclic", 1].share == pytest.approx(4 / 18)
    assert by["partial-cyclic", 1].mean == pytest.approx(4 / 18 * 6 * 0.01)
    assert by["cyclic", 1].share == pytest.approx(2 / 6) and by["cyclic", 1].load == 2
    assert by["cyclic", 1].mean == pytest.approx(0.02)
    assert all(p.mean <= p.share * 6 * 0.01 + 1e-12 for p in result.points)
    with pytest.raises(ValueError, match="unknown scheme.*bogus; valid: naive"):
        sweep(6, None, schemes=["bogus"])
