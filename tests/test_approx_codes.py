"""Approximate codes (expander, approx-frc, bibd, sgc): optimal decoding against a brute-force
least-squares reference, structure, errors, reproducibility and the papers' bounds."""

import math

import numpy as np
import pytest

import gradcode as gc
from gradcode.codes import approx
from gradcode.codes.bibd import designs_with_load, supported
from gradcode.codes.bounds import bound_kind, error_bound, second_singular_value
from gradcode.simulate import ready_rule, ready_times

CASES = [
    ("expander:load=1", 7),
    ("expander:load=2", 24),
    ("expander:load=3", 24),
    ("expander:load=5", 40),
    ("expander:load=30", 40),  # complement construction (load > n/2)
    ("approx-frc:load=2", 24),
    ("approx-frc:load=3", 13),  # last group of 1
    ("approx-frc:load=5", 24),  # last group of 4
    ("bibd", 7),
    ("bibd", 9),
    ("bibd", 13),
    ("bibd", 19),
    ("bibd", 25),
    ("sgc:load=2", 10),
    ("sgc:load=2", 24),
    ("sgc:load=3", 40),
]


def reference(B: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Brute force: numpy's min-norm least-squares a over the survivors, zero elsewhere."""
    a = np.zeros(B.shape[0])
    if mask.any():
        a[mask] = np.linalg.lstsq(B[mask].T, np.ones(B.shape[1]), rcond=None)[0]
    return a


def random_mask(n: int, t: int, rng: np.random.Generator) -> np.ndarray:
    mask = np.ones(n, dtype=bool)
    mask[rng.choice(n, t, replace=False)] = False
    return mask


@pytest.mark.parametrize(("spec", "n"), CASES)
def test_decoder_is_the_least_squares_optimum(spec, n):
    rng = np.random.default_rng(n)
    s = n // 4
    code = gc.make_code(spec, n, s, seed=5)
    for t in [0, *rng.integers(0, n + 1, 40)]:  # more and fewer stragglers than s
        mask = random_mask(n, int(t), rng)
        a, ref = code.decoder.solve(mask), reference(code.B, mask)
        assert np.all(a[~mask] == 0)
        assert code.error(a) == pytest.approx(code.error(ref), rel=1e-9, abs=1e-12)
        np.testing.assert_allclose(a, ref, rtol=1e-8, atol=1e-10)  # the min-norm a is unique
        if t <= s:  # the public path: readiness, then the decoder
            assert code.decode(mask) == pytest.approx(a)
        else:
            with pytest.raises(ValueError, match=f"needs at least {n - s} of the n={n}"):
                code.decode(mask)
            assert code.error(code.decode(mask, best_effort=True)) == pytest.approx(
                code.error(a), rel=1e-9, abs=1e-12
            )


@pytest.mark.parametrize("spec", ["expander:load=3", "sgc:load=2"])
def test_sparse_path_for_large_codes(spec, monkeypatch):
    monkeypatch.setattr(approx, "DENSE_UP_TO", 0)  # as for n*k > 65536
    code = gc.make_code(spec, 30, 3, seed=2)
    rng = np.random.default_rng(0)
    for t in (0, 3, 10, 29):
        mask = random_mask(30, t, rng)
        np.testing.assert_allclose(code.decoder.solve(mask), reference(code.B, mask), atol=1e-10)


def test_straggler_side_path_for_an_invertible_b():
    code = gc.make_code("expander:load=3", 24, 0, seed=5)
    assert approx.invert(code.B_sparse) is not None  # the path below is really taken
    assert approx.invert(gc.make_code("sgc:load=2", 24, 0, seed=5).B_sparse) is None  # singular
    rng = np.random.default_rng(1)
    for t in (1, 2, 6, 12):
        mask = random_mask(24, t, rng)
        np.testing.assert_allclose(code.decoder.solve(mask), reference(code.B, mask), atol=1e-10)


def test_minimum_norm_among_many_solutions():
    """A rank-deficient B (sgc: empty and dependent rows): many a are optimal; the decoder must
    return the least-norm one."""
    code = next(
        c
        for c in (gc.make_code("sgc:load=2", 16, 0, seed=seed) for seed in range(100))
        if np.linalg.matrix_rank(c.B) < np.count_nonzero(c.B.any(axis=1))
    )
    rng = np.random.default_rng(0)
    for t in (0, 2, 5):
        mask = random_mask(16, t, rng)
        np.testing.assert_allclose(code.decoder.solve(mask), reference(code.B, mask), atol=1e-10)


def test_golden_small_cases():
    frc = gc.make_code("approx-frc:load=3", 6, 4)
    a = frc.decoder.solve(frc.mask([0, 1]))  # group {3,4,5} lost
    np.testing.assert_allclose(a, [0.5, 0.5, 0, 0, 0, 0])
    assert frc.error(a) == pytest.approx(0.5)
    fano = gc.make_code("bibd", 7, 2)  # projective plane of order 2: r=3, λ=1
    np.testing.assert_array_equal(fano.B @ fano.B.T, 2 * np.eye(7) + 1)
    a = fano.decode([0, 1, 2, 3, 4])  # a = r/(r-λ+λm) = 3/7 on the m=5 survivors
    np.testing.assert_allclose(a, [3 / 7] * 5 + [0, 0])


def test_structure():
    n = 24
    for load in (1, 2, 3, 7, 13, 24):
        e = gc.make_code("expander", n, 1, seed=load, load=load)
        M = e.B > 0
        assert e.k == n and np.all(M.sum(0) == load) and np.all(M.sum(1) == load)
        np.testing.assert_allclose(e.B[M], 1 / load)
        g = gc.make_code("sgc", n, 1, seed=load, load=load)
        assert g.k == n and np.all((g.B > 0).sum(0) == load)
        assert g.load == (g.B > 0).sum(1).max()
    f = gc.make_code("approx-frc:load=5", 23, 2)
    assert [len(f.partitions(i)) for i in (0, 19, 20, 22)] == [5, 5, 3, 3]
    assert "last of 3" in f.notes
    assert not any(c.exact for c in (e, g, f))


@pytest.mark.parametrize(("n", "load"), supported(60))
def test_every_supported_design_is_balanced(n, load):
    code = gc.make_code("bibd", n, 0, load=load)
    N = code.B
    lam = N[0] @ N[1]
    assert np.all(N.sum(1) == load) and code.load == load
    assert len(set(N.sum(0))) == 1  # equal blocks
    np.testing.assert_array_equal(N @ N.T, (load - lam) * np.eye(n) + lam)
    assert 0 < lam < load


def test_bibd_default_load_and_families():
    assert gc.make_code("bibd", 31, 1).load == 6  # PG(2,5) rather than the Paley (31, 15, 7)
    assert gc.make_code("bibd:load=15", 31, 1).load == 15
    assert [d.n for d in designs_with_load(6)] == [25, 31]  # AG(2,5), PG(2,5)
    assert "affine" in gc.make_code("bibd", 25, 1).notes


@pytest.mark.parametrize(
    ("spec", "n", "match"),
    [
        (
            "expander:load=0",
            10,
            "expander: load must be an integer with 1 <= load <= n, got load=0",
        ),
        ("sgc:load=11", 10, "sgc: load must be .* got load=11, n=10"),
        ("approx-frc:load=2.5", 10, "approx-frc: load must be .* got load=2.5"),
        (
            "bibd:load=3",
            10,
            r"no supported block design for n=10, load=3; with load=3: n in \[4, 7\]",
        ),
        (
            "bibd",
            10,
            "no supported block design for n=10, load=None.*7 \\(load 3\\), 9 \\(load 4\\)",
        ),
        ("bibd:load=2.5", 7, "bibd: load must be an integer or None, got load=2.5"),
        ("expander:degree=3", 10, "unknown parameter.*degree.*valid parameters: load"),
    ],
)
def test_bad_input(spec, n, match):
    with pytest.raises(ValueError, match=match):
        gc.make_code(spec, n, 1)


def test_seeded_constructions_are_reproducible():
    for spec in ("expander:load=3", "sgc:load=3"):
        one, two = (gc.make_code(spec, 30, 2, seed=7) for _ in range(2))
        np.testing.assert_array_equal(one.B, two.B)
        assert not np.array_equal(one.B, gc.make_code(spec, 30, 2, seed=8).B)
        assert one.name == spec


def test_simulator_uses_the_kth_arrival_rule():
    code = gc.make_code("expander:load=3", 12, 3, seed=0)
    assert ready_rule(code) is not None
    T = np.random.default_rng(0).exponential(size=(200, 12))
    np.testing.assert_array_equal(ready_times(code, T), ready_times(code, T, exact_loop=True))
    np.testing.assert_array_equal(ready_times(code, T), np.sort(T, axis=1)[:, 8])


# ---- bounds ------------------------------------------------------------------------------------
def random_masks(n: int, t: int, samples: int, rng: np.random.Generator) -> np.ndarray:
    """(samples, n) masks, each with a uniformly random set of exactly t stragglers."""
    stragglers = np.argsort(rng.random((samples, n)), axis=1)[:, :t]
    masks = np.ones((samples, n), dtype=bool)
    np.put_along_axis(masks, stragglers, False, axis=1)
    return masks


def errors(code, masks, optimal: int):
    """Error per set of the papers' fixed decoder u = c·1_F (c making E[uᵀB] = 1ᵀ), and of the
    optimal decoder on the first `optimal` sets."""
    n = code.n
    t = n - int(masks[0].sum())
    c = n / ((n - t) * code.B.sum(axis=0).mean())  # uniform column sums: E(uᵀB)_j = 1
    fixed = ((c * masks @ code.B - 1.0) ** 2).sum(axis=1) / code.k
    opt = np.array([code.error(code.decoder.solve(m)) for m in masks[:optimal]])
    return opt, fixed


def test_expander_worst_case_bound_holds_on_every_set():
    rng = np.random.default_rng(0)
    for load in (2, 3, 4):
        code = gc.make_code("expander", 40, 0, seed=load, load=load)
        assert second_singular_value(code) < 1  # connected: the bound is informative
        for t in (1, 5, 10, 20):
            opt, fixed = errors(code, random_masks(40, t, 2000, rng), 50)
            assert np.all(opt <= fixed[:50] + 1e-12)  # the optimum beats the paper's decoder
            assert fixed.max() <= error_bound(code, t) + 1e-12  # ... which meets the bound
    assert bound_kind(code) == "worst case"


def test_sgc_bound_is_the_paper_decoders_mean():
    """The bound is the exact mean error of the paper's unbiased decoder (hypergeometric
    variance); the optimal decoder is below it on every set."""
    rng = np.random.default_rng(1)
    for load, t in ((2, 4), (3, 10), (4, 16)):
        code = gc.make_code("sgc", 32, 0, seed=load, load=load)
        opt, fixed = errors(code, random_masks(32, t, 20_000, rng), 200)
        se = fixed.std() / math.sqrt(fixed.size)
        assert abs(fixed.mean() - error_bound(code, t)) <= 4 * se
        assert np.all(opt <= fixed[:200] + 1e-12)
        assert opt.mean() <= error_bound(code, t)


def test_approx_frc_expected_error_is_exact():
    rng = np.random.default_rng(2)
    for spec, n, t in (("approx-frc:load=2", 24, 8), ("approx-frc:load=3", 22, 12)):
        code = gc.make_code(spec, n, 0)
        opt = errors(code, random_masks(n, t, 3000, rng), 3000)[0]
        se = opt.std() / math.sqrt(opt.size)
        assert abs(opt.mean() - error_bound(code, t)) <= 4 * se + 1e-12
    assert bound_kind(code) == "expectation"


def test_bibd_error_depends_only_on_the_number_of_stragglers():
    rng = np.random.default_rng(3)
    for n in (13, 25, 31):
        code = gc.make_code("bibd", n, 0)
        for t in (0, 1, n // 3, n - 1):
            opt = errors(code, random_masks(n, t, 50, rng), 50)[0]
            np.testing.assert_allclose(opt, error_bound(code, t), rtol=1e-9, atol=1e-12)


def test_exact_codes_and_bound_errors():
    code = gc.make_code("cyclic-mds", 12, 3)
    assert [error_bound(code, t) for t in (0, 3)] == [0.0, 0.0]
    assert math.isnan(error_bound(code, 4))
    assert bound_kind(code) == "exact up to s"
    approx = gc.make_code("expander", 12, 3)
    assert error_bound(approx, 12) == 1.0 and error_bound(approx, 0) == 0.0
    with pytest.raises(ValueError, match="stragglers must be an integer in 0..n=12, got 13"):
        error_bound(approx, 13)
    with pytest.raises(ValueError, match="no error bound for scheme 'ignore'"):
        error_bound(gc.make_code("ignore", 12, 3), 2)
