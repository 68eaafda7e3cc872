"""Byzantine attacks: each model's rewrite of a message, its seeded streams, corrupt faults in the
worker's messages and in a real run."""

import math
import multiprocessing

import numpy as np
import pytest

import gradcode as gc
from gradcode.attacks import ATTACKS, STREAM, Attack, rms
from gradcode.cli import main, parser
from gradcode.data import gaussian_mixture
from gradcode.delays import FixedStragglers
from gradcode.models import make_model
from gradcode.runtime import Fault, RunConfig, parse_fault
from gradcode.runtime.master import make_jobs
from gradcode.runtime.worker import Segment, WorkerJob, message_width

pytestmark = pytest.mark.timeout(120)

MODEL = make_model("logistic", l2=1e-3)


@pytest.fixture(scope="module")
def data():
    return gaussian_mixture(403, 6, seed=3)  # 403 rows: partitions (and quarters) of unequal size


def vector(size=1001, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).normal(3.0, 2.0, size).astype(dtype)


def corrupted(attack, v, seed=0, round=0, p=0, worker=0, spread=None):
    out = v.copy()
    attack.corrupt(out, attack.rng(seed, round, p, worker), spread)
    return out


# -- each model on a vector -------------------------------------------------------------------


def test_sign_negates_exactly():
    v = vector()
    assert np.array_equal(corrupted(Attack("sign"), v), -v)
    assert np.array_equal(corrupted(Attack("sign", 2.5), v), -2.5 * v)


def test_constant_sends_its_scale_everywhere():
    v = vector()
    assert np.array_equal(corrupted(Attack("constant"), v), np.full_like(v, 100.0))
    assert np.array_equal(corrupted(Attack("constant", -3), v), np.full_like(v, -3.0))
    assert np.array_equal(corrupted(Attack("constant", 0), v), np.zeros_like(v))


@pytest.mark.parametrize("scale", [1.0, 0.1, 4.0])
def test_noise_has_the_right_rms(scale):
    v = vector(200_000)
    noise = corrupted(Attack("noise", scale), v) - v
    assert noise.std() / rms(v) == pytest.approx(scale, rel=0.01)
    assert abs(noise.mean()) / rms(v) < 0.01 * scale


def test_noise_on_float32_messages():
    v = vector(100_000, dtype=np.float32)
    out = corrupted(Attack("noise"), v)
    assert out.dtype == np.float32
    assert np.std(out.astype(np.float64) - v) / rms(v) == pytest.approx(1.0, rel=0.02)


def test_alie_shifts_by_z_times_the_spread():
    v, spread = vector(), np.abs(vector(seed=1))
    assert np.array_equal(corrupted(Attack("alie"), v, spread=spread), v - spread)
    assert np.array_equal(corrupted(Attack("alie", 1.5), v, spread=spread), v - 1.5 * spread)
    with pytest.raises(ValueError, match="alie attack needs spread"):
        corrupted(Attack("alie"), v)
    with pytest.raises(ValueError, match=r"alie spread must have the message's shape \(1001,\)"):
        corrupted(Attack("alie"), v, spread=spread[:-1])


def test_colluders_send_one_vector_per_round():
    attack = Attack("collude", 7.0)
    a = corrupted(attack, vector(seed=1), round=3, worker=1)
    b = corrupted(attack, 10 * vector(seed=2), round=3, worker=4)
    assert a.tobytes() == b.tobytes()  # bit-identical, whatever each one's honest message
    assert rms(a) == pytest.approx(7.0, rel=1e-12)
    assert not np.allclose(a, corrupted(attack, vector(seed=1), round=4, worker=1))
    assert not np.allclose(a, corrupted(attack, vector(seed=1), round=3, p=1, worker=1))
    assert not np.allclose(a, corrupted(attack, vector(seed=1), seed=1, round=3, worker=1))


@pytest.mark.parametrize(("dtype", "low", "high"), [(np.float64, 52, 64), (np.float32, 23, 32)])
@pytest.mark.parametrize("count", [1, 5, 40])
def test_bitflip_flips_one_exponent_or_sign_bit_in_count_coordinates(dtype, low, high, count):
    uint = np.uint64 if dtype == np.float64 else np.uint32
    seen = set()
    for seed in range(30):
        v = vector(200, seed=seed, dtype=dtype)
        out = corrupted(Attack("bitflip", count), v, seed=seed)
        xor = out.view(uint) ^ v.view(uint)
        changed = np.flatnonzero(xor)
        assert changed.size == count
        bits = [int(x).bit_length() - 1 for x in xor[changed]]
        assert all(
            int(x) == 1 << b for x, b in zip(xor[changed], bits, strict=True)
        )  # one bit each
        assert all(low <= b < high for b in bits)
        seen.update(bits)
    assert seen == set(range(low, high))  # every exponent and sign bit, and no other


