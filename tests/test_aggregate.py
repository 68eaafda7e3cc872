"""Robust aggregates of the uncoded scheme (codes/aggregate.py) and `naive:agg=...;f=...`."""

import numpy as np
import pytest
from scipy.optimize import minimize

import gradcode as gc
from gradcode.codes.aggregate import (
    AGGREGATORS,
    geometric_median,
    krum,
    krum_scores,
    make_aggregate,
    multi_krum,
    trimmed_mean,
)

NAMES = sorted(AGGREGATORS)
ROBUST = ["median", "trimmed", "krum", "multikrum", "geomed"]


def honest(rng: np.random.Generator, n: int, L: int, center: float = 3.0) -> np.ndarray:
    return center + rng.standard_normal((n, L))


def brute_krum_scores(V: np.ndarray, f: int) -> np.ndarray:
    """Krum scores straight from the definition: pairwise distances one pair at a time."""
    n = V.shape[0]
    scores = np.empty(n)
    for i in range(n):
        d2 = sorted(float(np.sum((V[i] - V[j]) ** 2)) for j in range(n) if j != i)
        scores[i] = sum(d2[: n - f - 2])
    return scores


def test_golden_one_coordinate():
    # messages 1, 2, 3, 4, 100 (n=5, f=1), checked by hand
    V = np.array([[1.0], [2.0], [3.0], [4.0], [100.0]])
    expected = {
        "median": 5 * 3.0,
        "trimmed": 5 * (2 + 3 + 4) / 3,  # drop 1 and 100
        "krum": 5 * 2.0,  # scores 5, 2, 2, 5, 96²+97²: the tie goes to worker 1
        "multikrum": 5 * (1 + 2 + 3 + 4) / 4,  # the n-f = 4 lowest scores
        "geomed": 5 * 3.0,  # the geometric median of points on a line is their median
    }
    for name, value in expected.items():
        assert make_aggregate(name, 5, 1)(V) == pytest.approx([value], rel=1e-12), name
    assert krum_scores(V, 1).tolist() == [5.0, 2.0, 2.0, 5.0, 96.0**2 + 97.0**2]


@pytest.mark.parametrize("name", NAMES)
def test_identical_messages_give_n_times_the_message(name):
    row = np.random.default_rng(1).standard_normal(6)
    V = np.tile(row, (9, 1))
    np.testing.assert_allclose(make_aggregate(name, 9, 2)(V), 9 * row, rtol=1e-12)


def test_median_of_symmetric_data_is_the_sum_exactly():
    rng = np.random.default_rng(2)
    c = rng.integers(-50, 50, size=8).astype(float)
    d = rng.integers(1, 20, size=(3, 8)).astype(float)
    V = np.vstack([c - d, c, c + d])[rng.permutation(7)]  # symmetric around c per coordinate
    assert np.array_equal(make_aggregate("median", 7, 3)(V), V.sum(axis=0))
    assert np.array_equal(make_aggregate("trimmed", 7, 3)(V), V.sum(axis=0))


def test_f0_multikrum_and_trimmed_equal_the_plain_sum_exactly():
    V = np.random.default_rng(3).standard_normal((10, 50)) * 1e3
    assert np.array_equal(make_aggregate("multikrum", 10, 0)(V), V.sum(axis=0))
    assert np.array_equal(make_aggregate("trimmed", 10, 0)(V), V.sum(axis=0))
    assert np.array_equal(multi_krum(V, 0), V.sum(axis=0))


def test_honest_estimates_are_close_to_the_sum():
    rng = np.random.default_rng(4)
    V = honest(rng, 15, 40, center=5.0) * 0.01 + np.linspace(1, 2, 40)  # tight honest cloud
    for name in NAMES:
        est = make_aggregate(name, 15, 3)(V)
        np.testing.assert_allclose(est / 15, V.mean(axis=0), atol=0.05, err_msg=name)


