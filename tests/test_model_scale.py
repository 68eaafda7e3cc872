"""The master at model scale: the loss decoded from the messages, one θ copy per round, rows that
stay in their file (read by each worker alone), the master's CPU and memory in the records."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import gradcode as gc
from gradcode.codes import make_code
from gradcode.data import load_dataset
from gradcode.data.synthetic import gaussian_mixture
from gradcode.delays import FixedStragglers
from gradcode.models import full_objective, make_model
from gradcode.optim import make_optimizer
from gradcode.runtime.engines.local import SHARED, LocalEngine
from gradcode.runtime.master import make_jobs
from gradcode.runtime.messages import Reply
from gradcode.runtime.worker import message_width

EXACT = ["naive", "frc", "cyclic", "cyclic-mds", "partial-cyclic:P=3", "stream", "hetero"]


def data(m: int = 240, d: int = 6):
    return gaussian_mixture(m, d, seed=3)


@pytest.mark.parametrize("scheme", EXACT)
def test_decoded_loss_is_the_full_training_loss(scheme: str) -> None:
    """Every round's loss comes decoded from the messages (the master never passes over the
    data) and equals F(θ_t) = (1/m) Σ l_r(θ_t) + penalty at the round's parameters, to 1e-12."""
    X, y = data()
    n, s = 6, 0 if scheme == "naive" else 1
    res = gc.train(scheme, X, y, n=n, s=s, rounds=6, l2=1e-3, record_params=True,
                   delay=FixedStragglers(workers=(2,), delay=0.05))  # fmt: skip
    model = make_model("logistic", l2=1e-3)
    thetas = [np.zeros(X.shape[1]), *res.params[:-1]]  # the parameters each round broadcast
    for r, theta in zip(res.rounds, thetas, strict=True):
        want = full_objective(model, theta, X, y)[0]
        assert abs(r.loss - want) <= 1e-12 * abs(want), (r.round, r.loss, want)


def test_decoded_gradient_steps_like_the_serial_reference() -> None:
    """Nesterov with L2 (the fused sum adds l2·θ, the step runs in place): the trajectory is the
    single-process one, round by round."""
    X, y = data()
    res = gc.train("cyclic-mds", X, y, n=5, s=2, rounds=8, l2=1e-2, lr=0.7, record_params=True)
    model, opt = make_model("logistic", l2=1e-2), make_optimizer("nesterov", lr=0.7)
    theta = np.zeros(X.shape[1])
    state = opt.init(theta)
    for got in res.params:
        theta, state = opt.step(theta, full_objective(model, theta, X, y)[1], state)
        assert np.max(np.abs(got - theta)) <= 1e-12 * np.max(np.abs(theta))


def test_approximate_codes_decode_the_loss_they_decode_the_gradient_with() -> None:
    """bibd (approximate): the loss is Σ_j (aᵀB)_j L_j(θ), the same combination as the gradient."""
    X, y = data()
    # worker 3 straggles for sure: the decode is approximate (error > 0), not all 7 replies
    res = gc.train("bibd", X, y, n=7, s=1, rounds=1, l2=0.0, delay="fixed:workers=3;delay=0.3")
    code, r = make_code("bibd", 7, 1), res.rounds[0]
    a = code.decode(np.isin(np.arange(7), r.survivors))
    weights = a @ code.B  # per partition
    model = make_model("logistic")
    parts = np.array_split(np.arange(X.shape[0]), code.k)
    want = sum(w * model.loss(np.zeros(6), X[p], y[p]) for w, p in zip(weights, parts, strict=True))
    assert r.error > 0 and abs(r.loss - want / X.shape[0]) <= 1e-12


def test_eval_every_zero_records_no_loss() -> None:
    X, y = data()
    res = gc.train("cyclic", X, y, n=4, s=1, rounds=3, eval_every=0)
    assert all(np.isnan(r.loss) for r in res.rounds)
    res = gc.train("cyclic", X, y, n=4, s=1, rounds=4, eval_every=2)
    assert [np.isnan(r.loss) for r in res.rounds] == [False, True, False, True]


# -- one θ per round -----------------------------------------------------------------------------


def _replies(eng: LocalEngine, want: set[tuple[int, int]], timeout: float = 30.0) -> dict:
    """Wait for replies (worker, round) in `want`; their vectors, copied."""
    got: dict[tuple[int, int], np.ndarray] = {}
    deadline = time.monotonic() + timeout
    while not want <= set(got):
        assert time.monotonic() < deadline, f"replies {want - set(got)} never came"
        for ev in eng.wait(1.0):
            if isinstance(ev, Reply):
                got[(ev.worker, ev.round)] = ev.vector.copy()
    return got


