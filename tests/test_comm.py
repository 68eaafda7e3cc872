"""Communication-efficient codes (comm-cyclic) and emulated links: exact block sums from any n-s
workers against the directly summed gradient, message length ceil(L/m), load s+m; the runtime's
trajectory against plain GD; the simulator's link cost against the arithmetic."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import gradcode as gc
from gradcode.codes import DecodingError
from gradcode.codes.blocks import block_width, fold, unfold
from gradcode.data.synthetic import gaussian_mixture
from gradcode.delays import FixedStragglers
from gradcode.experiments.advise import advise
from gradcode.links import Link, parse_link
from gradcode.models import full_objective, make_model
from gradcode.runtime import Fault, train
from gradcode.simulate import simulate

UNSAFE = re.compile(r"numerically unsafe|m must satisfy")


def messages(code, G: np.ndarray) -> np.ndarray:
    """Each worker's message from partition gradient rows G (k x L), folded block by block."""
    w = code.message_length(G.shape[1])
    Y = np.zeros((code.n, w))
    for i in range(code.n):
        for j in code.partitions(i):
            Y[i] += fold(G[j], code.B[i, j :: code.k], w)
    return Y


def check_exact(code, G: np.ndarray, stragglers) -> float:
    """Decode from the survivors; the worst error of the m block sums (relative to their size)."""
    A = code.decode(code.survivors(stragglers))
    assert A.shape == (code.blocks, code.n)
    assert not A[:, list(stragglers)].any()
    Y = messages(code, G)
    got, used = unfold(A, dict(enumerate(Y)), G.shape[1])
    assert not set(used.tolist()) & set(stragglers)
    want = G.sum(axis=0)
    return float(np.max(np.abs(got - want)) / max(1.0, np.max(np.abs(want))))


def build(n: int, s: int, m: int):
    """The code, or None where the family refuses (n, s, m) with its documented ValueError."""
    try:
        return gc.make_code("comm-cyclic", n, s, m=m)
    except ValueError as e:
        assert UNSAFE.search(str(e)), str(e)
        return None


@st.composite
def accepted(draw, max_n: int = 40):
    n = draw(st.integers(3, max_n))
    s = draw(st.integers(0, n - 2))
    m = draw(st.integers(2, n - s))
    return n, s, m, draw(st.integers(1, 60)), draw(st.integers(0, 2**32 - 1))


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(accepted())
def test_block_sums_are_exact_from_any_n_minus_s(case):
    n, s, m, L, seed = case
    code = build(n, s, m)
    assume(code is not None)
    assert code.blocks == m and code.k == n and code.exact
    assert code.message_length(L) == math.ceil(L / m) == block_width(L, m)
    assert code.s in (s, s + 1) and (code.s == s) == ((n - s) % 2 == 1)
    assert code.load == code.s + m
    assert all(len(code.partitions(i)) == code.s + m for i in range(n))
    held = np.bincount([j for i in range(n) for j in code.partitions(i)], minlength=n)
    assert np.all(held == code.s + m)  # every partition on s+m workers
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((code.k, L))
    for size in (code.s, int(rng.integers(0, code.s + 1))):
        stragglers = sorted(rng.choice(n, size, replace=False).tolist())
        assert check_exact(code, G, stragglers) <= 1e-9


def test_every_small_code_decodes_every_kind_of_set():
    """Exhaustive over (n, s, m) up to n=14: clustered, spread and random stragglers."""
    rng = np.random.default_rng(0)
    built = 0
    for n in range(3, 15):
        for s in range(n - 1):
            for m in range(2, n - s + 1):
                code = build(n, s, m)
                if code is None:
                    continue
                built += 1
                G = rng.standard_normal((code.k, int(rng.integers(1, 12))))
                for S in (range(code.s), range(0, 2 * code.s, 2), rng.choice(n, code.s, False)):
                    S = sorted({int(i) % n for i in S})[: code.s]
                    assert check_exact(code, G, S) <= 1e-9, (n, s, m, S)
    assert built > 300


def test_m1_is_cyclic_mds_bit_for_bit():
    for n, s in ((7, 2), (12, 3), (12, 2)):
        one, mds = gc.make_code("comm-cyclic", n, s, m=1), gc.make_code("cyclic-mds", n, s)
        assert one.blocks == 1 and one.s == mds.s
        assert np.array_equal(one.B, mds.B)
        mask = mds.survivors(range(mds.s))
        assert np.array_equal(one.decode(mask), mds.decode(mask))


def test_the_spec_form_and_a_readable_name():
    code = gc.make_code("comm-cyclic:m=4", 24, 3)
    assert code.name == "comm-cyclic:m=4" and code.blocks == 4 and code.load == 7
    assert "m=4" in code.notes and "cond(M)=" in code.notes and "amplification" in code.notes


