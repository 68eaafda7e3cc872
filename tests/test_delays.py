import numpy as np
import pytest

from gradcode.delays import (
    DELAYS,
    ExponentialDelay,
    FixedStragglers,
    NoDelay,
    RandomStragglers,
    SlowdownDelay,
    make_delay,
    parse_delay,
)

SEEDED = [
    RandomStragglers(count=2, delay=0.5, seed=7),
    ExponentialDelay(mean=0.1, p=0.5, seed=7),
    SlowdownDelay(fraction=0.3, seed=7),
]


def _same(a, b):
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_no_delay_and_fixed_stragglers():
    extra, factor = NoDelay().sample(3, 4)
    assert extra.tolist() == [0, 0, 0, 0] and factor.tolist() == [1, 1, 1, 1]
    model = FixedStragglers(workers=(3, 1), delay=0.2, factor=4.0)
    assert model.workers == (1, 3)
    for t in range(3):
        extra, factor = model.sample(t, 5)
        assert extra.tolist() == [0, 0.2, 0, 0.2, 0] and factor.tolist() == [1, 4, 1, 4, 1]
    assert FixedStragglers(workers=2).workers == (2,)


@pytest.mark.parametrize("model", SEEDED, ids=lambda m: type(m).__name__)
def test_draws_do_not_depend_on_call_order_or_instance(model):
    forward = [model.sample(t, 8) for t in range(6)]
    backward = [model.sample(t, 8) for t in reversed(range(6))][::-1]
    rebuilt = type(model)(**model.__dict__)
    for t in range(6):
        _same(forward[t], backward[t])
        _same(forward[t], rebuilt.sample(t, 8))
    assert any(not np.array_equal(forward[0][i], forward[1][i]) for i in (0, 1))
    other = type(model)(**{**model.__dict__, "seed": 8})
    assert any(not np.array_equal(forward[0][i], other.sample(0, 8)[i]) for i in (0, 1))


@pytest.mark.parametrize("model", SEEDED[1:], ids=lambda m: type(m).__name__)
def test_worker_draw_does_not_depend_on_n(model):
    for t in range(5):
        small, large = model.sample(t, 5), model.sample(t, 9)
        _same(small, (large[0][:5], large[1][:5]))


def test_random_stragglers_exactly_count_each_round():
    model = RandomStragglers(count=2, delay=0.5, factor=3.0, seed=0)
    chosen = set()
    for t in range(30):
        extra, factor = model.sample(t, 6)
        slow = np.flatnonzero(extra)
        assert len(slow) == 2 and extra[slow].tolist() == [0.5, 0.5]
        assert np.array_equal(np.flatnonzero(factor > 1), slow)
        chosen.add(tuple(slow))
    assert len(chosen) > 5


def test_exponential_statistics():
    model = ExponentialDelay(mean=0.2, p=0.25, seed=1)
    extra = np.concatenate([model.sample(t, 100)[0] for t in range(100)])
    hit = extra > 0
    assert hit.mean() == pytest.approx(0.25, abs=0.02)
    assert extra[hit].mean() == pytest.approx(0.2, rel=0.05)
    assert not ExponentialDelay(mean=0.2, p=0.0, seed=1).sample(0, 10)[0].any()
    assert (model.sample(0, 5)[1] == 1).all()


def test_slowdown_statistics():
    model = SlowdownDelay(fraction=0.2, factor_low=3.0, factor_high=8.0, seed=2)
    factor = np.concatenate([model.sample(t, 100)[1] for t in range(100)])
    slow = factor > 1
    assert slow.mean() == pytest.approx(0.2, abs=0.02)
    assert factor[slow].min() >= 3.0 and factor[slow].max() <= 8.0
    assert factor[slow].mean() == pytest.approx(5.5, abs=0.15)
    assert not model.sample(0, 5)[0].any()


def test_parse_delay_examples():
    assert parse_delay("none") == NoDelay()
    assert parse_delay("fixed:workers=0,1;delay=0.2") == FixedStragglers(workers=(0, 1), delay=0.2)
    assert parse_delay(" fixed : workers = 3 ; factor = 5 ") == FixedStragglers(
        workers=(3,), factor=5
    )
    assert parse_delay("exponential:mean=0.05;p=0.2;seed=0") == ExponentialDelay(
        mean=0.05, p=0.2, seed=0
    )
    assert parse_delay("slowdown:fraction=0.1", seed=4) == SlowdownDelay(fraction=0.1, seed=4)
    assert parse_delay("random:count=2;seed=1", seed=4) == RandomStragglers(count=2, seed=1)
    assert parse_delay("fixed:workers=1", seed=4) == FixedStragglers(workers=(1,))
    assert parse_delay("exponential:mean=1e-3;seed=0").mean == 1e-3


def test_parse_and_make_errors():
    with pytest.raises(
        ValueError, match="unknown delay 'slow'; valid delays: exponential, fixed, none"
    ):
        parse_delay("slow:fraction=0.1")
    with pytest.raises(
        ValueError, match="unknown parameter.* workers .*valid parameters: mean, p, seed"
    ):
        make_delay("exponential", mean=0.1, seed=0, workers=1)
    with pytest.raises(ValueError, match="valid parameters: \\(none\\)"):
        parse_delay("none:delay=1")
    with pytest.raises(ValueError, match="delay 'exponential' needs parameter.*: seed"):
        parse_delay("exponential:mean=0.1")
    with pytest.raises(ValueError, match="bad value 'abc' in delay spec"):
        parse_delay("fixed:delay=abc")
    with pytest.raises(ValueError, match="bad item 'delay' in delay spec"):
        parse_delay("fixed:delay")
    with pytest.raises(ValueError, match="parameter 'delay' given twice"):
        parse_delay("fixed:delay=1;delay=2")
    assert set(DELAYS) == {"none", "fixed", "random", "exponential", "slowdown"}


def test_validation_errors():
    with pytest.raises(ValueError, match=r"straggler worker id\(s\) \[5\] out of range for n=4"):
        FixedStragglers(workers=(1, 5)).sample(0, 4)
    with pytest.raises(ValueError, match="workers must be integer ids >= 0"):
        FixedStragglers(workers=(-1,))
    with pytest.raises(ValueError, match=r"delay must be a finite number >= 0.0, got delay=-1"):
        FixedStragglers(delay=-1)
    with pytest.raises(ValueError, match=r"factor must be a finite number >= 1.0, got factor=0.5"):
        FixedStragglers(factor=0.5)
    with pytest.raises(ValueError, match=r"p must be a finite number in \[0.0, 1.0\], got p=2"):
        ExponentialDelay(mean=0.1, p=2, seed=0)
    with pytest.raises(ValueError, match=r"factor_high must be a finite number >= 3.0"):
        SlowdownDelay(fraction=0.1, factor_high=2.0, seed=0)
    with pytest.raises(ValueError, match=r"seed must be an integer >= 0, got seed=-3"):
        SlowdownDelay(fraction=0.1, seed=-3)
    with pytest.raises(ValueError, match=r"count=3 stragglers exceeds n=2 workers"):
        RandomStragglers(count=3, seed=0).sample(0, 2)
    with pytest.raises(ValueError, match=r"round must be an integer >= 0, got round=-1"):
        NoDelay().sample(-1, 3)
    with pytest.raises(ValueError, match=r"n must be an integer >= 1, got n=0"):
        NoDelay().sample(0, 0)
