"""PyTorch models: coded gradients, coded training on both engines, coded SGD, optimizers.

The references are plain single-process torch: per-row autograd loops for the weighted gradient,
and a native training loop (``loss.mean().backward(); opt.step()``) for the trajectories. torch is
a dev dependency: without it this module fails to import (it never skips).
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import gradcode as gc
from gradcode.data import load_dataset, split_rows, worker_rows
from gradcode.delays import ExponentialDelay, FixedStragglers
from gradcode.experiments import CompareConfig, compare
from gradcode.models import Model, make_model
from gradcode.models.torch import CNN, MLP, TorchModel, mlp, state_dict
from gradcode.optim_torch import TorchAdam, TorchSGD
from gradcode.simulate import calibrate, simulate
from test_mpi import SCRIPTS, run_mpi

pytestmark = pytest.mark.timeout(120)

_spec = importlib.util.spec_from_file_location("torch_common", SCRIPTS / "torch_common.py")
torch_common = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(torch_common)

ROUNDS = 20
STRAGGLERS = FixedStragglers(workers=(1, 5), delay=0.02)
# (scheme, n, s, seed): two stragglers for every coded scheme (frc needs (s+1) | n: n=9). The
# random cyclic B of seed 11 amplifies float32 rounding by at most max |a|ᵀ|B| = 81 over all 28
# survivor sets (seed 0: 4,127; see docs/torch.md)
CODED = [("naive", 8, 0, 0), ("frc", 9, 2, 0), ("cyclic", 8, 2, 11), ("cyclic-mds", 8, 2, 0)]


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    ds = load_dataset("digits")
    return ds.X_train, ds.y_train


def native(factory, theta0, X, y, opt_cls, rounds=ROUNDS, dtype=torch.float32, **kw):
    """Single-process full-batch torch training with the BCE loss: the reference trajectory
    (float64 copies of the parameters after each step)."""
    net = factory(X.shape[1]).to(dtype)
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(torch.tensor(theta0, dtype=dtype), net.parameters())
    opt = opt_cls(net.parameters(), **kw)
    xt, yt = torch.tensor(X, dtype=dtype), torch.tensor(y, dtype=dtype)
    out = []
    for _ in range(rounds):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(net(xt)[:, 0], yt).backward()
        opt.step()
        flat = torch.nn.utils.parameters_to_vector(net.parameters())
        out.append(flat.detach().double().numpy().copy())
    return np.array(out)


def decoded(model: Model, code, theta, X, y, stragglers=(1, 5), **kw) -> np.ndarray:
    """Σ_i a_i g_i over the non-stragglers, each g_i from the worker's B-weighted rows."""
    parts = split_rows(X.shape[0], code.k)
    arrived = np.ones(code.n, dtype=bool)
    arrived[list(stragglers)] = False
    a = code.decode(arrived)
    g = np.zeros_like(theta)
    for i in np.flatnonzero(a):
        rows, w = worker_rows(code.partitions(i), code.B[i], parts)
        g += a[i] * model.grad(theta, X[rows], y[rows], w, **kw)
    return g


# ---- the model ----------------------------------------------------------------------------------
ROW_LOSSES = {
    "bce": lambda out, t: torch.nn.functional.binary_cross_entropy_with_logits(out[0, 0], t[0]),
    "cross-entropy": lambda out, t: torch.nn.functional.cross_entropy(out, t.long())[()],
    "mse": lambda out, t: (out[0, 0] - t[0]) ** 2,
}


