"""The binary exact code: 0/1 B, 0/1 decoding vectors, exact over every survivor set."""

import math

import numpy as np
import pytest

import gradcode as gc
from gradcode.codes.binary import BinaryDecoder, binary, group_sizes
from gradcode.simulate import ready_times


def all_masks(n: int) -> np.ndarray:
    """Every subset of n workers as a row of a (2^n, n) boolean matrix."""
    return ((np.arange(2**n)[:, None] >> np.arange(n)) & 1).astype(bool)


def straggler_masks(n: int, s: int, sets: int, rng: np.random.Generator) -> np.ndarray:
    """`sets` uniformly random sets of exactly s stragglers, as survivor masks."""
    stragglers = np.argsort(rng.random((sets, n)), axis=1)[:, :s]
    masks = np.ones((sets, n), dtype=bool)
    np.put_along_axis(masks, stragglers, False, axis=1)
    return masks


def check_exact(code: gc.GradientCode, A: np.ndarray, masks: np.ndarray) -> None:
    """0/1 decoding vectors, zero outside the survivors, one per group, aᵀB = 1ᵀ exactly."""
    assert np.all((A == 0) | (A == 1))
    assert not np.any(A[~masks])
    assert np.all(A.sum(axis=1) == code.decoder.n_groups)
    assert np.array_equal(A @ code.B, np.ones((len(A), code.k)))  # exact in float64


CASES = [(n, s) for n in range(1, 17) for s in range(n)]


@pytest.mark.parametrize(("n", "s"), CASES)
def test_binary_structure_and_load(n, s):
    code = gc.make_code("binary", n, s)
    assert (code.n, code.s, code.k, code.exact) == (n, s, n, True)
    assert set(np.unique(code.B)) <= {0.0, 1.0}
    # every partition held by at least s+1 workers: no s stragglers can lose it
    assert code.B.sum(axis=0).min() >= s + 1
    groups = n // (s + 1)
    data = code.size_of / code.k  # fraction of the data in each partition
    assert math.isclose(data.sum(), 1.0)
    held = code.B @ data  # fraction of the data each worker holds
    np.testing.assert_allclose(held, 1.0 / groups, rtol=1e-12)
    work = np.array([code.work(i) for i in range(n)])  # in average partitions; bound: s+1
    np.testing.assert_allclose(work, n / groups, rtol=1e-12)
    assert work.max() < 2 * (s + 1)  # within twice the lower bound, always
    if n % (s + 1) == 0:  # fractional repetition, exactly, at the lower bound
        frc = gc.make_code("frc", n, s)
        assert np.array_equal(code.B, frc.B) and code.sizes is None
        np.testing.assert_allclose(work, s + 1, rtol=1e-12)


@pytest.mark.parametrize("n", range(1, 17))
def test_exact_over_every_survivor_set(n):
    """Every s < n, every set of exactly n-s survivors (the minimal sets), and every larger set:
    ready, decoded to a 0/1 a with aᵀB = 1ᵀ exactly. Smaller sets: ready exactly when every
    group has a survivor (what the construction promises), and then exact too."""
    masks = all_masks(n)
    count = masks.sum(axis=1)
    for s in range(n):
        code = gc.make_code("binary", n, s)
        decoder = code.decoder
        ready = decoder.ready_many(masks)
        assert ready[count >= n - s].all()
        hit = np.stack([masks[:, decoder.group == g].any(axis=1) for g in range(decoder.n_groups)])
        assert np.array_equal(ready, hit.all(axis=0))
        check_exact(code, decoder.solve_many(masks[ready]), masks[ready])


@pytest.mark.parametrize("n", range(1, 11))
def test_decode_path_agrees_over_every_set(n):
    """`code.decode` / `can_decode` (one mask at a time, residual-checked) on every subset."""
    masks = all_masks(n)
    rng = np.random.default_rng(n)
    for s in rng.choice(n, size=min(n, 3), replace=False):
        code = gc.make_code("binary", n, int(s))
        ready = code.decoder.ready_many(masks)
        A = code.decoder.solve_many(masks[ready])
        for mask, expected in zip(masks, ready, strict=True):
            assert code.can_decode(mask) == expected
        np.testing.assert_array_equal(np.array([code.decode(m) for m in masks[ready]]), A)
        assert all(code.residual(a) == 0.0 for a in A)