def test_bitflip_rounds_its_scale_and_caps_at_the_message():
    v = vector(10)
    changed = lambda out: np.count_nonzero(out.view(np.uint64) != v.view(np.uint64))  # noqa: E731
    assert changed(corrupted(Attack("bitflip", 0.2), v)) == 1
    assert changed(corrupted(Attack("bitflip", 2.6), v)) == 3
    assert changed(corrupted(Attack("bitflip", 50), v)) == 10
    with pytest.raises(ValueError, match="bitflip needs a float64 or float32 message"):
        corrupted(Attack("bitflip"), np.arange(4))


def test_attacks_rewrite_views_in_place():
    """The worker corrupts out[p], a row of its message buffer; strided views work too."""
    for model in ATTACKS:
        spread = np.ones(4) if model == "alie" else None
        buf = np.tile(vector(4), (3, 1))
        Attack(model).corrupt(buf[1], np.random.default_rng(0), spread)
        assert np.array_equal(buf[0], buf[2]) and not np.array_equal(buf[1], buf[0]), model
        col = np.tile(vector(4), (3, 1)).T.copy()
        Attack(model).corrupt(col[:, 1], np.random.default_rng(0), spread)
        assert np.array_equal(col[:, 1], buf[1], equal_nan=True), model


# -- seeds, validation ------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["noise", "bitflip", "collude"])
def test_streams_are_seeded_by_seed_round_slot_and_worker(model):
    attack, v = Attack(model, 3), vector()
    base = corrupted(attack, v, seed=5, round=2, p=1, worker=3)
    assert np.array_equal(base, corrupted(attack, v, seed=5, round=2, p=1, worker=3))
    assert not np.array_equal(base, corrupted(attack, v, seed=6, round=2, p=1, worker=3))
    assert not np.array_equal(base, corrupted(attack, v, seed=5, round=1, p=1, worker=3))
    other_worker = corrupted(attack, v, seed=5, round=2, p=1, worker=4)
    assert np.array_equal(base, other_worker) == (model == "collude")


def test_attack_streams_repeat_no_delay_or_link_stream():
    """[seed, round, q] with q = 0..3 are the delays' and links' streams (4 words pad with 0)."""
    seed, round = 1, 2
    ours = [Attack("collude").rng(seed, round, 0, 0), Attack("noise").rng(seed, round, 0, 0)]
    theirs = [np.random.default_rng([seed, round, q]) for q in range(STREAM)]
    firsts = {g.random() for g in theirs} | {g.random() for g in ours}
    assert len(firsts) == STREAM + 2


def test_unknown_model_names_it_and_lists_the_models():
    with pytest.raises(ValueError, match="one of sign, noise, constant, alie, collude, bitflip"):
        Attack("gaussian")
    with pytest.raises(ValueError, match="'gaussian'"):
        Attack("gaussian")


@pytest.mark.parametrize(
    ("model", "scale", "message"),
    [
        ("sign", math.nan, "finite and > 0 for sign"),
        ("noise", math.inf, "finite and > 0 for noise"),
        ("alie", 0, "finite and > 0 for alie"),
        ("bitflip", -1, "finite and > 0 for bitflip"),
        ("constant", -math.inf, "must be finite for constant"),
        ("collude", "2", "must be a number"),
        ("sign", True, "must be a number"),
    ],
)
def test_bad_scales_fail_clearly(model, scale, message):
    with pytest.raises(ValueError, match=message):
        Attack(model, scale)


def test_default_scales():
    got = {m: Attack(m).scale for m in ATTACKS}
    assert got == {
        "sign": 1.0,
        "noise": 1.0,
        "constant": 100.0,
        "alie": 1.0,
        "collude": 1.0,
        "bitflip": 1.0,
        "nan": 1.0,
    }


# -- corrupt faults ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "fault", "canonical"),
    [
        ("3@0:corrupt", Fault(3, 0, "corrupt"), "3@0:corrupt=sign"),
        ("3@0:corrupt=alie", Fault(3, 0, "corrupt", "alie"), "3@0:corrupt=alie"),
        ("1@4:corrupt=noise:2", Fault(1, 4, "corrupt", "noise", 2.0), "1@4:corrupt=noise:2.0"),
        ("0@1:corrupt=constant:-1e3", Fault(0, 1, "corrupt", "constant", -1000), None),
        ("3@10", Fault(3, 10, "kill"), "3@10:kill"),
        ("0@5:hang", Fault(0, 5, "hang"), "0@5:hang"),
        ("2@1:raise", Fault(2, 1, "raise"), "2@1:raise"),
    ],
)
def test_fault_specs_round_trip(spec, fault, canonical):
    assert parse_fault(spec) == fault
    assert parse_fault(fault.spec()) == fault
    if canonical is not None:
        assert fault.spec() == canonical