@pytest.mark.parametrize(
    ("criterion", "outputs", "labels"),
    [("bce", 1, 2), ("cross-entropy", 10, 10), ("mse", 1, None)],
)
@pytest.mark.parametrize("kind", [MLP, CNN])
def test_weighted_grad_and_loss_match_per_row_autograd(kind, criterion, outputs, labels):
    rng = np.random.default_rng(0)
    m, d = 13, 16  # CNN: 4x4 images
    X = rng.standard_normal((m, d))
    y = rng.integers(0, labels, m).astype(float) if labels else rng.standard_normal(m)
    w = rng.uniform(-2, 2, m)
    factory = MLP((8,), outputs) if kind is MLP else CNN((2, 3), outputs)
    model = TorchModel(factory, criterion, dtype="float64")
    theta = model.init(d) + 0.1 * rng.standard_normal(model.init(d).size)

    net = factory(d).double()  # the reference: torch's own autograd, one row at a time
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(torch.tensor(theta), net.parameters())
    grads, losses = [], []
    for r in range(m):
        loss = ROW_LOSSES[criterion](net(torch.tensor(X[r : r + 1])), torch.tensor(y[r : r + 1]))
        grads.append(
            torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, net.parameters())])
        )
        losses.append(loss.item())
    grads, losses = torch.stack(grads).numpy(), np.array(losses)
    g = model.grad(theta, X, y, w)
    assert g.dtype == np.float64 and g.shape == theta.shape
    np.testing.assert_allclose(g, w @ grads, rtol=1e-10, atol=1e-12)
    assert model.loss(theta, X, y, w) == pytest.approx(float(w @ losses), rel=1e-12)
    assert model.loss(theta, X, y) == pytest.approx(losses.sum(), rel=1e-12)


@pytest.mark.parametrize(("scheme", "n", "s", "seed"), [*CODED, ("cyclic", 8, 2, 0)])
def test_decoded_gradient_is_the_full_gradient(digits, scheme, n, s, seed):
    """float64: exact for every code, even cyclic seed 0 (|a|ᵀ|B| ≈ 4e3 for these survivors)."""
    X, y = digits
    model = mlp(hidden=(16,), dtype="float64")
    theta = model.init(X.shape[1])
    code = gc.make_code(scheme, n, s, seed=seed)
    full = model.grad(theta, X, y)
    got = decoded(model, code, theta, X, y, stragglers=(1, 5)[:s])
    np.testing.assert_allclose(got, full, rtol=0, atol=1e-9 * np.abs(full).max())


def test_init_is_seeded_protocol_repr_and_pickle(digits):
    X, y = digits
    a, b, c = mlp(seed=3), mlp(seed=3), mlp(seed=4)
    assert isinstance(a, Model)
    np.testing.assert_array_equal(a.init(64), b.init(64))
    assert not np.array_equal(a.init(64), c.init(64))
    state = torch.random.get_rng_state()
    a.init(64)
    assert torch.equal(state, torch.random.get_rng_state())  # the global RNG is left alone
    assert a.init(64).dtype == np.float64 and a.init(64).size == 64 * 64 + 64 + 64 + 1
    assert repr(a) == "<TorchModel MLP(hidden=(64,), outputs=1) criterion=bce float32 l2=0>"
    theta = a.init(64)
    clone = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(clone.grad(theta, X, y), a.grad(theta, X, y))
    # a plain nn.Module is copied, never modified; its parameters are theta0
    net = MLP((4,), 1)(64)
    before = torch.nn.utils.parameters_to_vector(net.parameters()).detach().clone()
    model = TorchModel(net)
    np.testing.assert_array_equal(model.init(64), before.double().numpy())
    model.grad(np.zeros_like(model.init(64)), X, y)
    assert torch.equal(torch.nn.utils.parameters_to_vector(net.parameters()), before)


def test_predictions_and_accuracy(digits):
    X, y = digits
    model = mlp(hidden=(16,), outputs=10, dtype="float64")
    theta = model.init(64)
    out = model.outputs(theta, X)
    assert out.shape == (X.shape[0], 10)
    np.testing.assert_array_equal(model.predict_score(theta, X), out.argmax(axis=1))
    assert model.accuracy(theta, X, out.argmax(axis=1)) == 1.0
    binary = mlp(hidden=(16,))
    scores = binary.predict_score(binary.init(64), X)
    assert binary.accuracy(binary.init(64), X, y) == pytest.approx(np.mean((scores > 0) == y))