def attacks(rng: np.random.Generator, H: np.ndarray, f: int) -> dict[str, np.ndarray]:
    L = H.shape[1]
    return {
        "huge": np.full((f, L), 1e6),
        "sign-flip": np.tile(-10.0 * H.mean(axis=0), (f, 1)),
        "random-far": 1e4 * rng.standard_normal((f, L)),
        "non-finite": np.vstack([np.full(L, np.nan), np.full(L, np.inf), np.full(L, 1e200)])[:f],
    }


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("n, f", [(9, 2), (11, 3), (7, 1)])
def test_byzantine_rows_cannot_drag_the_robust_rules(seed, n, f):
    rng = np.random.default_rng(seed)
    L = 12
    H = honest(rng, n - f, L)
    radius = np.linalg.norm(H - H.mean(axis=0), axis=1).max()
    for attack, B in attacks(rng, H, f).items():
        V = np.vstack([H, B])
        order = rng.permutation(n)
        V = V[order]
        with np.errstate(all="ignore"):
            plain = V.sum(axis=0) / n
        assert not np.all((H.min(axis=0) <= plain) & (plain <= H.max(axis=0))), attack
        for name in ROBUST:
            est = make_aggregate(name, n, f)(V) / n
            assert np.all(np.isfinite(est)), (attack, name)
            if name == "geomed":  # a point, not per coordinate: within the honest spread
                assert np.linalg.norm(est - H.mean(axis=0)) <= radius, (attack, name)
            else:
                inside = (H.min(axis=0) - 1e-12 <= est) & (est <= H.max(axis=0) + 1e-12)
                assert np.all(inside), (attack, name)
        honest_rows = np.flatnonzero(order < n - f)
        with np.errstate(all="ignore"):
            picked = int(np.argmin(krum_scores(V, f)))
        assert picked in honest_rows, attack
        np.testing.assert_array_equal(krum(V, f), n * V[picked])
        np.testing.assert_allclose(multi_krum(V, f) / n, H.mean(axis=0), rtol=1e-12)


def test_krum_scores_match_the_definition():
    rng = np.random.default_rng(5)
    for n, f in [(5, 1), (9, 3), (12, 2)]:
        V = honest(rng, n, 7)
        V[0] += 40.0
        np.testing.assert_allclose(krum_scores(V, f), brute_krum_scores(V, f), rtol=1e-10)


def test_distances_survive_a_large_common_offset():
    # an uncentred Gram matrix would lose every digit: (1e8)² swamps distances of order 1
    rng = np.random.default_rng(6)
    V = honest(rng, 9, 30)
    shifted = V + 1e8
    np.testing.assert_allclose(krum_scores(shifted, 2), brute_krum_scores(V, 2), rtol=1e-6)
    np.testing.assert_allclose(
        geometric_median(shifted) / 9 - 1e8, geometric_median(V) / 9, atol=1e-6
    )


def test_geomed_of_collinear_points_is_the_middle_one():
    rng = np.random.default_rng(7)
    c, u = rng.standard_normal(5), rng.standard_normal(5)
    t = np.array([-3.0, -1.0, 0.5, 2.0, 7.0, 11.0, -8.0])  # median t = 0.5
    V = c + t[:, None] * u
    np.testing.assert_allclose(geometric_median(V) / 7, c + 0.5 * u, rtol=0, atol=1e-12)


def test_geomed_minimises_the_sum_of_distances():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((7, 3)) * [1.0, 3.0, 0.5]

    def cost(z):
        return float(np.linalg.norm(X - z, axis=1).sum())

    ref = minimize(cost, X.mean(axis=0), method="Nelder-Mead", options={"xatol": 1e-12,
                   "fatol": 1e-14, "maxiter": 20000})  # fmt: skip
    z = geometric_median(X) / 7
    assert cost(z) <= ref.fun + 1e-12
    np.testing.assert_allclose(z, ref.x, atol=1e-6)
    assert cost(z) < cost(np.median(X, axis=0)) - 1e-3  # it moved off its start


def test_geomed_at_a_repeated_message():
    # 5 of 8 messages coincide: the geometric median is that message (distance 0 is guarded)
    rng = np.random.default_rng(9)
    p = rng.standard_normal(4)
    V = np.vstack([np.tile(p, (5, 1)), p + 10 * rng.standard_normal((3, 4))])
    est = geometric_median(V)
    assert np.all(np.isfinite(est))
    np.testing.assert_allclose(est / 8, p, atol=1e-9)


def test_non_finite_messages_are_left_out_of_the_geomed():
    rng = np.random.default_rng(12)
    H = honest(rng, 6, 5) * [1.0, 2.0, 3.0, 4.0, 5.0]
    V = np.vstack([H[:2], np.full(5, np.nan), H[2:], np.full(5, -np.inf), np.full(5, 1e300)])
    with np.errstate(all="ignore"):
        est = make_aggregate("geomed", 9, 3)(V)
    np.testing.assert_allclose(est / 9, geometric_median(H) / 6, rtol=1e-9)


def test_trimmed_mean_drops_f_per_coordinate():
    V = np.array([[0.0, 9.0], [1.0, 8.0], [2.0, -100.0], [3.0, 7.0], [50.0, 6.0]])
    # column 0 keeps 1, 2, 3; column 1 keeps 6, 7, 8
    np.testing.assert_allclose(trimmed_mean(V, 1), 5 * np.array([2.0, 7.0]), rtol=1e-15)


