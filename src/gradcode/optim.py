"""Optimizers and learning-rate schedules.

Interface (functional, deterministic, like optax): an optimizer is a small frozen dataclass of
hyperparameters; its state is a separate frozen :class:`OptState`::

    opt = make_optimizer("nesterov", lr=0.1)
    state = opt.init(theta0)
    theta1, state = opt.step(theta0, g0, state)   # g0 = gradient evaluated at theta0

``step`` maps (theta_t, g(theta_t)) to theta_{t+1}, the parameters broadcast next round; it never
modifies its inputs. ``update`` (see :func:`update`) is the same step for the master's hot path:
it may overwrite theta, g and the state's buffers instead of allocating new vectors, and gives
bit for bit the values ``step`` gives. ``lr`` is a float or a schedule: any callable ``t -> lr`` where t = 0, 1, ...
counts the steps taken so far (``state.step``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Real
from typing import ClassVar, Protocol

import numpy as np

from .registry import Registry

Schedule = Callable[[int], float]


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, Real) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {name}={value!r}")


# --------------------------------------------------------------------------- schedules


@dataclass(frozen=True)
class Constant:
    """lr_t = lr."""

    lr: float

    def __post_init__(self) -> None:
        _positive("lr", self.lr)

    def __call__(self, t: int) -> float:
        return float(self.lr)


@dataclass(frozen=True)
class InverseTime:
    """lr_t = lr0 / (1 + decay * t)."""

    lr0: float
    decay: float = 0.01

    def __post_init__(self) -> None:
        _positive("lr0", self.lr0)
        if not (math.isfinite(self.decay) and self.decay >= 0):
            raise ValueError(f"decay must be a finite number >= 0, got decay={self.decay!r}")

    def __call__(self, t: int) -> float:
        return self.lr0 / (1.0 + self.decay * t)


@dataclass(frozen=True)
class StepDecay:
    """lr_t = lr0 * drop ** (t // every)."""

    lr0: float
    every: int = 100
    drop: float = 0.1

    def __post_init__(self) -> None:
        _positive("lr0", self.lr0)
        if not (isinstance(self.every, int) and self.every >= 1):
            raise ValueError(f"every must be an integer >= 1, got every={self.every!r}")
        if not 0 < self.drop <= 1:
            raise ValueError(f"drop must satisfy 0 < drop <= 1, got drop={self.drop!r}")

    def __call__(self, t: int) -> float:
        return self.lr0 * self.drop ** (t // self.every)


@dataclass(frozen=True)
class Cosine:
    """lr_t = lr_min + (lr0 - lr_min) * (1 + cos(pi * t / total)) / 2; lr_min once t >= total."""

    lr0: float
    total: int
    lr_min: float = 0.0

    def __post_init__(self) -> None:
        _positive("lr0", self.lr0)
        if not (isinstance(self.total, int) and self.total >= 1):
            raise ValueError(f"total must be an integer >= 1, got total={self.total!r}")
        if not 0 <= self.lr_min <= self.lr0:
            raise ValueError(
                f"lr_min must satisfy 0 <= lr_min <= lr0={self.lr0}, got lr_min={self.lr_min!r}"
            )

    def __call__(self, t: int) -> float:
        frac = min(t, self.total) / self.total
        return self.lr_min + (self.lr0 - self.lr_min) * 0.5 * (1.0 + math.cos(math.pi * frac))


SCHEDULES: dict[str, type] = {
    "constant": Constant,
    "inverse-time": InverseTime,
    "step": StepDecay,
    "cosine": Cosine,
}


_SCHEDULES = Registry("schedule", SCHEDULES)


def make_schedule(name: str, **kw: float) -> Schedule:
    """Build a schedule by name, e.g. ``make_schedule("inverse-time", lr0=1, decay=0.1)``."""
    return _SCHEDULES.build(name, **kw)


def learning_rate(lr: float | Schedule, t: int) -> float:
    """The learning rate at step t for a float or a schedule; must be finite and > 0."""
    value = lr(t) if callable(lr) else lr
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"learning rate must be finite and > 0, got lr={value!r} at step t={t}")
    return float(value)


# --------------------------------------------------------------------------- optimizers


@dataclass(frozen=True)
class OptState:
    """step: steps taken so far; bufs: the optimizer's vectors (see each optimizer)."""

    step: int = 0
    bufs: tuple[np.ndarray, ...] = ()


class Optimizer(Protocol):
    name: ClassVar[str]

    def init(self, theta0: np.ndarray) -> OptState: ...

    def step(
        self, theta: np.ndarray, g: np.ndarray, state: OptState
    ) -> tuple[np.ndarray, OptState]: ...


@dataclass(frozen=True)
class _Base:
    lr: float | Schedule

    def __post_init__(self) -> None:
        if not callable(self.lr):
            _positive("lr", self.lr)


@dataclass(frozen=True)
class GD(_Base):
    """theta_{t+1} = theta_t - lr_t * g(theta_t)."""

    name: ClassVar[str] = "gd"

    def init(self, theta0: np.ndarray) -> OptState:
        return OptState()

    def step(
        self, theta: np.ndarray, g: np.ndarray, state: OptState
    ) -> tuple[np.ndarray, OptState]:
        return theta - learning_rate(self.lr, state.step) * g, OptState(state.step + 1)

    def update(
        self, theta: np.ndarray, g: np.ndarray, state: OptState
    ) -> tuple[np.ndarray, OptState]:
        np.multiply(g, learning_rate(self.lr, state.step), out=g)
        np.subtract(theta, g, out=theta)
        return theta, OptState(state.step + 1)


@dataclass(frozen=True)
class Nesterov(_Base):
    """Nesterov's accelerated gradient, as in the paper (gradient taken at the broadcast theta).

    With t = state.step + 1 = 1, 2, ...:
        y_{t+1}     = theta_t - lr_t * g(theta_t)
        theta_{t+1} = y_{t+1} + mu_t * (y_{t+1} - y_t),   mu_t = (t - 1) / (t + 2)
    or mu_t = ``momentum`` when given. y_1 = theta_1 = theta0; bufs = (y_t,).
    """

    momentum: float | None = None
    name: ClassVar[str] = "nesterov"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.momentum is not None and not 0 <= self.momentum < 1:
            raise ValueError(
                "momentum must be None or satisfy 0 <= momentum < 1, "
                f"got momentum={self.momentum!r}"
            )

    def init(self, theta0: np.ndarray) -> OptState:
        return OptState(0, (np.array(theta0, dtype=np.float64),))

    def step(
        self, theta: np.ndarray, g: np.ndarray, state: OptState
    ) -> tuple[np.ndarray, OptState]:
        t = state.step + 1
        mu = (t - 1) / (t + 2) if self.momentum is None else self.momentum
        y_next = theta - learning_rate(self.lr, state.step) * g
        return y_next + mu * (y_next - state.bufs[0]), OptState(t, (y_next,))

    def update(
        self, theta: np.ndarray, g: np.ndarray, state: OptState
    ) -> tuple[np.ndarray, OptState]:
        t = state.step + 1
        mu = (t - 1) / (t + 2) if self.momentum is None else self.momentum
        y = state.bufs[0]
        np.multiply(g, learning_rate(self.lr, state.step), out=g)
        y_next = np.subtract(theta, g, out=theta)
        np.subtract(y_next, y, out=g)
        np.multiply(g, mu, out=g)
        theta_next = np.add(y_next, g, out=y)  # y's buffer now holds theta_{t+1}
        return theta_next, OptState(t, (y_next,))


@dataclass(frozen=True)
class Momentum(_Base):
    """Heavy ball (PyTorch form): v_{t+1} = beta * v_t + g; theta_{t+1} = theta_t - lr_t * v_{t+1}.

    v_0 = 0; bufs = (v_t,).
    """

    beta: float = 0.9
    name: ClassVar[str] = "momentum"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.beta < 1:
            raise ValueError(f"beta must satisfy 0 <= beta < 1, got beta={self.beta!r}")

    def init(self, theta0: np.ndarray) -> OptState:
        return OptState(0, (np.zeros(np.shape(theta0), dtype=np.float64),))

    def step(
        self, theta: np.ndarray, g: np.ndarray, state: OptState
    ) -> tuple[np.ndarray, OptState]:
        v = self.beta * state.bufs[0] + g
        return theta - learning_rate(self.lr, state.step) * v, OptState(state.step + 1, (v,))

    def update(
        self, theta: np.ndarray, g: np.ndarray, state: OptState
    ) -> tuple[np.ndarray, OptState]:
        v = state.bufs[0]
        np.multiply(v, self.beta, out=v)
        np.add(v, g, out=v)
        np.multiply(v, learning_rate(self.lr, state.step), out=g)
        np.subtract(theta, g, out=theta)
        return theta, OptState(state.step + 1, (v,))


def check_adam(beta1: float, beta2: float, eps: float) -> None:
    """Adam's hyperparameters: 0 <= beta1, beta2 < 1 and eps > 0 (shared with the torch Adam)."""
    for key, value in (("beta1", beta1), ("beta2", beta2)):
        if not 0 <= value < 1:
            raise ValueError(f"{key} must satisfy 0 <= {key} < 1, got {key}={value!r}")
    _positive("eps", eps)


@dataclass(frozen=True)
class Adam(_Base):
    """Adam (Kingma & Ba 2015) with bias correction; bufs = (m_t, v_t)."""

    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    name: ClassVar[str] = "adam"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_adam(self.beta1, self.beta2, self.eps)

    def init(self, theta0: np.ndarray) -> OptState:
        zeros = np.zeros(np.shape(theta0), dtype=np.float64)
        return OptState(0, (zeros, zeros))

    def step(
        self, theta: np.ndarray, g: np.ndarray, state: OptState
    ) -> tuple[np.ndarray, OptState]:
        t = state.step + 1
        m = self.beta1 * state.bufs[0] + (1 - self.beta1) * g
        v = self.beta2 * state.bufs[1] + (1 - self.beta2) * g * g
        m_hat, v_hat = m / (1 - self.beta1**t), v / (1 - self.beta2**t)
        lr = learning_rate(self.lr, state.step)
        return theta - lr * m_hat / (np.sqrt(v_hat) + self.eps), OptState(t, (m, v))


def update(
    opt: Optimizer, theta: np.ndarray, g: np.ndarray, state: OptState
) -> tuple[np.ndarray, OptState]:
    """`opt.step` in place where the optimizer has `update` (theta, g and the state's buffers
    may be overwritten; the values are step's, bit for bit), else `opt.step` itself."""
    in_place = getattr(opt, "update", None)
    return opt.step(theta, g, state) if in_place is None else in_place(theta, g, state)


OPTIMIZERS: dict[str, type] = {"gd": GD, "nesterov": Nesterov, "momentum": Momentum, "adam": Adam}
# torch's own optimizers, imported only when asked for.
TORCH_OPTIMIZERS: dict[str, str] = {
    "torch-sgd": "gradcode.optim_torch:TorchSGD",
    "torch-adam": "gradcode.optim_torch:TorchAdam",
}
OPTIMIZER_REGISTRY = Registry("optimizer", OPTIMIZERS, lazy=TORCH_OPTIMIZERS, extra="torch")


def make_optimizer(name: str, lr: float | Schedule, **kw: float) -> Optimizer:
    """Build an optimizer by registry name, e.g. ``make_optimizer("nesterov", lr=0.1)``."""
    return OPTIMIZER_REGISTRY.build(name, lr=lr, **kw)