def test_errors():
    with pytest.raises(ValueError, match="unknown criterion 'hinge'; valid criteria: bce"):
        TorchModel(MLP(), "hinge")
    with pytest.raises(ValueError, match="reduction='none', got reduction='mean'"):
        TorchModel(MLP(), torch.nn.MSELoss())
    with pytest.raises(ValueError, match="dtype must be one of float32, float64"):
        TorchModel(MLP(), dtype="float16")
    with pytest.raises(ValueError, match=r"batch_fraction must be None or in \(0, 1\]"):
        TorchModel(MLP(), batch_fraction=1.5)
    with pytest.raises(ValueError, match="theta has 3 entries, the module has 4225"):
        mlp().loss(np.zeros(3), np.zeros((2, 64)), np.zeros(2))
    with pytest.raises(ValueError, match="CNN needs square images"):
        CNN()(10)
    with pytest.raises(ValueError, match="binary labels"):
        mlp().check_data(np.zeros((2, 3)), np.array([0.0, 2.0]))
    with pytest.raises(ValueError, match="class ids"):
        mlp(outputs=3).check_data(np.zeros((2, 3)), np.array([0.5, 2.0]))
    with pytest.raises(ValueError, match="unknown parameter.* hiden .*valid parameters: "):
        make_model("torch-mlp", hiden=3)


def test_registry_is_lazy_and_says_how_to_install():
    assert make_model("torch-mlp", l2=1e-3).l2 == 1e-3
    assert isinstance(make_model("torch-cnn"), TorchModel)
    code = (
        "import sys\n"
        "import gradcode, gradcode.models, gradcode.experiments\n"
        "assert 'torch' not in sys.modules, 'importing gradcode imported torch'\n"
        "sys.modules['torch'] = None  # torch is not installed\n"
        "for what in ('make_model', 'optim'):\n"
        "    try:\n"
        "        if what == 'make_model':\n"
        "            gradcode.models.make_model('torch-mlp')\n"
        "        else:\n"
        "            import gradcode.optim_torch\n"
        "    except ImportError as e:\n"
        "        print(e)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert run.stdout.count('pip install "gradcode[torch]"') == 2, run.stdout + run.stderr


# ---- optimizers ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ours", "theirs", "kw"),
    [
        (
            TorchSGD(lr=0.1, momentum=0.9, nesterov=True),
            torch.optim.SGD,
            {"momentum": 0.9, "nesterov": True},
        ),
        (TorchSGD(lr=0.1), torch.optim.SGD, {}),
        (TorchAdam(lr=0.1, weight_decay=0.01), torch.optim.Adam, {"weight_decay": 0.01}),
    ],
)
def test_torch_optimizers_are_pure_and_match_torch(ours, theirs, kw):
    rng = np.random.default_rng(0)
    theta0 = rng.standard_normal(7)
    p = torch.tensor(theta0, dtype=torch.float32, requires_grad=True)
    opt = theirs([p], lr=0.1, **kw)
    theta, state = theta0, ours.init(theta0)
    for _ in range(5):
        g = rng.standard_normal(7)
        p.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
        before = (theta.copy(), tuple(b.copy() for b in state.bufs))
        new, new_state = ours.step(theta, g, state)
        np.testing.assert_array_equal(theta, before[0])  # inputs are never modified
        assert all(np.array_equal(a, b) for a, b in zip(state.bufs, before[1], strict=True))
        theta, state = new, new_state
        np.testing.assert_array_equal(theta, p.detach().double().numpy())
    assert state.step == 5


# ---- coded training against single-process torch ------------------------------------------------
@pytest.fixture(scope="module")
def references(digits):
    X, y = digits
    model = mlp(hidden=(32,))
    theta0 = model.init(X.shape[1])
    return {
        "sgd": native(MLP((32,)), theta0, X, y, torch.optim.SGD, lr=0.5, momentum=0.9),
        "adam": native(MLP((32,)), theta0, X, y, torch.optim.Adam, lr=0.01),
    }


OPTIMIZERS = {"sgd": TorchSGD(lr=0.5, momentum=0.9), "adam": TorchAdam(lr=0.01)}


@pytest.mark.parametrize(("scheme", "n", "s", "seed"), CODED)
@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_float32_coded_training_equals_single_process_training(
    digits, references, scheme, n, s, seed, opt
):
    X, y = digits
    code = gc.make_code(scheme, n, s, seed=seed)
    result = gc.train(
        code,
        X,
        y,
        model=mlp(hidden=(32,)),
        optimizer=OPTIMIZERS[opt],
        rounds=ROUNDS,
        delay=STRAGGLERS,
        eval_every=0,
        record_params=True,
    )
    if s:  # rounds decoded without the stragglers
        assert any(not set(r.survivors) & {1, 5} for r in result.rounds)
    got = np.array(result.params)
    assert np.max(np.abs(got - references[opt])) <= 1e-5
    assert multiprocessing.active_children() == []