def test_unknown_aggregator_names_the_value_and_the_choices():
    with pytest.raises(ValueError) as e:
        make_aggregate("mean", 8, 1)
    assert str(e.value) == (
        "unknown aggregator 'mean'; valid aggregators: geomed, krum, median, multikrum, trimmed"
    )


@pytest.mark.parametrize("f", [-1, 1.5, True, "2"])
def test_bad_f(f):
    with pytest.raises(ValueError, match=rf"must be an integer >= 0, got f={f!r}"):
        make_aggregate("median", 8, f)


@pytest.mark.parametrize(
    "name, n, f, requirement",
    [
        ("trimmed", 4, 2, "2f < n"),
        ("median", 6, 3, "2f < n"),
        ("geomed", 2, 1, "2f < n"),
        ("krum", 4, 1, "n >= 2f + 3"),
        ("multikrum", 8, 3, "n >= 2f + 3"),
        ("krum", 2, 0, "n >= 2f + 3"),
    ],
)
def test_too_many_attackers_for_the_rule(name, n, f, requirement):
    with pytest.raises(ValueError) as e:
        make_aggregate(name, n, f)
    msg = str(e.value)
    assert msg.startswith(f"{name} needs {requirement}") and msg.endswith(f"got n={n}, f={f}")


@pytest.mark.parametrize("name, n, f", [("trimmed", 5, 2), ("krum", 5, 1), ("multikrum", 3, 0)])
def test_boundary_cases_are_allowed(name, n, f):
    V = np.random.default_rng(10).standard_normal((n, 3))
    assert make_aggregate(name, n, f)(V).shape == (3,)


def test_wrong_message_count():
    with pytest.raises(ValueError, match=r"V must have shape \(8, L\), got shape \(7, 3\)"):
        make_aggregate("krum", 8, 1)(np.zeros((7, 3)))
    with pytest.raises(ValueError, match=r"got shape \(8,\)"):
        make_aggregate("median", 8, 1)(np.zeros(8))


# ---- the scheme ---------------------------------------------------------------------------


def test_naive_with_a_robust_aggregate():
    a = gc.make_code("naive:agg=median", 8)
    b = gc.make_code("naive", 8, agg="median")
    for code in (a, b):
        assert code.name == "naive:agg=median" and code.n == 8 and code.s == 0
        assert not code.exact
        assert code.notes == "robust aggregation (median, f=1): not exact"
        assert code.B.tolist() == np.eye(8).tolist()
        assert not code.can_decode(range(7)) and code.can_decode(range(8))
        assert repr(code.aggregate) == "<Aggregate median n=8 f=1>"
    k = gc.make_code("naive:agg=krum;f=2", 8)
    assert k.name == "naive:agg=krum;f=2" and k.notes == "robust aggregation (krum, f=2): not exact"
    G = np.random.default_rng(11).standard_normal((8, 5))  # worker i's message: row i of B G
    V = k.B @ G
    V[3] = 1e9
    picked = int(np.argmin(krum_scores(V, 2)))
    assert picked != 3
    np.testing.assert_array_equal(k.aggregate(V), 8 * G[picked])


def test_plain_naive_is_unchanged():
    code = gc.make_code("naive", 8)
    assert (code.name, code.exact, code.notes, code.aggregate) == ("naive", True, "", None)
    assert (code.s, code.parts, code.blocks, code.a, code.sizes, code.tol) == (
        0,
        1,
        1,
        0,
        None,
        1e-9,
    )
    assert code.B.tolist() == np.eye(8).tolist()
    assert code.decode(range(8)).tolist() == [1.0] * 8


@pytest.mark.parametrize(
    "spec, message",
    [
        ("naive:agg=krum;f=3", "krum needs n >= 2f + 3 (Blanchard et al. 2017), got n=8, f=3"),
        ("naive:agg=trim", "unknown aggregator 'trim'; valid aggregators: geomed, krum,"),
        ("naive:agg=median;f=0.5", "must be an integer >= 0, got f=0.5"),
        ("naive:f=2", "f (Byzantine workers assumed) applies only with a robust aggregate"),
        ("naive:agg=median;g=1", "unknown parameter(s) g for scheme 'naive'; valid parameters: agg, f"),
    ],
)  # fmt: skip
def test_naive_refuses_bad_parameters(spec, message):
    with pytest.raises(ValueError) as e:
        gc.make_code(spec, 8)
    assert message in str(e.value)