def test_local_engine_writes_theta_once_per_round_and_never_under_a_reader() -> None:
    """Round 0 goes to all four workers from one shared slot (one copy); worker 0 (slow) still
    reads round 0's and worker 1 (slow) round 1's when round 2 goes out: both shared slots are
    in use, so the others get private copies. Every reply is the exact message for its round's θ:
    no worker read a θ being overwritten."""
    X, y = data(m=4000, d=50)
    code = make_code("cyclic", 4, 1)
    model = make_model("logistic")
    jobs = make_jobs(code, X, y, model, FixedStragglers(), ())
    slow = {0: 0, 1: 1}  # worker -> the round it is slow in
    for w, r in slow.items():
        jobs[w] = jobs[w].__class__(w, 4, jobs[w].messages, model, _SlowAt(r, 4, w, 1.0), (), 0.0)
    rng = np.random.default_rng(0)
    thetas = [rng.standard_normal(50) for _ in range(3)]
    eng = LocalEngine(4)
    try:
        eng.start(jobs, 50, width=message_width(50))
        for w in range(4):
            eng.send(w, 0, thetas[0])
        assert eng.copies == 1
        got = _replies(eng, {(1, 0), (2, 0), (3, 0)})
        for w in (1, 2, 3):
            eng.send(w, 1, thetas[1])
        assert eng.copies == 2
        got |= _replies(eng, {(2, 1), (3, 1)})
        for w in (2, 3):
            eng.send(w, 2, thetas[2])  # workers 0 and 1 still read both shared slots
        assert eng.copies == 2 + 2
        got |= _replies(eng, {(0, 0), (1, 1), (2, 2), (3, 2)})
    finally:
        eng.close()
    for (w, r), vector in got.items():
        seg = jobs[w].messages[0][0]
        loss, grad = model.value_and_grad(thetas[r], seg.X, seg.y, seg.w)
        assert np.allclose(vector[:50], grad, rtol=1e-12, atol=1e-12), (w, r)
        assert vector[50] == pytest.approx(loss, rel=1e-12)
    assert SHARED == 2


class _SlowAt(FixedStragglers):
    """Worker `worker` sleeps `delay` s in round `at` only."""

    def __init__(self, at: int, n: int, worker: int, delay: float) -> None:
        super().__init__(workers=(worker,), delay=delay)
        self.at = at

    def sample(self, round: int, n: int):
        extra, factor = super().sample(round, n)
        return (extra if round == self.at else np.zeros(n)), factor


def test_the_master_cpu_and_peak_memory_are_recorded(tmp_path: Path) -> None:
    X, y = data()
    res = gc.train("cyclic", X, y, n=4, s=1, rounds=4, out=tmp_path / "run")
    cpu = [r.master_cpu_s for r in res.rounds]
    assert all(np.isfinite(cpu)) and all(c >= 0 for c in cpu)
    assert "master_cpu_s" in (tmp_path / "run" / "rounds.csv").read_text().splitlines()[0]
    back = gc.load_result(tmp_path / "run")
    assert [r.master_cpu_s for r in back.rounds] == pytest.approx(cpu)
    meta = json.loads((tmp_path / "run" / "result.json").read_text())
    assert meta["master"]["peak_rss_bytes"] > 10 * 2**20  # a Python process with numpy: > 10 MB
    assert back.master == meta["master"]


# -- rows by reference ---------------------------------------------------------------------------