def test_workers_forked_after_a_parallel_region_do_not_hang(digits):
    """libgomp hangs a forked child whose parent ran a parallel region, unless the child goes
    single-threaded first (TorchModel does, in every worker process)."""
    X, y = digits
    a = torch.ones(1000, 1000)
    assert float((a @ a).sum()) == 1e9  # a parallel region in the master
    result = gc.train(
        "naive", X, y, n=4, model=mlp(), optimizer="gd", lr=0.1, rounds=2, round_timeout=20
    )
    assert result.status == "ok" and not result.dead


def test_cnn_coded_training_with_random_survivors_equals_single_process_training(digits):
    """float64, every worker randomly late: the survivor sets vary from round to round.

    (In float32 a CNN's trajectories drift apart by 1e-5..1e-2 within 20 steps whenever the
    1e-7 rounding differences flip a ReLU or a max-pool choice; the float32 MLP runs never did.)
    """
    X, y = digits
    model = TorchModel(CNN((4, 8)), dtype="float64")
    theta0 = model.init(64)
    ref = native(CNN((4, 8)), theta0, X, y, torch.optim.Adam, dtype=torch.float64, lr=0.01)
    result = gc.train(
        "cyclic-mds",
        X,
        y,
        n=8,
        s=2,
        model=model,
        optimizer=TorchAdam(lr=0.01, dtype="float64"),
        rounds=ROUNDS,
        delay=ExponentialDelay(mean=0.005, seed=0),
        eval_every=0,
        record_params=True,
    )
    assert len({r.survivors for r in result.rounds}) > 1
    np.testing.assert_allclose(np.array(result.params), ref, rtol=0, atol=1e-9)


