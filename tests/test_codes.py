"""Exactness, structure, golden cases and error messages of the gradient codes."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradcode as gc
from gradcode.codes import STRAGGLER_FREE, Decoder, DecodingError, min_norm_lstsq

EXACT = ["naive", "frc", "cyclic", "cyclic-mds"]


def valid_s(name: str, n: int) -> list[int]:
    if name == "naive":
        return [0]
    if name == "frc":
        return [s for s in range(n) if n % (s + 1) == 0]
    return list(range(n))


@st.composite
def code_and_survivors(draw, names=tuple(EXACT) + ("ignore",), max_n=40):
    name = draw(st.sampled_from(names))
    n = draw(st.integers(1, max_n))
    s = draw(st.sampled_from(valid_s(name, n)))
    code = gc.make_code(name, n, s, seed=draw(st.integers(0, 2**32 - 1)))
    extra = draw(st.integers(0, code.s))  # more than n-s survivors is allowed
    F = draw(st.permutations(range(n)))[: n - code.s + extra]
    return code, sorted(F), draw(st.integers(0, 2**32 - 1))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(code_and_survivors(names=tuple(EXACT)))
def test_exact_decode_recovers_full_gradient(case):
    code, F, seed = case
    G = np.random.default_rng(seed).standard_normal((code.k, 7))  # per-partition gradients
    messages = code.B @ G  # worker i sends sum_j B[i, j] G_j
    try:
        a = code.decode(F)
    except gc.DecodingError:  # a refusal is right only if no float64 solve meets the tolerance
        reference = gc.codes.min_norm_lstsq(code.B, code.mask(F), refine=2)
        assert code.residual(reference) > code.tol
        return
    assert np.all(a[np.setdiff1d(np.arange(code.n), F)] == 0)
    full = G.sum(axis=0)
    assert np.linalg.norm(a @ messages - full) <= 1e-9 * np.linalg.norm(full)


@settings(max_examples=200, deadline=None)
@given(code_and_survivors())
def test_structure_and_load(case):
    code, _, _ = case
    assert code.B.shape == (code.n, code.k)
    assert code.B.dtype == np.float64
    for i in range(code.n):
        support = code.partitions(i)
        assert support == tuple(np.flatnonzero(code.B[i]))
        if code.name in ("frc", "cyclic", "cyclic-mds"):
            assert len(support) == code.s + 1  # the paper's lower bound, met with equality
    assert code.exact == (code.name != "ignore")


@settings(max_examples=150, deadline=None)
@given(code_and_survivors(names=("cyclic", "cyclic-mds", "frc"), max_n=24))
def test_decode_is_the_minimum_norm_solution(case):
    code, F, _ = case
    a, ref = code.decode(F), min_norm_lstsq(code.B, code.mask(F))
    assert code.residual(a) <= 1e-9
    if code.residual(ref) <= 1e-9:  # the SVD reference is itself a solution: a is no longer
        assert np.linalg.norm(a) <= np.linalg.norm(ref) * (1 + 1e-9)


@settings(max_examples=100, deadline=None)
@given(code_and_survivors(names=("cyclic", "cyclic-mds"), max_n=30))
def test_fewer_than_n_minus_s_cannot_decode(case):
    code, F, _ = case
    if code.s == 0:
        return
    few = F[: code.n - code.s - 1]
    assert not code.can_decode(few)
    with pytest.raises(ValueError, match="cannot decode"):
        code.decode(few)


def test_paper_example_n3_s1():
    """Tandon et al. Sec. 2: B = [[1/2, 1, 0], [0, 1, -1], [1/2, 0, 1]] and its decoding rows A."""
    code = gc.GradientCode.from_matrix([[0.5, 1, 0], [0, 1, -1], [0.5, 0, 1]], s=1, name="paper")
    assert np.allclose(code.decode([1, 2]), [0, 1, 2])
    assert np.allclose(code.decode([0, 2]), [1, 0, 1])
    assert np.allclose(code.decode([0, 1]), [2, -1, 0])
    assert np.allclose(code.decode([0, 1, 2]) @ code.B, 1)


def test_frc_golden_and_early_readiness():
    code = gc.make_code("frc", 6, 2)
    assert code.B.tolist() == [[1.0] * 3 + [0.0] * 3] * 3 + [[0.0] * 3 + [1.0] * 3] * 3
    assert code.can_decode([0, 5])  # one per group: ready before n-s = 4 replies
    assert not code.can_decode([0, 1, 2])  # group 2 missing
    assert code.decode([0, 5]).tolist() == [1, 0, 0, 0, 0, 1]
    assert code.decode([0, 1, 3]).tolist() == [0.5, 0.5, 0, 1, 0, 0]  # min norm spreads weight


def test_uncoded_golden():
    naive = gc.make_code("naive", 4)
    assert naive.B.tolist() == np.eye(4).tolist()
    assert not naive.can_decode([0, 1, 2])
    assert naive.decode([3, 1, 0, 2]).tolist() == [1, 1, 1, 1]
    ignore = gc.make_code("ignore", 5, 1)
    assert not ignore.exact and ignore.can_decode([0, 1, 2, 3])
    assert ignore.decode([0, 1, 3, 4]).tolist() == [1.25, 1.25, 0, 1.25, 1.25]
    assert ignore.decode(range(5)).tolist() == [1.0] * 5


def test_cyclic_is_seeded_and_follows_algorithm_1():
    a, b = gc.make_code("cyclic", 9, 3, seed=7), gc.make_code("cyclic", 9, 3, seed=7)
    assert np.array_equal(a.B, b.B)
    assert not np.array_equal(a.B, gc.make_code("cyclic", 9, 3, seed=8).B)
    assert np.all(np.diag(a.B) == 1)  # B[i, i] = 1 in Algorithm 1
    assert a.partitions(8) == (0, 1, 2, 8)  # cyclic support i .. i+s mod n
    assert np.linalg.matrix_rank(a.B) == 9 - 3


def test_cyclic_mds_is_deterministic_real_and_circulant():
    code = gc.make_code("cyclic-mds", 11, 4)
    assert code.notes == ""
    g = code.B[0, :5]
    for i in range(11):
        assert np.allclose(np.roll(code.B[0], i), code.B[i])
    assert np.isclose(g.sum(), 1.0)  # normalised: all n replies decode with a = 1
    assert np.allclose(code.decode(range(11)), 1)
    assert np.linalg.matrix_rank(code.B) == 11 - 4


def test_cyclic_mds_with_n_minus_s_even_tolerates_one_more():
    code = gc.make_code("cyclic-mds", 10, 2)
    assert code.s == 3 and code.load == 4
    assert "n-s even" in code.notes


def test_cached_decode_is_read_only_and_reused():
    code = gc.make_code("cyclic", 10, 2)
    a = code.decode([0, 1, 2, 3, 4, 5, 6, 7])
    assert code.decode(np.arange(8)) is a
    with pytest.raises(ValueError):
        a[0] = 1.0
    mask = np.zeros(10, dtype=bool)
    mask[:8] = True
    assert code.decode(mask) is a  # a boolean mask is accepted too


def test_a_decode_beyond_tolerance_raises_instead_of_returning_a_wrong_gradient():
    code = gc.make_code("cyclic", 12, 2, tol=1e-300)  # no float64 decode reaches this
    with pytest.raises(DecodingError, match="residual max\\|aᵀB - 1\\| = .* exceeds tol=1e-300"):
        code.decode(range(10))


def test_a_lost_structured_solve_falls_back_to_the_reference():
    from dataclasses import replace

    class Broken(Decoder):  # a structured solve that lost all precision
        requirement = "any 4"

        def ready(self, mask):
            return mask.sum() >= 4

        def solve(self, mask):
            return mask * 123.0

    code = replace(gc.make_code("cyclic", 6, 2), make_decoder=lambda c: Broken())
    a = code.decode([0, 2, 3, 5])
    assert code.residual(a) < 1e-12 and a[1] == a[4] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("cyclic", 5, 5), "s must satisfy 0 <= s < n, got s=5, n=5"),
        (("cyclic", 5, -1), "s must satisfy 0 <= s < n, got s=-1, n=5"),
        (("frc", 0, 0), "n must be an integer >= 1, got n=0"),
        (("frc", 2.5, 0), "n must be an integer >= 1, got n=2.5"),
        (("frc", 10, 2), "frc needs s\\+1 to divide n, got n=10, s=2"),
        (("naive", 4, 1), "naive tolerates no stragglers: s must be 0, got s=1"),
        (
            ("bogus", 4, 1),
            "unknown scheme 'bogus'; valid schemes: adaptive, approx-frc, async, backup, bibd, "
            "binary, budget, comm-cyclic, cyclic, cyclic-mds, expander, frc, hetero, ignore, "
            "naive, partial-cyclic, partial-frc, sgc, stream",
        ),
    ],
)
def test_construction_errors(args, message):
    with pytest.raises(ValueError, match=message):
        gc.make_code(*args)


def test_bad_tol():
    with pytest.raises(ValueError, match="tol must be a number > 0, got tol=0"):
        gc.make_code("cyclic", 4, 1, tol=0)


@pytest.mark.parametrize(
    ("survivors", "message"),
    [
        (
            [0, 1, 2],
            "survivors \\[0, 1, 2\\] cannot decode <GradientCode cyclic n=6 s=2>: it needs any 4",
        ),
        ([0, 1, 2, 6], "survivor id 6 is out of range: worker ids are 0..5"),
        ([0, -1, 2, 3], "survivor id -1 is out of range"),
        ([0, 1, 1, 2, 3], "duplicate survivor id 1"),
        ([0.5, 1, 2, 3], "survivors must be worker ids"),
        (np.ones(5, dtype=bool), "a survivor mask must have shape \\(6,\\), got shape \\(5,\\)"),
    ],
)
def test_decode_errors(survivors, message):
    code = gc.make_code("cyclic", 6, 2)
    with pytest.raises(ValueError, match=message):
        code.decode(survivors)
    if "cannot decode" in message:
        assert code.can_decode(survivors) is False  # too few is an answer, not an error
    else:
        with pytest.raises(ValueError, match=message):
            code.can_decode(survivors)


def test_frc_error_names_groups():
    with pytest.raises(ValueError, match="one worker from each of the 2 groups"):
        gc.make_code("frc", 4, 1).decode([0, 1])


def test_partitions_bad_worker():
    with pytest.raises(ValueError, match="worker id must be an integer in 0..3, got 4"):
        gc.make_code("cyclic", 4, 1).partitions(4)


def test_repr_and_registry():
    assert repr(gc.make_code("cyclic", 12, 2)) == "<GradientCode cyclic n=12 s=2>"
    assert {"naive", "ignore", "frc", "cyclic", "cyclic-mds"} <= set(gc.SCHEMES)
    for name in gc.SCHEMES:  # every scheme builds through make_code
        n, params = {"hetero": (12, {"speeds": (1, 2) * 6}), "bibd": (13, {})}.get(name, (12, {}))
        code = gc.make_code(name, n, 0 if name in STRAGGLER_FREE else 2, seed=0, **params)
        assert code.n == n and code.name.partition(":")[0] == name
