"""Byzantine-resilient codes: construction, location, confirmation, flagging (codes and trust)."""

from __future__ import annotations

import numpy as np
import pytest

import gradcode as gc
from gradcode.attacks import ATTACKS, Attack
from gradcode.data import gaussian_mixture
from gradcode.models import full_objective, make_model
from gradcode.runtime import TrainingError
from gradcode.runtime.trust import Trust

D = 40  # message width in these tests: 39 gradient values and the loss
# (scheme, n, s, a): every a up to the code's budget is tried
CODES = [
    ("frc", 12, 1, 1),
    ("frc", 14, 2, 2),
    ("cyclic-mds", 12, 1, 1),
    ("cyclic-mds", 13, 2, 2),
    ("cyclic-mds", 48, 2, 4),
]


def messages(code, rng):
    """Honest messages y = B G of random partition gradients G, and the true sum."""
    G = rng.standard_normal((code.k, D)) * rng.uniform(0.5, 2.0, (code.k, 1))
    return code.B @ G, G.sum(axis=0)


def corrupt(Y, E, attack, rng, t=0):
    """Y with the messages in E corrupted by `attack` (ALIE's spread: the honest messages')."""
    Y = Y.copy()
    spread = Y.std(axis=0)
    for i in E:
        Attack(attack).corrupt(Y[i], np.random.default_rng((7, int(i), t)), spread=spread)
    return Y


def arrivals(code, rng):
    """A random set of exactly s stragglers: the n - s arrived messages."""
    mask = np.ones(code.n, dtype=bool)
    mask[rng.choice(code.n, code.s, replace=False)] = False
    return mask


def by_id(Y):
    return {i: Y[i] for i in range(Y.shape[0])}


def decoded(a, Y):
    """Σ a_i y_i over the messages used (a dropped one may hold NaN: 0 * NaN is NaN)."""
    used = np.flatnonzero(a)
    return a[used] @ Y[used]


def test_budget_a_is_the_load_and_zero_is_todays_code():
    for scheme, n, s, a in CODES:
        code = gc.make_code(scheme, n, s, a=a)
        assert code.a == a and code.load >= s + 2 * a + 1
        assert code.locator is not None
    for scheme, n, s in [("frc", 12, 2), ("cyclic-mds", 12, 1), ("cyclic-mds", 12, 2)]:
        plain, zero = gc.make_code(scheme, n, s), gc.make_code(scheme, n, s, a=0)
        assert np.array_equal(plain.B, zero.B) and zero.locator is None and zero.a == 0
        assert (plain.s, plain.decoder.requirement) == (zero.s, zero.decoder.requirement)


@pytest.mark.parametrize(
    "args, message",
    [
        (("frc", 14, 1, 2), r"frc needs s\+2a\+1=6 to divide n, got n=14, s=1, a=2"),
        (("cyclic-mds", 8, 4, 2), r"needs s \+ 2a < n .* got n=8, s=4"),
        (("cyclic-mds", 8, 1, -1), r"a .* must be an integer >= 0, got a=-1"),
        (("frc", 8, 1, True), r"must be an integer >= 0, got a=True"),
    ],
)
def test_budgets_that_cannot_be_met_are_refused(args, message):
    scheme, n, s, a = args
    with pytest.raises(ValueError, match=message):
        gc.make_code(scheme, n, s, a=a)


def test_the_master_waits_for_enough_messages_to_locate():
    code = gc.make_code("cyclic-mds", 13, 2, a=2)
    mask = np.ones(13, dtype=bool)
    mask[:3] = False  # n - s - 1 arrived: enough to decode when trusted, not to locate
    assert not code.can_decode(mask) and code.locator.inner.can_decode(mask)
    frc = gc.make_code("frc", 12, 1, a=1)  # groups of 4: 3 replies per group
    assert frc.can_decode([0, 1, 2, 4, 5, 6, 8, 9, 10])
    assert not frc.can_decode([0, 1, 4, 5, 6, 8, 9, 10, 11])


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize("scheme, n, s, a", CODES)
def test_every_attack_up_to_the_budget_is_located_and_decoded_exactly(scheme, n, s, a, attack):
    rng = np.random.default_rng([n, s, a, ATTACKS.index(attack)])
    code = gc.make_code(scheme, n, s, a=a)
    trust = Trust(code, D, seed=3)
    for trial in range(6):
        Y, truth = messages(code, rng)
        mask = arrivals(code, rng)
        for e in range(a + 1):
            E = pick_corrupt(code, mask, e, rng)
            Yc = corrupt(Y, E, attack, rng, trial)
            verdict = trust.decide(trial, mask, by_id(Yc), final=True)
            assert verdict is not None and verdict.a is not None, (E, attack)
            assert set(verdict.dropped) == set(E), (E, verdict.dropped)
            assert np.abs(decoded(verdict.a, Yc) - truth).max() <= 1e-9 * np.abs(truth).max()


