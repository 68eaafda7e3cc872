"""PyTorch models: coded data-parallel training of any ``nn.Module`` with a per-row loss.

``TorchModel(module, criterion)`` satisfies the :class:`~gradcode.models.base.Model` protocol, so
every code, engine, optimizer and the comparison tools take it as they take logistic regression::

    model = TorchModel(MLP(hidden=(64,), outputs=10), criterion="cross-entropy")
    gc.train("cyclic", X, y, n=8, s=2, model=model, optimizer=TorchSGD(lr=0.1, momentum=0.9))

This module is about 600 lines because it is the one place that knows torch: the model adapter
(with its device, torch data input and the way back to an ``nn.Module``), its two example
networks, their registry factories and the deterministic row sampler of coded SGD belong together
(splitting them would spread the float64/dtype and CPU/device boundaries around).

theta is every parameter of the module, in ``module.named_parameters()`` order, as ONE flat vector.
The runtime's buffers are float64; inside torch the parameters are ``dtype`` (float32 or float64).
The conversion happens in exactly two places, both in the worker: theta (float64) becomes a flat
``dtype`` tensor on entry (:meth:`TorchModel._flat`) and the flat ``dtype`` gradient becomes
float64 on exit (:meth:`TorchModel.grad`).

A worker's coded gradient is ``d/dθ Σ_r w_r l_r(θ)`` with w_r = B[i, j] for the rows of partition
j: ONE forward and ONE backward over the worker's rows; the module must treat rows independently
(it runs in eval mode: no dropout, BatchNorm with running statistics), else the B-weighted losses
do not add up to the full objective.

Coded SGD (``batch_fraction=p``): round t's batch S_t holds row r iff u(seed, t, bytes of
(x_r, y_r)) < p, a hash, so every worker holding a row makes the same decision without
coordination, whatever rows it holds: S_t ∩ P_j is the batch's part j, and worker i computes
Σ_j B[i, j] Σ_{r ∈ S_t ∩ P_j} ∇l_r / p over the parts in its support. The decoded gradient is the
batch gradient (1/(p m)) Σ_{r ∈ S_t} ∇l_r (normalised by the expected batch size p·m: unbiased),
the same batch for every scheme of a comparison, and a single process computes it with
``grad(theta, X, y, round=t)``. The worker learns t from ``takes_round`` (runtime/worker.py
passes ``round=``); a call without a round keys the batch by θ's bytes instead.

Devices (``device="cpu" | "cuda" | "cuda:1"``): :meth:`TorchModel.grad`, the worker's job, runs on
``device``; its rows go there once (cached per chunk of the job) and θ once per call; the gradient
comes back as float64 numpy. The master's calls (``init``, ``loss``, ``outputs``, predictions) run
on the CPU, so the master never initialises CUDA and forked workers may (CUDA cannot be used in a
child forked after its parent initialised it). A missing device is a ValueError at construction,
checked with ``torch.cuda.device_count()`` (NVML where it can: it does not initialise CUDA).

Threads: a process other than the one that imported this module (a forked local worker, an MPI
worker's compute process) sets ``torch.set_num_threads(threads)`` (default 1) before its first
torch operation: n workers share the cores, and libgomp hangs in a forked child whose parent ran a
parallel region unless the child goes single-threaded first.
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import scipy.sparse as sp

from ..registry import Registry, require
from .base import L2Penalty, Matrix, check_data

if TYPE_CHECKING:
    from ..runtime.result import Result

torch = require("torch", "torch", __name__)
nn, functional_call = torch.nn, torch.func.functional_call

DTYPES = {"float32": torch.float32, "float64": torch.float64}
LOSSES: dict[str, Callable[[], nn.Module]] = {
    "bce": lambda: nn.BCEWithLogitsLoss(reduction="none"),
    "cross-entropy": lambda: nn.CrossEntropyLoss(reduction="none"),
    "mse": lambda: nn.MSELoss(reduction="none"),
}
_LOSSES = Registry("criterion", LOSSES, plural="criteria")
_CLASS_TARGETS = (nn.CrossEntropyLoss, nn.NLLLoss, nn.MultiMarginLoss)  # y as class ids (long)
_IMPORT_PID = os.getpid()  # processes with another pid are workers (see the module docstring)
_threads_pid = _IMPORT_PID  # the worker process whose thread count is already set
_MASK64 = (1 << 64) - 1
_CPU = torch.device("cpu")
_CACHED_DATA = 16  # (X, y) pairs kept as tensors per process: a worker's chunks, the master's sets

ModuleSpec = nn.Module | Callable[[int], nn.Module]
_DEVICES = "'cpu', 'cuda' or 'cuda:<index>'"


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch.device this machine has, else a ValueError naming what it has.

    CUDA is counted with ``torch.cuda.device_count()``, which asks NVML where it can and then does
    not initialise CUDA in this process (forked workers can still use it)."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be {_DEVICES}, got device={device!r}") from None
    if dev.type == "cpu":
        return dev
    if dev.type != "cuda":
        raise ValueError(f"device must be {_DEVICES}, got device={device!r}")
    count = torch.cuda.device_count()
    if count == 0:
        why = "a CPU build of torch" if torch.version.cuda is None else "no GPU visible"
        raise ValueError(
            f"device={device!r}: cuda requested but torch.cuda.is_available() is False on this "
            f"machine ({why}; available: cpu)"
        )
    if dev.index is not None and dev.index >= count:
        raise ValueError(
            f"device={device!r} is out of range: this machine has {count} CUDA device(s) "
            f"(available: cpu, cuda:0..cuda:{count - 1})"
        )
    return dev


# ---- module factories (picklable; d = number of input features) ----------------------------------
@dataclass(frozen=True)
class MLP:
    """d inputs -> ``hidden`` Linear+ReLU layers -> ``outputs`` logits."""

    hidden: tuple[int, ...] = (64,)
    outputs: int = 1

    def __call__(self, d: int) -> nn.Module:
        sizes = (d, *self.hidden)
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [nn.Linear(a, b), nn.ReLU()]
        return nn.Sequential(*layers, nn.Linear(sizes[-1], self.outputs))


@dataclass(frozen=True)
class CNN:
    """Square single-channel images of d = side² pixels (rows are flat): two 3x3 conv+ReLU
    layers with ``channels`` filters, 2x2 max-pool after the first, a linear head."""

    channels: tuple[int, int] = (8, 16)
    outputs: int = 1

    def __call__(self, d: int) -> nn.Module:
        side = math.isqrt(d)
        if side * side != d or side < 4:
            raise ValueError(f"CNN needs square images of side >= 4, got d={d} pixels")
        c1, c2 = self.channels
        pooled = side // 2
        return nn.Sequential(
            nn.Unflatten(1, (1, side, side)),
            nn.Conv2d(1, c1, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(c2 * pooled * pooled, self.outputs),
        )


# ---- the model --------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class TorchModel(L2Penalty):
    """An ``nn.Module`` and a per-row loss as a gradcode model (see the module docstring).

    module: an ``nn.Module``, or a factory ``d -> nn.Module`` (d = features), built under
        ``torch.manual_seed(seed)`` (the global RNG state is left as it was).
    criterion: the per-row loss: "bce" (y in {0, 1}, one logit), "cross-entropy" (y = class
        ids), "mse", or a loss module with ``reduction="none"`` (class-id losses get y as int64,
        others as ``dtype``; an output of shape (m, 1) is squeezed to (m,) for them).
    dtype: "float32" or "float64", the parameters' and the arithmetic's type inside torch.
    l2: penalty 0.5 * l2 * ||θ||², applied on the master (float64).
    batch_fraction: None for full-batch gradients, else p in (0, 1]: coded SGD.
    threads: torch threads in worker processes.
    device: where :meth:`grad` computes: "cpu", "cuda" or "cuda:<index>" (see the module
        docstring); a device this machine lacks is a ValueError here.
    """

    module: ModuleSpec
    criterion: str | nn.Module = "bce"
    dtype: str = "float32"
    l2: float = 0.0
    seed: int = 0
    batch_fraction: float | None = None
    threads: int = 1
    device: str = "cpu"
    name: ClassVar[str] = "torch"
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if not (isinstance(self.module, nn.Module) or callable(self.module)):
            raise ValueError(
                f"module must be an nn.Module or a factory d -> nn.Module, got {self.module!r}"
            )
        if isinstance(self.criterion, str):
            _LOSSES.factory(self.criterion)  # an unknown name lists the valid ones
        reduction = getattr(self.criterion, "reduction", "none")
        if not isinstance(self.criterion, str) and reduction != "none":
            raise ValueError(
                f"criterion must compute one value per row: reduction='none', got reduction={reduction!r}"
            )
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got dtype={self.dtype!r}")
        self.check_l2()
        p = self.batch_fraction
        if p is not None and not (isinstance(p, float | int) and 0 < p <= 1):
            raise ValueError(f"batch_fraction must be None or in (0, 1], got batch_fraction={p!r}")
        if not (isinstance(self.threads, int) and self.threads >= 1):
            raise ValueError(f"threads must be an integer >= 1, got threads={self.threads!r}")
        object.__setattr__(self, "device", str(check_device(self.device)))

    def __repr__(self) -> str:
        m = self.module
        what = type(m).__name__ if isinstance(m, nn.Module) else repr(m)
        loss = self.criterion if isinstance(self.criterion, str) else type(self.criterion).__name__
        batch = "" if self.batch_fraction is None else f" batch_fraction={self.batch_fraction:g}"
        dev = "" if self.device == "cpu" else f" device={self.device}"
        return f"<TorchModel {what} criterion={loss} {self.dtype} l2={self.l2:g}{batch}{dev}>"

    # pickling (the MPI engine sends the model to every rank): the per-process cache stays behind
    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_cache"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _cache={})

    # ---- Model protocol ------------------------------------------------------------------------
    def init(self, d: int) -> np.ndarray:
        """The module's parameters as one flat float64 vector (a factory is built for d inputs)."""
        if d < 1:
            raise ValueError(f"d must be >= 1, got d={d}")
        net = self._net(d, _CPU)
        with torch.no_grad():
            flat = torch.cat([p.reshape(-1) for p in net.parameters()])
        return flat.numpy().astype(np.float64)

    @property
    def takes_round(self) -> bool:
        """True in coded-SGD mode: the worker passes ``round=`` to :meth:`grad`."""
        return self.batch_fraction is not None

    def grad(
        self,
        theta: np.ndarray,
        X: Matrix,
        y: np.ndarray,
        w: np.ndarray | None = None,
        round: int | None = None,
    ) -> np.ndarray:
        """Σ_r w_r ∇l_r(θ) in one forward/backward pass; coded SGD: over the rows of the round's
        batch S_t only, times 1/p (see :meth:`batch_rows`)."""
        return self.value_and_grad(theta, X, y, w, round)[1]

    def value_and_grad(
        self,
        theta: np.ndarray,
        X: Matrix,
        y: np.ndarray,
        w: np.ndarray | None = None,
        round: int | None = None,
    ) -> tuple[float, np.ndarray]:
        """Σ_r w_r l_r(θ) and its gradient from the same forward pass (coded SGD: both over the
        round's batch, times 1/p: unbiased estimates of the full sums)."""
        dev = torch.device(self.device)
        x, target = self._tensors(X, y, dev)
        scale = 1.0
        if self.batch_fraction is not None:
            idx = self.batch_rows(theta, X, y, round)
            rows = torch.as_tensor(idx, device=dev)
            x, target, w = x[rows], target[rows], None if w is None else np.asarray(w)[idx]
            scale = 1.0 / self.batch_fraction
        flat = self._flat(theta, dev, requires_grad=True)
        value, g = 0.0, None
        if target.shape[0]:
            total = self._weighted(self._losses(flat, x, target), w)
            (g,) = torch.autograd.grad(total, flat, allow_unused=True)
            value = float(total.detach())
        if g is None:  # no rows, or no parameter reached the loss
            g = torch.zeros_like(flat)
        out = g.cpu().numpy().astype(np.float64)  # dtype -> float64 for the runtime's buffers
        return value * scale, (out * scale if scale != 1.0 else out)

    def loss(
        self, theta: np.ndarray, X: Matrix, y: np.ndarray, w: np.ndarray | None = None
    ) -> float:
        """Σ_r w_r l_r(θ) over all rows (never a batch), w=None meaning all ones."""
        x, target = self._tensors(X, y, _CPU)
        with torch.no_grad():
            return float(self._weighted(self._losses(self._flat(theta, _CPU), x, target), w))

    def predict_score(self, theta: np.ndarray, X: Matrix) -> np.ndarray:
        """One score per row: the logit for one output, else the predicted class id."""
        out = self.outputs(theta, X)
        return out[:, 0] if out.shape[1] == 1 else out.argmax(axis=1).astype(np.float64)

    def check_data(self, X: Any, y: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """:func:`check_data`, then dense rows; y in {0, 1} for bce, class ids for class losses.

        X, y may also be torch tensors, or X a map-style ``Dataset`` (or a ``DataLoader``'s) of
        (x, y) items with y=None: converted once, here on the master, to numpy (see
        :func:`as_numpy`)."""
        X, y = as_numpy(X, y)
        X, y = check_data(X, y, binary=self.criterion == "bce")
        if isinstance(self._loss_fn(), _CLASS_TARGETS) and not (
            np.all(y >= 0) and np.all(y == np.round(y))
        ):
            raise ValueError("y must hold class ids 0, 1, 2, ... for a class-id loss")
        return (X.toarray() if sp.issparse(X) else X), y

    # ---- extras ---------------------------------------------------------------------------------
    def outputs(self, theta: np.ndarray, X: Matrix) -> np.ndarray:
        """The module's outputs, (m, C) float64."""
        with torch.no_grad():
            out = self._forward(self._flat(theta, _CPU), self._tensors(X, None, _CPU)[0])
        return out.reshape(out.shape[0], -1).numpy().astype(np.float64)

    def predict(self, theta: np.ndarray, X: Matrix) -> np.ndarray:
        """Predicted labels: logit > 0 for one output, else the argmax class."""
        out = self.outputs(theta, X)
        return (
            (out[:, 0] > 0).astype(np.float64)
            if out.shape[1] == 1
            else out.argmax(axis=1).astype(np.float64)
        )

    def accuracy(self, theta: np.ndarray, X: Matrix, y: np.ndarray) -> float:
        """Fraction of rows whose predicted label is y."""
        return float(np.mean(self.predict(theta, X) == np.asarray(y)))

    @staticmethod
    def load_into(module: nn.Module, theta: np.ndarray) -> nn.Module:
        """Write θ into ``module``'s parameters (``named_parameters()`` order, each in its own
        dtype and device) and return the module."""
        params = list(module.parameters())
        total = sum(p.numel() for p in params)
        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape != (total,):
            raise ValueError(
                f"theta must have shape ({total},) (the module's parameters), got shape {theta.shape}"
            )
        with torch.no_grad():
            offset = 0
            for p in params:
                chunk = torch.as_tensor(theta[offset : offset + p.numel()])
                p.copy_(chunk.view_as(p).to(p.device, p.dtype))
                offset += p.numel()
        return module

    def trained(self, theta: np.ndarray | Result, d: int | None = None) -> nn.Module:
        """A fresh copy of the module (``dtype``, on the CPU) holding θ, or a Result's final θ;
        a factory needs d, which a Result knows."""
        if hasattr(theta, "config"):  # a Result
            if theta.theta is None:
                raise ValueError("the result has no theta (the run ended before its first round)")
            d = d if d is not None else int(theta.config["d"])
            theta = theta.theta
        if d is None and not isinstance(self.module, nn.Module):
            raise ValueError("d (the number of features) is needed to build the factory's module")
        return self.load_into(self._build(d or 0), theta)

    def batch_rows(
        self, theta: np.ndarray, X: Matrix, y: np.ndarray, round: int | None = None
    ) -> np.ndarray:
        """Indices of the rows of (X, y) in round t's batch S_t: row r is in it iff
        u(seed, t, bytes of (x_r, y_r)) < p. Without a round, θ's bytes stand for t."""
        if self.batch_fraction is None:
            return np.arange(y.shape[0])
        if round is None:
            tag = b"theta" + np.ascontiguousarray(theta, dtype=np.float64).tobytes()
        else:
            tag = b"round" + int(round).to_bytes(8, "little", signed=True)
        key = self.seed.to_bytes(8, "little", signed=True)
        digest = hashlib.blake2b(tag, digest_size=8, key=key).digest()
        u = _uniform(self._row_keys(X, y) ^ np.uint64(int.from_bytes(digest, "little")))
        return np.flatnonzero(u < self.batch_fraction)

    # ---- internals ------------------------------------------------------------------------------
    def _ready(self) -> None:
        """In a worker process, go to `threads` torch threads before any torch operation."""
        global _threads_pid
        pid = os.getpid()
        if pid != _IMPORT_PID and pid != _threads_pid:
            torch.set_num_threads(self.threads)
            _threads_pid = pid

    def _net(self, d: int, device: torch.device) -> nn.Module:
        """This process's working copy of the module on ``device``: ``dtype``, eval mode, no
        parameter grads."""
        self._ready()
        if self._cache.get("d") != d:
            net = self._build(d).eval().requires_grad_(False)
            self._cache.clear()
            self._cache.update(
                {("net", _CPU): net},
                d=d,
                shapes=[(k, p.shape, p.numel()) for k, p in net.named_parameters()],
            )
        key = ("net", device)
        if key not in self._cache:
            self._cache[key] = copy.deepcopy(self._cache["net", _CPU]).to(device)
        return self._cache[key]

    def _build(self, d: int) -> nn.Module:
        """A new module in ``dtype`` on the CPU: a copy of the given one, or the factory's for d
        inputs built under ``torch.manual_seed(seed)``."""
        if isinstance(self.module, nn.Module):
            net = copy.deepcopy(self.module)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                net = self.module(d)
        return net.to(DTYPES[self.dtype])

    def _flat(
        self, theta: np.ndarray, device: torch.device, requires_grad: bool = False
    ) -> torch.Tensor:
        """θ (float64) as one flat ``dtype`` tensor on ``device``: the float64 -> float32 point."""
        self._ready()
        flat = torch.tensor(np.asarray(theta), dtype=DTYPES[self.dtype]).to(device)
        return flat.requires_grad_(requires_grad)

    def _forward(self, flat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        net = self._net(x.shape[1], x.device)
        shapes = self._cache["shapes"]
        total = sum(size for _, _, size in shapes)
        if flat.numel() != total:
            raise ValueError(f"theta has {flat.numel()} entries, the module has {total} parameters")
        params, offset = {}, 0
        for key, shape, size in shapes:
            params[key] = flat[offset : offset + size].view(shape)
            offset += size
        return functional_call(net, (params, dict(net.named_buffers())), (x,))

    def _losses(self, flat: torch.Tensor, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-row losses l_r(θ), shape (m,)."""
        out = self._forward(flat, x)
        if target.dtype != torch.long and out.ndim == 2 and out.shape[1] == 1 and target.ndim == 1:
            out = out[:, 0]
        losses = self._loss_fn()(out, target)
        return losses.flatten(1).sum(dim=1) if losses.ndim > 1 else losses

    def _weighted(self, losses: torch.Tensor, w: np.ndarray | None) -> torch.Tensor:
        if w is None:
            return losses.sum()
        w = np.asarray(w, dtype=np.float64)
        if w.shape != (losses.shape[0],):
            raise ValueError(
                f"w must have shape ({losses.shape[0]},) (one weight per row), got shape {w.shape}"
            )
        return losses @ torch.as_tensor(w).to(losses.device, losses.dtype)

    def _tensors(
        self, X: Matrix, y: np.ndarray | None, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """X as a dense ``dtype`` tensor and y as the loss's targets, on ``device``: moved once
        and cached per (X, y) (a worker's fixed chunks; the master's train and test sets)."""
        key = ("data", id(X), id(y), device)
        cached = self._cache.get(key)
        if cached is not None and cached[0] is X and cached[1] is y:
            return cached[2], cached[3]
        dense = X.toarray() if sp.issparse(X) else np.asarray(X)
        x = torch.as_tensor(dense).to(device, DTYPES[self.dtype])
        labels = torch.as_tensor(np.asarray([] if y is None else y))
        class_ids = isinstance(self._loss_fn(), _CLASS_TARGETS)
        target = labels.to(device, torch.long if class_ids else DTYPES[self.dtype])
        data = [k for k in self._cache if isinstance(k, tuple) and k[0] == "data"]
        for old in data[: max(0, len(data) - _CACHED_DATA + 1)]:
            del self._cache[old]
        self._cache[key] = (X, y, x, target)
        return x, target

    def _loss_fn(self) -> nn.Module:
        return LOSSES[self.criterion]() if isinstance(self.criterion, str) else self.criterion

    def _row_keys(self, X: Matrix, y: np.ndarray) -> np.ndarray:
        """A 64-bit hash of each row's bytes and label, cached for the worker's fixed rows."""
        cached = self._cache.get("keys")
        if cached is not None and cached[0] is X and cached[1] is y:
            return cached[2]
        dense = np.ascontiguousarray(X.toarray() if sp.issparse(X) else X)
        labels = np.ascontiguousarray(y, dtype=np.float64)
        keys = np.fromiter(
            (
                int.from_bytes(
                    hashlib.blake2b(row.tobytes() + lab.tobytes(), digest_size=8).digest(), "little"
                )
                for row, lab in zip(dense, labels, strict=True)
            ),
            dtype=np.uint64,
            count=labels.shape[0],
        )
        self._cache["keys"] = (X, y, keys)
        return keys


def state_dict(model: TorchModel, theta: np.ndarray | Result, d: int | None = None) -> dict:
    """The module's ``state_dict()`` at θ (or a Result's final θ): see :meth:`TorchModel.trained`."""
    return model.trained(theta, d).state_dict()


def as_numpy(X: Any, y: Any = None) -> tuple[Any, Any]:
    """Torch data as numpy, other data unchanged: tensors (images of any shape flattened to rows),
    or a map-style Dataset (``len`` and ``__getitem__`` -> (x, y); a DataLoader's dataset) read
    once, item by item, each x flattened into a row. An IterableDataset is a ValueError."""
    data = torch.utils.data
    if isinstance(X, data.DataLoader):
        X = X.dataset
    if isinstance(X, data.IterableDataset):
        raise ValueError(
            "X is an IterableDataset: gradcode partitions rows by index, so it needs a map-style "
            "Dataset (len and __getitem__ returning (x, y)) or tensors X, y"
        )
    if isinstance(X, data.Dataset):
        if y is not None:
            raise ValueError("y must be None when X is a Dataset (its items are (x, y) pairs)")
        try:
            m = len(X)  # type: ignore[arg-type]
        except TypeError:
            raise ValueError(
                "X is a Dataset without len(): a map-style Dataset is needed"
            ) from None
        items = [X[i] for i in range(m)]
        if not all(isinstance(item, tuple | list) and len(item) == 2 for item in items):
            raise ValueError("a Dataset's items must be (x, y) pairs")
        if not items:
            raise ValueError("X is an empty Dataset")
        rows = [_array(x).reshape(-1) for x, _ in items]
        return np.stack(rows), np.array([_array(t).reshape(-1)[0] for _, t in items])
    if isinstance(X, torch.Tensor):
        X = _array(X)
        X = X.reshape(X.shape[0], -1) if X.ndim > 2 else X
    return X, _array(y) if isinstance(y, torch.Tensor) else y


def _array(value: Any) -> np.ndarray:
    """A tensor (any device, with or without grad) or array-like as a numpy array."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _uniform(keys: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser of each key, as a uniform float in [0, 1)."""
    z = keys.astype(np.uint64, copy=True)
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


# ---- registry factories (``make_model("torch-mlp", l2=1e-4)``) -----------------------------------
def mlp(
    *,
    hidden: tuple[int, ...] = (64,),
    outputs: int = 1,
    criterion: str | None = None,
    dtype: str = "float32",
    l2: float = 0.0,
    seed: int = 0,
    batch_fraction: float | None = None,
    device: str = "cpu",
) -> TorchModel:
    """An :class:`MLP`; criterion "bce" for one output, else "cross-entropy"."""
    net = MLP(tuple(hidden), outputs)
    return _registered(net, outputs, criterion, dtype, l2, seed, batch_fraction, device)


def cnn(
    *,
    channels: tuple[int, int] = (8, 16),
    outputs: int = 1,
    criterion: str | None = None,
    dtype: str = "float32",
    l2: float = 0.0,
    seed: int = 0,
    batch_fraction: float | None = None,
    device: str = "cpu",
) -> TorchModel:
    """A :class:`CNN` for square images; criterion "bce" for one output, else "cross-entropy"."""
    net = CNN(tuple(channels), outputs)
    return _registered(net, outputs, criterion, dtype, l2, seed, batch_fraction, device)


def _registered(
    net: ModuleSpec,
    outputs: int,
    criterion: str | None,
    dtype: str,
    l2: float,
    seed: int,
    batch_fraction: float | None,
    device: str,
) -> TorchModel:
    """The registry factories' model: bce for one output, else cross-entropy."""
    criterion = criterion or ("bce" if outputs == 1 else "cross-entropy")
    return TorchModel(net, criterion, dtype, l2, seed, batch_fraction, device=device)


__all__ = [
    "CNN",
    "DTYPES",
    "LOSSES",
    "MLP",
    "TorchModel",
    "as_numpy",
    "check_device",
    "cnn",
    "mlp",
    "state_dict",
]