@pytest.mark.parametrize("n", [17, 31, 64, 100, 200, 255, 256])
def test_sampled_sets_large_n(n):
    rng = np.random.default_rng(n)
    G = rng.standard_normal((n, 5))
    for s in sorted({1, 7, 16, n // 2, n - 1}):
        code = gc.make_code("binary", n, s)
        masks = straggler_masks(n, s, 200, rng)
        extra = masks | (rng.random(masks.shape) < 0.2)  # supersets decode too
        for M in (masks, extra):
            assert code.decoder.ready_many(M).all()
            A = np.array([code.decode(m) for m in M])
            check_exact(code, A, M)
            full = G.sum(axis=0)
            decoded = A @ (code.B @ G)
            assert np.linalg.norm(decoded - full) <= 1e-13 * np.linalg.norm(full)


def test_float32_messages_lose_only_their_rounding():
    n, s = 256, 16
    code = gc.make_code("binary", n, s)
    rng = np.random.default_rng(7)
    G = rng.standard_normal((code.k, 8))
    m32 = (code.B @ G).astype(np.float32).astype(np.float64)
    full = G.sum(axis=0)
    for mask in straggler_masks(n, s, 50, rng):
        err = np.linalg.norm(code.decode(mask) @ m32 - full) / np.linalg.norm(full)
        assert err <= 1e-6


def test_golden_n5_s1():
    """n=5, s=1: groups {0, 1, 2} and {3, 4}, each holding half the data."""
    code = gc.make_code("binary", 5, 1)
    expected = np.zeros((5, 5))
    expected[:3, :3] = 1
    expected[3:, 3:] = 1
    np.testing.assert_array_equal(code.B, expected)
    assert code.size_of.tolist() == pytest.approx([5 / 6] * 3 + [5 / 4] * 2)
    np.testing.assert_array_equal(code.decode([1, 2, 4]), [0, 1, 0, 0, 1])
    np.testing.assert_array_equal(code.decode([0, 2, 3, 4]), [1, 0, 0, 1, 0])
    assert code.partitions(4) == (3, 4)


def test_group_sizes():
    assert group_sizes(256, 16).tolist() == [18] + [17] * 14
    assert group_sizes(16, 8).tolist() == [16]
    assert group_sizes(10, 0).tolist() == [1] * 10
    assert group_sizes(14, 3).tolist() == [5, 5, 4]


def test_insufficient_sets_are_refused():
    code = gc.make_code("binary", 11, 2)  # groups 0..3, 4..7, 8..10
    lost_group = [0, 1, 2, 3, 8, 9, 10]
    assert code.can_decode(lost_group) is False
    with pytest.raises(ValueError, match="cannot decode <GradientCode binary n=11 s=2>: it needs"):
        code.decode(lost_group)
    with pytest.raises(ValueError, match="one worker from each of the 3 groups"):
        code.decode([])
    a = code.decode([0, 4, 8])  # 3 < n-s survivors, one per group: enough
    np.testing.assert_array_equal(a, np.eye(11)[[0, 4, 8]].sum(axis=0))


@pytest.mark.parametrize(
    ("n", "s", "message"),
    [
        (0, 0, "n must be an integer >= 1, got n=0"),
        (4, 4, "s must satisfy 0 <= s < n, got s=4, n=4"),
        (4, -1, "s must satisfy 0 <= s < n, got s=-1, n=4"),
        (4.0, 1, "n must be an integer >= 1, got n=4.0"),
        (4, True, "s must satisfy 0 <= s < n, got s=True"),
    ],
)
def test_bad_n_or_s(n, s, message):
    with pytest.raises(ValueError, match=message):
        gc.make_code("binary", n, s)
    with pytest.raises(ValueError, match=message):
        binary(n, s, np.random.default_rng(0))


def test_decoder_needs_consecutive_groups():
    with pytest.raises(ValueError, match="runs of consecutive worker ids"):
        BinaryDecoder(np.array([0, 1, 0]), 2)


def test_simulator_readiness_matches_the_exact_loop():
    code = gc.make_code("binary", 13, 3)  # groups of 5, 4, 4
    T = np.random.default_rng(3).exponential(size=(40, 13))
    np.testing.assert_array_equal(ready_times(code, T), ready_times(code, T, exact_loop=True))