def pick_corrupt(code, mask, e, rng):
    """e corrupt messages among the arrived: for FRC all in one group (its budget is per group)."""
    arrived = np.flatnonzero(mask)
    if code.name.startswith("frc"):  # the group with the fewest replies
        group = arrived // (code.s + 2 * code.a + 1)
        arrived = arrived[group == np.argmin(np.bincount(group))]
    return rng.choice(arrived, e, replace=False)


@pytest.mark.parametrize(
    "scheme, n, s, a, attack",
    [  # FRC and equal corruptions (sign, constant) in one group: see the colluding test below
        (*code, attack)
        for code in CODES
        for attack in ("sign", "noise", "constant", "bitflip")
        if code[0] != "frc" or attack in ("noise", "bitflip")
    ],
)
def test_one_more_corruption_than_the_budget_is_flagged_not_stepped(scheme, n, s, a, attack):
    rng = np.random.default_rng([n, s, a, 99])
    code = gc.make_code(scheme, n, s, a=a)
    trust = Trust(code, D, seed=5)
    for trial in range(6):
        Y, truth = messages(code, rng)
        mask = arrivals(code, rng)
        if scheme == "frc":  # the stragglers in one group: it has 2a+1 replies, no more
            mask[:] = True
            mask[rng.choice(n // (s + 2 * a + 1)) * (s + 2 * a + 1) + np.arange(s)] = False
        E = pick_corrupt(code, mask, a + 1, rng)
        Yc = corrupt(Y, E, attack, rng, trial)
        if attack == "bitflip":  # the flips change values by 2x at least: make every one count
            Yc[E] = corrupt(Yc, E, "sign", rng)[E]
        verdict = trust.decide(trial, mask, by_id(Yc), final=True)
        if verdict.a is not None:  # never a wrong gradient: a decode must then be exact
            assert np.abs(decoded(verdict.a, Yc) - truth).max() <= 1e-9 * np.abs(truth).max()
        assert verdict.a is None, f"{a + 1} corruptions {E} were not flagged: {verdict}"
        # while more messages may come, the master waits instead of flagging
        assert trust.decide(trial, mask, by_id(Yc), final=False) is None


def test_colluding_majority_in_a_repetition_group_cannot_be_detected():
    """Documented limit: a+1 colluders in one FRC group with 2a+1 arrivals out-vote the honest."""
    code = gc.make_code("frc", 12, 1, a=1)
    rng = np.random.default_rng(0)
    Y, truth = messages(code, rng)
    Y[[0, 1]] = rng.standard_normal(D)  # the same wrong vector from two of group 0's members
    mask = np.ones(12, dtype=bool)
    mask[3] = False
    verdict = Trust(code, D, seed=0).decide(0, mask, by_id(Y), final=True)
    assert verdict.dropped == (2,)  # the honest member is out-voted: why a counts per group


def test_non_finite_messages_are_dropped_as_corrupt():
    code = gc.make_code("cyclic-mds", 12, 1, a=1)
    rng = np.random.default_rng(1)
    Y, truth = messages(code, rng)
    mask = np.ones(12, dtype=bool)
    Y[4, 3], Y[9, 0] = np.nan, np.inf  # two non-finite: erasures, located for free
    verdict = Trust(code, D, seed=0).decide(0, mask, by_id(Y), final=True)
    assert verdict.dropped == (4, 9)
    assert np.abs(decoded(verdict.a, Y) - truth).max() <= 1e-9 * np.abs(truth).max()


def test_robust_decode_at_scale_uses_the_spectral_locator():
    code = gc.make_code("cyclic-mds", 200, 3, a=4)
    rng = np.random.default_rng(2)
    Y, truth = messages(code, rng)
    mask = arrivals(code, rng)
    E = rng.choice(np.flatnonzero(mask), 4, replace=False)
    Yc = corrupt(Y, E, "noise", rng)
    verdict = Trust(code, D, seed=1).decide(0, mask, by_id(Yc), final=True)
    assert set(verdict.dropped) == set(E)
    assert np.abs(decoded(verdict.a, Yc) - truth).max() <= 1e-9 * np.abs(truth).max()


# -- the runtime: the master loop with corrupt workers ---------------------------------------

RUN = dict(optimizer="gd", lr=0.5, l2=1e-3, rounds=8, record_params=True, seed=4)
SLOW = "fixed:workers=0;delay=0.05"  # worker 0 straggles every round: the others arrive first
SLOW1 = "fixed:workers=1;delay=0.05"


@pytest.fixture(scope="module")
def data():
    return gaussian_mixture(240, 6, seed=2)


def trajectory(result):
    return np.stack(result.params)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "spec, n, s, faults",
    [
        ("cyclic-mds:a=1", 6, 1, ["2@0:corrupt=sign"]),
        ("cyclic-mds:a=2", 10, 1, ["3@0:corrupt=collude", "7@0:corrupt=collude"]),
        ("cyclic-mds:a=1", 6, 1, ["4@1:corrupt=alie"]),
        ("frc:a=1", 8, 1, ["5@0:corrupt=noise"]),
        ("frc:a=1", 8, 1, ["1@2:corrupt=bitflip"]),
    ],
)
def test_training_under_attack_follows_the_clean_run(data, spec, n, s, faults, tmp_path):
    X, y = data
    clean = gc.train(spec, X, y, n=n, s=s, **RUN)
    # the stragglers are honest (workers 0 and 4 for FRC's two groups): attackers always arrive
    slow = "fixed:workers=0,4;delay=0.05" if spec.startswith("frc") else SLOW
    attacked = gc.train(
        spec, X, y, n=n, s=s, faults=faults, delay=slow, out=tmp_path / "run", **RUN
    )
    want = trajectory(clean)
    assert np.abs(trajectory(attacked) - want).max() <= 1e-9 * np.abs(want).max()
    attackers = {int(f.split("@")[0]) for f in faults}
    first = min(int(f.split("@")[1].split(":")[0]) for f in faults)
    caught = set()
    for r in attacked.rounds:
        assert not r.flagged and set(r.corrupt) <= attackers
        assert not set(r.survivors) & set(r.corrupt)
        seen = {i for i in attackers if np.isfinite(r.arrival_s[i])}
        if r.round >= first and "bitflip" not in faults[0]:  # a flip of an unused 0: no change
            assert seen <= set(r.corrupt), (r.round, seen, r.corrupt)
        caught |= set(r.corrupt)
    assert caught  # somebody was caught: the attack happened
    quarantined = {i for i, why in attacked.dead.items() if why.startswith("quarantined")}
    assert quarantined <= caught
    back = gc.load_result(tmp_path / "run")  # the columns survive the journal
    assert [r.corrupt for r in back.rounds] == [r.corrupt for r in attacked.rounds]


@pytest.mark.timeout(120)
def test_a_zero_trajectories_are_todays_bit_for_bit(data):
    X, y = data
    # the same stragglers in both (FRC: one per group), so the same survivors, sums and bits
    for scheme, slow in (("cyclic-mds", SLOW), ("frc", "fixed:workers=0,2,4;delay=0.05")):
        plain = gc.train(scheme, X, y, n=6, s=1, delay=slow, **RUN)
        zero = gc.train(f"{scheme}:a=0", X, y, n=6, s=1, delay=slow, **RUN)
        assert np.array_equal(trajectory(plain), trajectory(zero))
        assert not any(r.corrupt or r.flagged for r in zero.rounds)


@pytest.mark.timeout(120)
def test_a_nan_message_is_never_stepped_on_and_waits_for_a_spare(data):
    X, y = data
    spec = dict(n=6, s=1, **RUN)
    clean = gc.train("cyclic-mds", X, y, **spec)
    got = gc.train("cyclic-mds", X, y, faults=["3@2:corrupt=nan"], quarantine=0, delay=SLOW, **spec)
    want = trajectory(clean)
    assert np.abs(trajectory(got) - want).max() <= 1e-9 * np.abs(want).max()
    assert all(r.corrupt in ((), (3,)) and not r.flagged for r in got.rounds)
    # caught from round 2 on whenever its message came before the round was decoded (the
    # straggler's 50 ms make that every round on a quiet machine; under load it may come late)
    caught = [r.corrupt for r in got.rounds]
    assert caught[:2] == [(), ()] and caught[2:].count((3,)) >= 4 and 3 not in got.dead


@pytest.mark.timeout(120)
def test_without_a_spare_the_round_is_flagged_and_quarantine_ends_the_run(data):
    X, y = data
    got = gc.train("naive", X, y, n=4, faults=["1@3:corrupt=nan"], quarantine=0, **RUN)
    assert [r.flagged for r in got.rounds] == [False] * 3 + [True] * 5
    assert all(r.corrupt == (1,) for r in got.rounds[3:])
    params = trajectory(got)
    assert np.array_equal(params[2], params[-1])  # flagged rounds step nothing
    with pytest.raises(TrainingError, match="quarantined"):
        gc.train("naive", X, y, n=4, faults=["1@3:corrupt=nan"], quarantine=2, **RUN)


@pytest.mark.timeout(120)
def test_more_attackers_than_the_budget_are_flagged_and_never_stepped_on(data):
    """Two noisy workers against a=1: a round whose arrivals hold both is flagged (no step); a
    round with one (the other straggled) is located and exact. Replayed against plain GD that
    skips exactly the flagged rounds."""
    X, y = data
    faults = ["1@0:corrupt=noise", "4@0:corrupt=noise"]
    for slow, flagged in ((SLOW, 8), (SLOW1, 0)):
        got = gc.train("cyclic-mds:a=1", X, y, n=6, s=1, faults=faults, delay=slow, **RUN)
        for r in got.rounds:
            seen = {i for i in (1, 4) if np.isfinite(r.arrival_s[i])}
            assert r.flagged == (len(seen) == 2) and set(r.corrupt) <= {1, 4}
            assert r.flagged or set(r.survivors).isdisjoint({1, 4})
        want = replay(X, y, [r.flagged for r in got.rounds])
        assert np.abs(trajectory(got) - want).max() <= 1e-9 * np.abs(want).max()
        # mostly as planned (the first round may see other arrival orders: workers starting)
        assert abs(sum(r.flagged for r in got.rounds) - flagged) <= 1


def replay(X, y, flagged):
    """Plain GD on the full objective (RUN's model and step), skipping the flagged rounds."""
    model, theta, out = make_model("logistic", l2=RUN["l2"]), np.zeros(X.shape[1]), []
    for skip in flagged:
        if not skip:
            theta = theta - RUN["lr"] * full_objective(model, theta, X, y)[1]
        out.append(theta)
    return np.array(out)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("agg", ["median", "trimmed", "krum", "multikrum", "geomed"])
def test_robust_aggregation_baselines_train_under_attack(data, agg):
    X, y = data
    faults = ["2@0:corrupt=sign:10"]
    plain = gc.train("naive", X, y, n=7, faults=faults, **RUN)
    robust = gc.train(f"naive:agg={agg}", X, y, n=7, faults=faults, **RUN)
    clean = gc.train("naive", X, y, n=7, **RUN)
    err = [np.abs(r.theta - clean.theta).max() for r in (plain, robust)]
    assert err[1] < err[0]  # the robust rule is hurt less than the plain sum
    assert robust.rounds[-1].loss < robust.rounds[0].loss


def test_a_deadline_is_refused_with_a_budget(data):
    X, y = data
    with pytest.raises(ValueError, match="a deadline would step on messages it could not check"):
        gc.train("cyclic-mds:a=1", X, y, n=6, s=1, deadline=0.5, **RUN)