def test_npz_rows_reads_exactly_the_rows_asked_for(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((80, 9)), rng.integers(0, 2, 80).astype(float)
    S = sp.random(70, 40, density=0.1, format="csr", random_state=2)
    dense = gc.NpzRows(gc.save_rows(tmp_path / "d.npz", X, y))
    csr = gc.NpzRows(gc.save_rows(tmp_path / "s.npz", S, np.ones(70)))
    idx = np.array([5, 6, 7, 0, 69, 3, 4])
    assert np.array_equal(dense.rows(idx), X[idx]) and dense.shape == (80, 9)
    got = csr.rows(idx)
    assert sp.issparse(got) and got.shape == (7, 40) and (got != S[idx]).nnz == 0
    assert csr.rows(np.array([], dtype=int)).shape == (0, 40)
    assert np.array_equal(dense.labels(), y)
    assert len(pickle.dumps(dense)) < 300  # a job carries the path, never the rows
    assert np.array_equal(pickle.loads(pickle.dumps(dense)).rows(idx), X[idx])
    with pytest.raises(ValueError, match="row ids must satisfy 0 <= row < 80"):
        dense.rows(np.array([80]))


def test_npz_rows_refuses_what_it_cannot_read_in_place(tmp_path: Path) -> None:
    X, y = data()
    np.savez_compressed(tmp_path / "c.npz", X=X, y=y)
    with pytest.raises(ValueError, match="is compressed .*np.savez_compressed"):
        gc.NpzRows(tmp_path / "c.npz")
    np.savez(tmp_path / "noy.npz", X=X)
    with pytest.raises(ValueError, match="holds no labels 'y'"):
        gc.NpzRows(tmp_path / "noy.npz")
    np.savez(tmp_path / "short.npz", X=X, y=y[:-1])
    with pytest.raises(ValueError, match=r"y has shape \(239,\), X has 240 rows"):
        gc.NpzRows(tmp_path / "short.npz")
    whole = gc.save_rows(tmp_path / "t.npz", X, y).read_bytes()
    (tmp_path / "cut.npz").write_bytes(whole[: len(whole) // 2])  # a truncated copy
    with pytest.raises(ValueError, match="not a readable .npz"):
        gc.NpzRows(tmp_path / "cut.npz")
    with pytest.raises(ValueError, match="does not exist"):
        gc.NpzRows(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match=r"npz:path=FILE\[;X=NAME;y=NAME\]"):
        gc.train("cyclic", "csv:path=x.csv", n=4, s=1)
    with pytest.raises(ValueError, match="holds its labels: leave y unset"):
        gc.train("cyclic", gc.NpzRows(tmp_path / "t.npz"), y, n=4, s=1)


def test_a_data_set_cache_entry_is_read_by_reference(tmp_path: Path) -> None:
    ds = load_dataset("gaussian", rows=300, d=5, cache_dir=tmp_path)
    (entry,) = tmp_path.glob("*.npz")
    rows = gc.NpzRows(entry)
    assert rows.shape == ds.X_train.shape
    assert np.array_equal(rows.rows(np.arange(10)), ds.X_train[:10])


@pytest.mark.parametrize("sparse", [False, True])
def test_jobs_by_reference_hold_exactly_their_partitions_rows(tmp_path: Path, sparse) -> None:
    X, y = data(m=300, d=8)
    X = sp.csr_matrix(X) if sparse else X
    rows = gc.NpzRows(gc.save_rows(tmp_path / "t.npz", X, y))
    code, model = make_code("partial-cyclic:P=3", 5, 1), make_model("logistic")
    by_ref = [j.loaded() for j in make_jobs(code, rows, y, model, FixedStragglers(), ())]
    direct = make_jobs(code, X, y, model, FixedStragglers(), ())
    for a, b in zip(by_ref, direct, strict=True):
        for ma, mb in zip(a.messages, b.messages, strict=True):
            assert (ma is None) == (mb is None)
            for sa, sb in zip(ma or (), mb or (), strict=True):
                xa, xb = (s.X.toarray() if sparse else s.X for s in (sa, sb))
                assert np.array_equal(xa, xb) and np.array_equal(sa.y, sb.y)
                assert np.array_equal(sa.w, sb.w)


def test_training_by_reference_equals_training_on_arrays(tmp_path: Path) -> None:
    X, y = data()
    path = gc.save_rows(tmp_path / "t.npz", X, y)
    a = gc.train("frc", X, y, n=4, s=1, rounds=5)
    b = gc.train("frc", f"npz:path={path}", n=4, s=1, rounds=5, out=tmp_path / "run")
    assert np.max(np.abs(a.theta - b.theta)) <= 1e-12
    assert [r.loss for r in b.rounds] == pytest.approx([r.loss for r in a.rounds], rel=1e-12)
    c = gc.train("frc", X, y, n=4, s=1, rounds=7, resume=tmp_path / "run")  # same data: resumes
    assert len(c.rounds) == 7


def test_bad_rows_in_the_file_fail_the_worker_that_reads_them(tmp_path: Path) -> None:
    X, y = data()
    X[200, 3] = np.nan  # beyond the rows the master checks: found by the worker holding it
    path = gc.save_rows(tmp_path / "t.npz", X, y)
    with pytest.raises(gc.TrainingError, match="not finite|NaN|finite"):
        gc.train("naive", f"npz:path={path}", n=4, rounds=3)


@pytest.mark.timeout(180)
def test_the_local_master_never_holds_the_training_set(big_file: Path, tmp_path: Path) -> None:
    """In a fresh process (peak RSS is per process): train with the rows in the file; the
    master's peak RSS stays below the size of X."""
    script = textwrap.dedent(f"""
        import json, gradcode as gc
        res = gc.train("cyclic", "npz:path={big_file}", n=3, s=1, rounds=3)
        print(json.dumps({{"rss": res.master["peak_rss_bytes"], "loss": res.rounds[-1].loss}}))
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=170, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout.splitlines()[-1])
    x_bytes = gc.NpzRows(big_file).nbytes
    assert x_bytes == 40_000 * 1_000 * 8
    assert got["rss"] < x_bytes / 2, (got["rss"], x_bytes)
    assert np.isfinite(got["loss"])


def test_cache_layout_is_a_zip_of_stored_npy_members(tmp_path: Path) -> None:
    """What NpzRows relies on: np.savez (and save_rows) store members uncompressed."""
    path = gc.save_rows(tmp_path / "t.npz", *data())
    with zipfile.ZipFile(path) as z:
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_STORED}