def test_float32_coded_training_on_the_mpi_engine(tmp_path: Path, digits):
    run = run_mpi(torch_common.N + 1, "torch_trajectories.py", tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "torch trajectories: done" in run.stdout
    X, y = torch_common.data()
    theta0 = torch_common.model().init(X.shape[1])
    ref = native(
        MLP((16,)),
        theta0,
        X,
        y,
        torch.optim.SGD,
        lr=torch_common.LR,
        momentum=torch_common.MOMENTUM,
    )
    for scheme in torch_common.CASES:
        got = np.load(tmp_path / f"{scheme}.npy")
        assert got.shape == ref.shape
        assert np.max(np.abs(got - ref)) <= 1e-5, scheme


# ---- coded SGD ----------------------------------------------------------------------------------
def test_minibatch_rows_are_a_deterministic_function_of_seed_and_round(digits):
    X, y = digits
    model = mlp(hidden=(8,), dtype="float64", batch_fraction=0.25)
    theta = model.init(64)
    rows = model.batch_rows(theta, X, y, round=3)
    assert model.takes_round and not mlp().takes_round
    assert 0.2 < rows.size / X.shape[0] < 0.3
    np.testing.assert_array_equal(rows, model.batch_rows(theta + 1, X, y, round=3))
    np.testing.assert_array_equal(
        rows, mlp(hidden=(8,), batch_fraction=0.25).batch_rows(theta, X, y, round=3)
    )
    assert not np.array_equal(rows, model.batch_rows(theta, X, y, round=4))
    assert not np.array_equal(
        rows, mlp(seed=1, batch_fraction=0.25).batch_rows(theta, X, y, round=3)
    )
    # without a round, θ's bytes key the batch
    by_theta = model.batch_rows(theta, X, y)
    np.testing.assert_array_equal(by_theta, model.batch_rows(theta.copy(), X, y))
    assert not np.array_equal(by_theta, model.batch_rows(theta + 1e-3, X, y))
    # any subset of the rows (a worker's partitions) selects the same rows
    sub = np.arange(100, 700)
    np.testing.assert_array_equal(
        sub[model.batch_rows(theta, X[sub], y[sub], round=3)], rows[(rows >= 100) & (rows < 700)]
    )
    # the batch gradient: (1/p) Σ over the batch rows, from a plain full-batch model
    full = mlp(hidden=(8,), dtype="float64")
    np.testing.assert_allclose(
        model.grad(theta, X, y, round=3), full.grad(theta, X[rows], y[rows]) / 0.25, rtol=1e-12
    )
    assert model.loss(theta, X, y) == full.loss(theta, X, y)  # the loss is never batched


@pytest.mark.parametrize(("scheme", "n", "s", "seed"), CODED[1:])
def test_minibatch_decoded_gradient_is_the_batch_gradient(digits, scheme, n, s, seed):
    X, y = digits
    model = mlp(hidden=(8,), dtype="float64", batch_fraction=0.3)
    theta = model.init(64) + 0.01
    code = gc.make_code(scheme, n, s, seed=seed)
    want = model.grad(theta, X, y, round=7)
    got = decoded(model, code, theta, X, y, round=7)
    np.testing.assert_allclose(got, want, atol=1e-10 * np.abs(want).max())


def test_coded_sgd_training_equals_single_process_sgd(digits):
    X, y = digits
    model = mlp(hidden=(16,), dtype="float64", batch_fraction=0.2, l2=1e-3)
    opt = TorchAdam(lr=0.01, dtype="float64")
    theta = model.init(64)
    state, want = opt.init(theta), []
    for t in range(ROUNDS):
        g = model.grad(theta, X, y, round=t) / X.shape[0] + model.penalty_grad(theta)
        theta, state = opt.step(theta, g, state)
        want.append(theta)
    result = gc.train(
        "cyclic",
        X,
        y,
        n=8,
        s=2,
        seed=0,
        model=model,
        optimizer=opt,
        rounds=ROUNDS,
        delay=STRAGGLERS,
        eval_every=0,
        record_params=True,
    )
    np.testing.assert_allclose(np.array(result.params), np.array(want), rtol=0, atol=1e-9)


# ---- compare and the simulator ------------------------------------------------------------------
def test_compare_and_simulator_take_a_torch_model(tmp_path: Path):
    config = CompareConfig(
        schemes=("naive", "cyclic", "frc"),
        n=4,
        s=1,
        dataset="digits",
        model="torch-mlp",
        l2=1e-4,
        optimizer="adam",
        lr=0.01,
        rounds=4,
        delay="fixed:workers=1;delay=0.02",
    )
    comparison = compare(config, out=tmp_path)
    assert comparison.schemes == ["naive", "cyclic", "frc"]
    assert (tmp_path / "summary.csv").is_file()
    assert all(np.isfinite(r["test_auc"]) for r in comparison.rounds)
    # the simulator's compute model, calibrated on a torch run
    X, y = load_dataset("digits").X_train, load_dataset("digits").y_train
    code = gc.make_code("cyclic", 4, 1, seed=0)
    delay = FixedStragglers(workers=(1,), delay=0.2)  # far above a partition's compute time,
    result = gc.train(code, X, y, model=mlp(), optimizer=TorchSGD(lr=0.1), rounds=5, delay=delay)
    fit = calibrate(code, result.rounds, delay)  # even on a loaded machine
    assert 0 < fit.t_partition < 0.2
    sim = simulate(code, delay, rounds=50, **fit.kwargs())
    assert sim.mean < 0.2  # decodes without the straggler


# ---- devices, the trained module, torch data -----------------------------------------------------
def test_device_cpu_trains_and_load_into_restores_the_trained_module(digits, references):
    X, y = digits
    model = mlp(hidden=(32,), device="cpu")
    result = gc.train(
        gc.make_code("cyclic-mds", 8, 2, seed=0),
        X,
        y,
        model=model,
        optimizer=OPTIMIZERS["adam"],
        rounds=ROUNDS,
        delay=STRAGGLERS,
        eval_every=0,
        record_params=True,
    )
    assert np.max(np.abs(np.array(result.params) - references["adam"])) <= 1e-5
    net = TorchModel.load_into(MLP((32,))(X.shape[1]), result.theta)  # float32, like the model's
    with torch.no_grad():
        out = net(torch.as_tensor(X, dtype=torch.float32)).double().numpy()
    np.testing.assert_array_equal(out, model.outputs(result.theta, X))
    np.testing.assert_array_equal((out[:, 0] > 0).astype(float), model.predict(result.theta, X))
    again = model.trained(result)  # a fresh module from the factory, d from the result
    assert again is not net and again.training
    for a, b in zip(again.parameters(), net.parameters(), strict=True):
        assert torch.equal(a, b)
    assert set(state_dict(model, result)) == set(net.state_dict())
    with pytest.raises(ValueError, match=r"theta must have shape \(2113,\)"):
        TorchModel.load_into(MLP((32,))(X.shape[1]), result.theta[:-1])
    with pytest.raises(ValueError, match="d .* is needed"):
        model.trained(result.theta)


def test_device_cuda_trains_where_there_is_a_gpu_and_says_why_not_elsewhere(digits):
    """Never skips: on a machine with CUDA, device="cuda" follows the CPU run (float64); without,
    the model is refused at construction, before any worker starts. The check counts devices
    with torch.cuda.device_count() (NVML: this process never initialises CUDA, so the forked
    workers can)."""
    X, y = digits
    count = torch.cuda.device_count()
    if count:
        runs = [
            gc.train(
                "cyclic",
                X,
                y,
                n=4,
                s=1,
                model=mlp(hidden=(16,), dtype="float64", device=device),
                optimizer=TorchAdam(lr=0.01, dtype="float64"),
                rounds=5,
                eval_every=0,
            )
            for device in ("cpu", "cuda")
        ]
        np.testing.assert_allclose(runs[1].theta, runs[0].theta, rtol=0, atol=1e-9)
        with pytest.raises(ValueError, match=f"out of range: this machine has {count} CUDA"):
            mlp(device=f"cuda:{count}")
    else:
        for device in ("cuda", "cuda:1"):
            with pytest.raises(
                ValueError,
                match=rf"device='{device}': cuda requested but torch.cuda.is_available\(\) is False "
                r"on this machine \((a CPU build of torch|no GPU visible); available: cpu\)",
            ):
                make_model("torch-mlp", device=device)
        with pytest.raises(ValueError, match="cuda requested"):
            gc.train("naive", X, y, n=2, model=mlp(device="cuda"), rounds=1)
        assert multiprocessing.active_children() == []
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda' or 'cuda:<index>'"):
        TorchModel(MLP(), device="gpu")
    assert "device" not in repr(mlp()) and repr(mlp(device="cpu")) == repr(mlp())


class ImageRows(torch.utils.data.Dataset):
    """A map-style Dataset of (8x8 image tensor, int label) items."""

    def __init__(self, X: np.ndarray, y: np.ndarray) -> None:
        self.X, self.y = X, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.as_tensor(self.X[i]).reshape(8, 8), int(self.y[i])


def test_tensor_and_dataset_input_train_to_the_numpy_theta(digits):
    X, y = digits
    xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    inputs = {
        "numpy": (X, y),
        "tensors": (xt, yt),
        "image tensors": (xt.reshape(-1, 1, 8, 8), yt),
        "TensorDataset": (torch.utils.data.TensorDataset(xt, yt), None),
        "Dataset": (ImageRows(X, y), None),
        "DataLoader": (torch.utils.data.DataLoader(ImageRows(X, y), batch_size=7), None),
    }
    model = mlp(hidden=(8,), dtype="float64")
    thetas = {}
    for name, (data, labels) in inputs.items():
        checked = model.check_data(data, labels)
        np.testing.assert_array_equal(checked[0], X)
        np.testing.assert_array_equal(checked[1], y)
        result = gc.train(
            "naive",
            data,
            labels,
            n=4,
            model=model,
            optimizer=TorchSGD(lr=0.5, dtype="float64"),
            rounds=3,
            eval_every=0,
        )
        thetas[name] = result.theta
    for name, theta in thetas.items():
        np.testing.assert_allclose(theta, thetas["numpy"], rtol=0, atol=1e-12, err_msg=name)


def test_torch_data_errors(digits):
    X, y = digits

    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(zip(X, y, strict=True))

    model = mlp()
    with pytest.raises(ValueError, match="X is an IterableDataset: .* needs a map-style Dataset"):
        gc.train("naive", Stream(), n=2, model=model, rounds=1)
    dataset = torch.utils.data.TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
    with pytest.raises(ValueError, match="y must be None when X is a Dataset"):
        model.check_data(dataset, y)
    with pytest.raises(ValueError, match=r"items must be \(x, y\) pairs"):
        model.check_data(torch.utils.data.TensorDataset(torch.as_tensor(X)))
