import numpy as np
import pytest

from gradcode import delays as delays_module
from gradcode.delays import (
    DELAYS,
    DelayModel,
    EmpiricalDelay,
    ExponentialDelay,
    FixedStragglers,
    MarkovDelay,
    NoDelay,
    ParetoDelay,
    RandomStragglers,
    SlowdownDelay,
    TraceDelay,
    make_delay,
    parse_delay,
    sample_many,
)

SEEDED = [
    RandomStragglers(count=2, delay=0.5, seed=7),
    ExponentialDelay(mean=0.1, p=0.5, seed=7),
    ExponentialDelay(mean=0.1, shift=0.02, seed=7),
    SlowdownDelay(fraction=0.3, seed=7),
    ParetoDelay(alpha=1.5, scale=0.01, seed=7),
    MarkovDelay(fraction=0.3, duration=3, delay=0.1, seed=7),
    EmpiricalDelay(values=(0.1, 0.2, 0.5), seed=7),
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
    assert parse_delay("exponential:mean=0.02;shift=0.01", seed=1) == ExponentialDelay(
        mean=0.02, shift=0.01, seed=1
    )
    assert parse_delay("bimodal:fraction=0.1", seed=2) == SlowdownDelay(fraction=0.1, seed=2)
    assert parse_delay("pareto:alpha=1.5;scale=0.01", seed=3) == ParetoDelay(
        alpha=1.5, scale=0.01, seed=3
    )
    assert parse_delay("markov:fraction=0.1;duration=20;factor=5", seed=0) == MarkovDelay(
        fraction=0.1, duration=20, factor=5, seed=0
    )


def test_parse_and_make_errors():
    with pytest.raises(
        ValueError,
        match="unknown delay 'slow'; valid delays: bimodal, empirical, exponential, fixed",
    ):
        parse_delay("slow:fraction=0.1")
    with pytest.raises(
        ValueError, match="unknown parameter.* workers .*valid parameters: mean, p, seed"
    ):
        make_delay("exponential", mean=0.1, seed=0, workers=1)
    with pytest.raises(ValueError, match="valid parameters: \\(none\\)"):
        parse_delay("none:delay=1")
    with pytest.raises(
        ValueError, match=r"delay 'exponential' needs parameter\(s\) seed; valid parameters: mean"
    ):
        parse_delay("exponential:mean=0.1")
    with pytest.raises(ValueError, match="bad value 'abc' in delay spec"):
        parse_delay("fixed:delay=abc")
    with pytest.raises(ValueError, match="bad item 'delay' in delay spec"):
        parse_delay("fixed:delay")
    with pytest.raises(ValueError, match="parameter 'delay' given twice"):
        parse_delay("fixed:delay=1;delay=2")
    assert set(DELAYS) == {
        "none", "fixed", "random", "exponential", "pareto", "slowdown", "bimodal", "markov",
        "empirical", "trace",
    }  # fmt: skip
    assert DELAYS["bimodal"] is DELAYS["slowdown"]


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
    with pytest.raises(ValueError, match=r"rounds must be a 1-D sequence of integers >= 0"):
        NoDelay().sample_many([0, -1], 3)
    with pytest.raises(ValueError, match=r"alpha must be a finite number > 0, got alpha=0"):
        ParetoDelay(alpha=0, seed=0)
    with pytest.raises(
        ValueError, match=r"duration must be a finite number >= 1/\(1-fraction\) = 1.25"
    ):
        MarkovDelay(fraction=0.2, duration=1.1, seed=0)
    with pytest.raises(ValueError, match=r"fraction must be < 1, got fraction=1"):
        MarkovDelay(fraction=1, duration=5, seed=0)


ALL = [NoDelay(), FixedStragglers(workers=(1, 4), delay=0.1, factor=2.0), *SEEDED]


@pytest.mark.parametrize("model", ALL, ids=lambda m: type(m).__name__)
def test_sample_many_equals_per_round_samples(model):
    rounds = [3, 0, 7, 7, 12]
    extra, factor = model.sample_many(rounds, 6)
    assert extra.shape == factor.shape == (5, 6)
    for r, t in enumerate(rounds):
        _same((extra[r], factor[r]), model.sample(t, 6))
    _same(sample_many(model, range(20, 26), 6), model.sample_many(np.arange(20, 26), 6))
    assert model.sample_many([], 6)[0].shape == (0, 6)


def test_sample_many_falls_back_for_foreign_models():
    class Linear(DelayModel):  # a user's model declaring only sample()
        def sample(self, round, n):
            return np.full(n, round * 0.1), np.ones(n)

    extra, factor = sample_many(Linear(), range(3), 2)
    np.testing.assert_allclose(extra, [[0, 0], [0.1, 0.1], [0.2, 0.2]])


def _legacy(model, t, n):
    """The per-round formulas the runtime used before the batch sampler existed."""
    rng = lambda q: np.random.default_rng([model.seed, t, q])  # noqa: E731
    if isinstance(model, RandomStragglers):
        slow = np.argsort(rng(0).random(n), kind="stable")[: model.count]
        extra, factor = np.zeros(n), np.ones(n)
        extra[slow], factor[slow] = model.delay, model.factor
        return extra, factor
    if isinstance(model, ExponentialDelay):
        hit = rng(0).random(n) < model.p
        return np.where(hit, rng(1).exponential(model.mean, n), 0.0), np.ones(n)
    hit = rng(0).random(n) < model.fraction
    slow = rng(1).uniform(model.factor_low, model.factor_high, n)
    return np.zeros(n), np.where(hit, slow, 1.0)


@pytest.mark.parametrize(
    "model",
    [
        RandomStragglers(count=3, delay=0.5, factor=2.0, seed=5),
        ExponentialDelay(mean=0.1, p=0.5, seed=5),
        ExponentialDelay(mean=0.1, seed=5),
        SlowdownDelay(fraction=0.3, seed=5),
        SlowdownDelay(fraction=1.0, seed=5),
    ],
    ids=repr,
)
def test_draws_are_unchanged_from_the_per_round_formulas(model):
    extra, factor = model.sample_many(range(10), 9)
    for t in range(10):
        _same((extra[t], factor[t]), _legacy(model, t, 9))


def test_pareto_tail():
    model = ParetoDelay(alpha=2.0, scale=0.01, seed=3)
    extra, factor = model.sample_many(range(200), 100)
    assert (factor == 1).all() and extra.min() >= 0
    for x, rel in ((1.0, 0.05), (3.0, 0.1), (9.0, 0.3)):  # P(extra > scale x) = (1 + x)^-alpha
        assert (extra > 0.01 * x).mean() == pytest.approx((1 + x) ** -2.0, rel=rel)
    assert np.median(extra) == pytest.approx(0.01 * (2**0.5 - 1), rel=0.05)


def test_markov_chain_statistics_and_purity():
    model = MarkovDelay(fraction=0.2, duration=8, factor=4.0, seed=1)
    assert model.p_exit == pytest.approx(1 / 8) and model.p_enter == pytest.approx(1 / 32)
    slow = model.states(range(4000), 50)
    assert slow.mean() == pytest.approx(0.2, abs=0.01)
    stay = (slow[1:] & slow[:-1]).sum() / slow[:-1].sum()
    assert stay == pytest.approx(1 - 1 / 8, abs=0.01)  # slow spells last 8 rounds on average
    extra, factor = model.sample_many(range(4000), 50)
    np.testing.assert_array_equal(factor, np.where(slow, 4.0, 1.0))
    assert not extra.any()
    # a pure function of (seed, round, worker): no cache, any order, any n
    delays_module._MARKOV_CACHE.clear()
    for t in (3999, 17, 2500, 0, 18):
        np.testing.assert_array_equal(model.states([t], 8)[0], slow[t, :8])
    iid = MarkovDelay(fraction=0.3, duration=1 / 0.7, seed=2).states(range(3000), 40)
    assert (iid[1:] & iid[:-1]).sum() / iid[:-1].sum() == pytest.approx(0.3, abs=0.02)


def _trace(tmp_path, text):
    path = tmp_path / "workers.csv"
    path.write_text(text)
    return str(path)


def test_trace_replays_train_workers_csv(tmp_path):
    path = _trace(
        tmp_path,
        "round,worker,arrival_s,compute_s,used\n"
        "0,0,0.5,0.1,1\n0,1,,,0\n0,2,0.25,0.05,1\n"
        "1,0,0.2,0.1,1\n1,1,0.3,0.1,1\n1,2,0.4,0.1,0\n",
    )
    model = TraceDelay(path=path)
    assert (model.column, model.rounds, model.n) == ("arrival_s", 2, 3)
    extra, factor = model.sample_many(range(4), 3)  # round t replays trace round t mod 2
    np.testing.assert_array_equal(extra[0], [0.5, np.inf, 0.25])
    np.testing.assert_array_equal(extra[3], [0.2, 0.3, 0.4])
    assert (factor == 0).all()  # the recorded time is the whole reply time
    _same(model.sample(2, 2), (extra[0][:2], factor[0][:2]))
    delays = parse_delay(f"trace:path={path};minus=compute_s;missing=1.5")
    extra, factor = delays.sample_many([0, 1], 3)
    np.testing.assert_allclose(extra, [[0.4, 1.5, 0.2], [0.1, 0.2, 0.3]])
    assert (factor == 1).all()
    compute = parse_delay(f"trace:path={path};column=compute_s")
    assert compute.sample(1, 3)[0].tolist() == [0.1] * 3
    with pytest.raises(ValueError, match="has 3 workers, cannot replay n=4"):
        model.sample(0, 4)


def test_trace_errors(tmp_path):
    with pytest.raises(ValueError, match="trace file .*nope.csv does not exist"):
        TraceDelay(path=str(tmp_path / "nope.csv"))
    with pytest.raises(ValueError, match="has no time column: give column=NAME"):
        TraceDelay(path=_trace(tmp_path, "round,worker,x\n0,0,1\n"))
    with pytest.raises(ValueError, match="needs columns round, worker and a time"):
        TraceDelay(path=_trace(tmp_path, "worker,time\n0,1\n"))
    with pytest.raises(ValueError, match="has no column 'wall'"):
        TraceDelay(path=_trace(tmp_path, "round,worker,time\n0,0,1\n"), column="wall")
    with pytest.raises(ValueError, match="negative times"):
        TraceDelay(path=_trace(tmp_path, "round,worker,time\n0,0,-1\n"))


def test_empirical_resamples_values_from_its_own_stream():
    model = EmpiricalDelay(values=(0.001, 0.002, 0.01), seed=1)
    extra, factor = model.sample_many(range(300), 20)
    assert set(np.unique(extra)) == {0.001, 0.002, 0.01} and (factor == 1).all()
    assert (extra == 0.01).mean() == pytest.approx(1 / 3, abs=0.02)
    hits = SlowdownDelay(fraction=0.5, seed=1).sample_many(range(300), 20)[1] > 1
    assert abs(np.corrcoef(hits.ravel(), extra.ravel())[0, 1]) < 0.05  # streams differ
    assert parse_delay("empirical:values=0.5", seed=3) == EmpiricalDelay(values=(0.5,), seed=3)
    with pytest.raises(ValueError, match="values must be finite numbers >= 0"):
        EmpiricalDelay(values=(), seed=0)


def test_slowdown_base_is_slowed_with_the_same_factor():
    from gradcode.delays import SlowdownDelay

    extra, factor = SlowdownDelay(fraction=0.3, base=0.02, seed=4).sample(7, 50)
    assert np.allclose(extra, 0.02 * factor)
    assert np.any(factor > 1) and np.any(factor == 1)
    assert np.array_equal(factor, SlowdownDelay(fraction=0.3, seed=4).sample(7, 50)[1])