def test_other_faults_keep_their_text():
    assert repr(Fault(3, 10)) == "Fault(worker=3, round=10, kind='kill')"
    assert repr(Fault(1, 2, "corrupt", "noise", 2)) == (
        "Fault(worker=1, round=2, kind='corrupt', attack='noise', scale=2.0)"
    )
    assert Fault(1, 2, "corrupt").as_attack() == Attack("sign", 1.0)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "3@0:corrupt=bogus",
            "attack must be one of sign, noise, constant, alie, collude, bitflip",
        ),
        ("3@0:corrupt=", "corrupt fault needs a model after '='"),
        ("3@0:corrupt=noise:x", "corrupt fault scale must be a number, got 'x'"),
        ("3@0:corrupt=noise:0", "attack scale must be finite and > 0 for noise"),
        ("3@0:kill=sign", "only corrupt faults take =MODEL"),
        ("3@0:break", "fault kind must be one of kill, raise, hang, corrupt"),
        ("3:corrupt", "fault must look like WORKER@ROUND"),
    ],
)
def test_bad_fault_specs_fail_clearly(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_fault(spec)


def test_attack_and_scale_belong_to_corrupt_faults():
    with pytest.raises(ValueError, match="attack and scale are for corrupt faults only"):
        Fault(1, 2, "kill", "noise")
    with pytest.raises(ValueError, match="attack and scale are for corrupt faults only"):
        Fault(1, 2, "hang", scale=2)
    with pytest.raises(ValueError, match="does not strike the worker"):
        Fault(1, 2, "corrupt").strike()
    with pytest.raises(ValueError, match="not a corrupt fault"):
        Fault(1, 2).as_attack()


def test_run_config_takes_corrupt_fault_text():
    config = RunConfig(faults=("1@2:corrupt=alie", "0@3"))
    assert config.faults == (Fault(1, 2, "corrupt", "alie"), Fault(0, 3))
    assert config.to_dict()["faults"] == ["1@2:corrupt=alie", "0@3:kill"]
    with pytest.raises(ValueError, match="'bogus'"):
        RunConfig(faults=("1@2:corrupt=bogus",))


# -- in the worker ----------------------------------------------------------------------------


def messages(job, rounds, theta, width):
    """The job's messages, round by round: (rounds, parts, width)."""
    out = np.zeros((rounds, len(job.messages), width))
    for r in range(rounds):
        for _ in job.run(r, theta, out[r]):
            pass
    return out


def jobs(code, X, y, faults=(), seed=0):
    return make_jobs(code, X, y, MODEL, FixedStragglers(), faults, seed=seed)


@pytest.mark.parametrize(("scheme", "n", "s"), [("cyclic", 5, 1), ("comm-cyclic", 4, 1)])
def test_worker_corrupts_from_the_fault_round_on(data, scheme, n, s):
    X, y = data
    code = gc.make_code(scheme, n, s, seed=1)
    theta = np.linspace(-1, 1, X.shape[1])
    width = code.message_length(message_width(X.shape[1]))
    clean = messages(jobs(code, X, y)[2], 4, theta, width)
    bad = messages(jobs(code, X, y, [Fault(2, 2, "corrupt")])[2], 4, theta, width)
    assert np.array_equal(bad[:2], clean[:2])
    assert np.array_equal(bad[2:], -clean[2:])  # every round from the fault's on
    other = messages(jobs(code, X, y, [Fault(2, 2, "corrupt")])[1], 4, theta, width)
    assert np.array_equal(other, messages(jobs(code, X, y)[1], 4, theta, width))


def test_worker_applies_its_faults_in_order(data):
    X, y = data
    code = gc.make_code("cyclic", 5, 1, seed=1)
    theta, width = np.zeros(X.shape[1]), message_width(X.shape[1])
    faults = [Fault(0, 0, "corrupt", "constant", 2.0), Fault(0, 1, "corrupt", "sign", 3.0)]
    got = messages(jobs(code, X, y, faults)[0], 2, theta, width)
    assert np.all(got[0] == 2.0) and np.all(got[1] == -6.0)


def quarter_spread(job, theta, width):
    """Reference ALIE spread: the honest messages of 4 jobs, each holding one quarter of every
    chunk's rows, through the honest path."""
    quarters = []
    for q in range(4):
        msgs = []
        for chunks in job.messages:
            segs = []
            for seg in chunks:
                a, b = seg.y.size * q // 4, seg.y.size * (q + 1) // 4
                segs.append(Segment(seg.X[a:b], seg.y[a:b], seg.w[a:b], seg.mix))
            msgs.append(tuple(segs))
        quarter = WorkerJob(job.worker, job.n, tuple(msgs), job.model)
        quarters.append(messages(quarter, 1, theta, width)[0])
    return 2.0 * np.std(quarters, axis=0, ddof=1)


@pytest.mark.parametrize(
    ("scheme", "n", "s"), [("cyclic", 5, 1), ("comm-cyclic", 4, 1), ("partial-cyclic", 6, 1)]
)
def test_alie_spread_is_the_std_of_four_quarter_messages(data, scheme, n, s):
    X, y = data
    code = gc.make_code(scheme, n, s, seed=1)
    theta = np.linspace(-1, 1, X.shape[1])
    width = code.message_length(message_width(X.shape[1]))
    honest = jobs(code, X, y)[1]
    attacked = jobs(code, X, y, [Fault(1, 0, "corrupt", "alie", 1.5)])[1]
    clean, bad = messages(honest, 1, theta, width)[0], messages(attacked, 1, theta, width)[0]
    spread = quarter_spread(honest, theta, width)
    assert np.all(spread > 0)
    np.testing.assert_allclose(bad, clean - 1.5 * spread, rtol=1e-10, atol=1e-10)


def test_noise_is_the_same_draw_under_every_scheme(data):
    """Worker 1's stream depends on (seed, round, slot, worker): not on the scheme."""
    X, y = data
    theta, width = np.zeros(X.shape[1]), message_width(X.shape[1])
    draws = []
    for scheme, n, s in [("naive", 4, 0), ("cyclic", 4, 1), ("frc", 4, 1)]:
        code = gc.make_code(scheme, n, s, seed=1)
        clean = messages(jobs(code, X, y, seed=7)[1], 2, theta, width)
        bad = messages(
            jobs(code, X, y, [Fault(1, 0, "corrupt", "noise")], seed=7)[1], 2, theta, width
        )
        draws.append((bad - clean) / np.sqrt(np.mean(clean**2, axis=-1, keepdims=True)))
    np.testing.assert_allclose(draws[1], draws[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(draws[2], draws[0], rtol=1e-9, atol=1e-12)
    assert not np.allclose(draws[0][0], draws[0][1])  # a new draw each round


# -- a real run -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_children():
    yield
    assert multiprocessing.active_children() == []


def run(X, y, faults=(), seed=0, scheme="naive"):
    result = gc.train(
        scheme,
        X,
        y,
        n=4,
        s=0 if scheme == "naive" else 1,
        model=MODEL,
        optimizer="gd",
        lr=0.5,
        rounds=3,
        faults=faults,
        seed=seed,
        record_params=True,
    )
    assert result.status == "ok" and not result.dead
    return np.array(result.params), np.array([r.loss for r in result.rounds])


def test_a_corrupt_worker_changes_a_naive_run_from_its_round_on(data):
    X, y = data
    clean, clean_loss = run(X, y)
    bad, bad_loss = run(X, y, faults=["1@1:corrupt=sign"])
    assert np.array_equal(bad[0], clean[0]) and bad_loss[0] == clean_loss[0]
    assert not np.allclose(bad[1], clean[1]) and not np.allclose(bad[2], clean[2])
    assert bad_loss[1] != clean_loss[1]  # the decoded loss carries worker 1's negated loss too


def test_a_noisy_run_is_reproducible_from_its_seed(data):
    X, y = data
    first, _ = run(X, y, faults=["2@0:corrupt=noise"], seed=3)
    again, _ = run(X, y, faults=["2@0:corrupt=noise"], seed=3)
    other, _ = run(X, y, faults=["2@0:corrupt=noise"], seed=4)
    assert np.array_equal(first, again)
    assert not np.allclose(first, other)


# -- the command line -------------------------------------------------------------------------


def test_train_help_mentions_corrupt(capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "WORKER@ROUND:corrupt[=MODEL[:SCALE]]" in text
    assert "sign, noise, constant, alie, collude, bitflip" in text
    assert "the delays and the corrupt faults" in text  # --seed


def test_train_takes_a_corrupt_fault(tmp_path, capsys):
    args = ["train", "--scheme", "cyclic", "-n", "4", "-s", "1", "--rows", "200"]
    args += ["--features", "5", "--rounds", "2", "--quiet", "--out", str(tmp_path)]
    assert main([*args, "--fault", "3@0:corrupt=alie"]) == 0
    assert main([*args, "--fault", "3@0:corrupt=bogus"]) == 2
    err = capsys.readouterr().err
    assert "gradcode: error:" in err and "'bogus'" in err and "alie, collude, bitflip" in err