@pytest.mark.parametrize(
    ("n", "s", "m", "message"),
    [
        (12, 1, 0, "m \\(message blocks\\) must be an integer >= 1, got m=0"),
        (12, 1, 1.5, "m \\(message blocks\\) must be an integer >= 1, got m=1.5"),
        (12, 1, True, "m \\(message blocks\\) must be an integer >= 1, got m=True"),
        (12, 1, 12, "m must satisfy 1 <= m <= n - s = 11 .*got m=12, n=12, s=1"),
        (12, 2, 10, "m must satisfy 1 <= m <= n - s - 1 = 9 for n-s even .*got m=10"),
        (48, 10, 4, "numerically unsafe for n=48, s=10 in float64 .*or strict=0"),
    ],
)
def test_bad_parameters_name_the_value_and_the_range(n, s, m, message):
    with pytest.raises(ValueError, match=message):
        gc.make_code("comm-cyclic", n, s, m=m)


def test_strict0_accepts_codes_as_safe_as_cyclic_mds_and_never_returns_a_wrong_sum():
    code = gc.make_code("comm-cyclic", 48, 10, m=4, strict=0)
    rng = np.random.default_rng(1)
    G = rng.standard_normal((code.k, 9))
    for _ in range(20):
        S = sorted(rng.choice(48, code.s, replace=False).tolist())
        try:
            err = check_exact(code, G, S)
        except DecodingError:
            continue  # refused by the residual check, as cyclic-mds refuses such sets
        assert err <= 1e-9


def test_an_exact_decode_is_residual_checked():
    code = gc.make_code("comm-cyclic", 12, 1, m=3)
    A = np.array(code.decode(code.survivors([4])))
    assert code.residual(A) <= 1e-12 and code.error(A) <= 1e-24
    A[1, 0] += 1e-3  # a wrong block weight shows in the residual
    assert code.residual(A) >= 1e-3 - 1e-12
    assert code.error(np.zeros_like(A)) == pytest.approx(1.0)


def test_best_effort_decodes_any_set_to_the_least_squares_blocks():
    code = gc.make_code("comm-cyclic", 12, 1, m=2)
    A = code.decode(range(6), best_effort=True)  # 6 of 12: too few for an exact decode
    assert A.shape == (2, 12) and not A[:, 6:].any()
    assert 0 < code.error(A) < 1


def test_fold_and_unfold_are_generic_in_the_vector_length():
    rng = np.random.default_rng(0)
    for L in (1, 5, 8, 9, 31):
        for m in (1, 2, 3, 8):
            w = block_width(L, m)
            g, mix = rng.standard_normal(L), rng.standard_normal(m)
            padded = np.zeros(m * w)
            padded[:L] = g
            assert np.allclose(fold(g, mix, w), mix @ padded.reshape(m, w))
    with pytest.raises(ValueError, match="does not split into m=2 blocks of 3"):
        fold(np.zeros(7), np.ones(2), 3)
    A = np.array([[1.0, 0.0], [0.0, 2.0]])
    got, used = unfold(A, {0: np.array([1.0, 2.0]), 1: np.array([3.0, 4.0])}, 3)
    assert np.allclose(got, [1.0, 2.0, 6.0]) and used.tolist() == [0, 1]


# ---- the runtime ------------------------------------------------------------------------------
MODEL, LR, ROUNDS = make_model("logistic", l2=0.0), 0.5, 6


def reference(X, y):
    theta, out = np.zeros(X.shape[1]), []
    for _ in range(ROUNDS):
        theta = theta - LR * full_objective(MODEL, theta, X, y)[1]
        out.append(theta)
    return np.array(out)


@pytest.fixture(scope="module")
def data():
    return gaussian_mixture(120, 7, seed=2)


@pytest.mark.parametrize(("spec", "n", "s"), [("comm-cyclic:m=2", 7, 2), ("comm-cyclic:m=3", 8, 1)])
def test_trajectory_equals_gradient_descent_with_stragglers_and_a_death(data, spec, n, s):
    X, y = data
    code = gc.make_code(spec, n, s)
    result = train(
        code,
        X,
        y,
        model=MODEL,
        optimizer="gd",
        lr=LR,
        rounds=ROUNDS,
        faults=[Fault(worker=1, round=2)],  # every worker delayed: each computes every round
        delay=FixedStragglers(workers=tuple(range(n)), delay=0.02),
        record_params=True,
    )
    ref = reference(X, y)
    assert np.max(np.abs(np.array(result.params) - ref)) <= 1e-9 * np.max(np.abs(ref))
    assert list(result.dead) == [1] and result.status == "ok"
    assert result.config["blocks"] == code.blocks
    for r in result.rounds:
        assert r.residual <= 1e-9


def test_float32_block_messages_stay_within_float32_rounding(data):
    X, y = data
    result = train(
        "comm-cyclic:m=2", X, y, n=7, s=2, model=MODEL, optimizer="gd", lr=LR, rounds=ROUNDS,
        message_dtype="float32", record_params=True,
    )  # fmt: skip
    ref = reference(X, y)
    err = np.max(np.abs(np.array(result.params) - ref)) / np.max(np.abs(ref))
    assert 1e-12 < err <= 1e-5


def test_an_emulated_link_makes_shorter_messages_faster():
    """d=400 float64: naive sends 3200 bytes a round, comm-cyclic:m=4 800; at 16 kB/s that is
    0.2 s against 0.05 s per message, far above the compute."""
    X, y = gaussian_mixture(60, 400, seed=0)
    link = "rate=16000"
    walls = {}
    for spec, s in (("naive", 0), ("comm-cyclic:m=4", 1)):
        r = train(spec, X, y, n=6, s=s, rounds=3, link=link, eval_every=0)
        walls[spec] = np.array([x.wall_s for x in r.rounds])
    assert walls["naive"].min() >= 0.2 and walls["comm-cyclic:m=4"].min() >= 0.05
    # the fastest round of each: what the link costs, least disturbed by other load on the box
    assert walls["comm-cyclic:m=4"].min() < 0.6 * walls["naive"].min()


# ---- links and the simulator ------------------------------------------------------------------
def test_links_are_seeded_per_round_and_worker():
    link = Link(rate=1e6, spread=0.5, seed=3)
    a, b = link.per_byte([4, 9], 8), link.per_byte([9], 5)
    assert np.array_equal(a[1, :5], b[0])  # a draw depends on (seed, round, worker) only
    assert np.all((a >= 1e-6) & (a <= 1.5e-6)) and not np.allclose(a[0], a[1])
    assert np.array_equal(Link(rate=1e6).per_byte([0], 3), np.full((1, 3), 1e-6))
    assert np.allclose(Link(rate=100.0, latency=0.5).seconds([0], 2, 50), 1.0)


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ("1e6", Link(rate=1e6)),
        (2000, Link(rate=2000.0)),
        ("rate=5e5;spread=0.2;seed=4", Link(rate=5e5, spread=0.2, seed=4)),
        ("rate=5e5,latency=0.001", Link(rate=5e5, latency=0.001)),
        ("none", None),
        (None, None),
    ],
)
def test_parse_link(spec, want):
    assert parse_link(spec) == want
    if want is not None:
        assert parse_link(want.spec()) == want


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("fast", "link must be a rate in bytes/s"),
        ("rate=0", "rate must be a number of bytes/s > 0, got rate=0"),
        ("rate=1e6;spread=-1", "spread must be a finite number >= 0"),
        ("rate=1e6;jitter=1", "unknown parameter\\(s\\) jitter for link"),
        ("spread=1", "needs rate=BYTES_PER_SECOND"),
    ],
)
def test_bad_links_are_clear(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_link(spec)
    with pytest.raises(ValueError, match=message):
        gc.RunConfig(link=spec)


def test_the_simulator_adds_each_message_bytes_over_the_link():
    link = Link(rate=1000.0, latency=0.01)
    naive = gc.make_code("naive", 4)
    comm = gc.make_code("comm-cyclic:m=4", 5, 0)
    a = simulate(naive, None, 3, t_partition=0.02, link=link, length=100)
    b = simulate(comm, None, 3, t_partition=0.02, link=link, length=100, dtype="float32")
    assert np.allclose(a.round_s, 0.02 + 0.01 + 800 / 1000)
    assert np.allclose(b.round_s, 4 * 0.02 + 0.01 + 25 * 4 / 1000)
    with pytest.raises(ValueError, match="a link needs length"):
        simulate(naive, None, 3, link=link)


def test_advise_picks_shorter_messages_when_bandwidth_dominates():
    kw = dict(schemes=("naive", "cyclic-mds", "comm-cyclic:m=4"), s_values=[0, 1], rounds=200)
    slow_net = advise(11, "exponential:mean=0.05;seed=0", link=2e5, length=20_000, **kw)
    assert slow_net.best_mean.scheme == "comm-cyclic:m=4"
    fast_net = advise(11, "exponential:mean=0.05;seed=0", link=1e12, length=20_000, **kw)
    assert fast_net.best_mean.scheme == "cyclic-mds"  # load s+1 beats s+4 when bytes are free


def test_compare_runs_the_family_beside_cyclic_mds_under_the_same_links():
    from gradcode.experiments import compare, load_config

    config = load_config(
        None,
        schemes=["naive", "cyclic-mds", "comm-cyclic:m=2"],
        n=5,
        s=1,
        dataset="gaussian",
        dataset_params={"rows": 300, "d": 8},
        rounds=3,
        link="rate=1e6;spread=0.5",
    )
    c = compare(config)
    naive = c.series("naive", "train_loss")
    assert np.allclose(c.series("comm-cyclic:m=2", "train_loss"), naive, rtol=0, atol=1e-12)
    assert np.allclose(c.series("cyclic-mds", "train_loss"), naive, rtol=0, atol=1e-12)
