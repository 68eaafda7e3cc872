"""torch's own SGD (with momentum) and Adam behind gradcode's functional optimizer interface.

They run on the master: every step builds ``torch.optim.SGD`` / ``Adam`` over ONE flat parameter
tensor, loads its state from :class:`~gradcode.optim.OptState`, steps, and hands the new state
back, so ``step`` stays a pure function like the numpy optimizers of :mod:`gradcode.optim`::

    opt = TorchSGD(lr=0.1, momentum=0.9)
    state = opt.init(theta0)
    theta1, state = opt.step(theta0, g0, state)

theta and g are float64 numpy vectors (the runtime's); the step is computed in ``dtype``
(float32 by default, as a native torch float32 training loop would) and returned as float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .models.torch import DTYPES, torch  # without torch: one line saying how to install it
from .optim import OptState, Schedule, _positive, check_adam, learning_rate


@dataclass(frozen=True)
class _TorchOptimizer:
    lr: float | Schedule
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if not callable(self.lr):
            _positive("lr", self.lr)
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got dtype={self.dtype!r}")

    def _make(self, p: torch.Tensor, lr: float) -> torch.optim.Optimizer:
        raise NotImplementedError

    def _keys(self) -> tuple[str, ...]:
        """The entries of torch's per-parameter state, in the order of OptState.bufs."""
        return ()

    def init(self, theta0: np.ndarray) -> OptState:
        """No buffers yet: torch creates them at the first step (bufs = its state, in order)."""
        return OptState()

    def step(
        self, theta: np.ndarray, g: np.ndarray, state: OptState
    ) -> tuple[np.ndarray, OptState]:
        dtype = DTYPES[self.dtype]
        p = torch.tensor(np.asarray(theta), dtype=dtype)
        p.grad = torch.tensor(np.asarray(g), dtype=dtype)
        opt = self._make(p, learning_rate(self.lr, state.step))
        if state.bufs:
            opt.state[p] = self._load(state, dtype)
        opt.step()
        after = opt.state[p]
        bufs = tuple(after[k].numpy().copy() for k in self._keys())
        return p.numpy().astype(np.float64), OptState(state.step + 1, bufs)

    def _load(self, state: OptState, dtype: torch.dtype) -> dict[str, torch.Tensor]:
        # torch keeps a step count as a float32 scalar tensor, the buffers in the parameter's dtype
        return {
            k: torch.tensor(float(v)) if k == "step" else torch.tensor(v, dtype=dtype)
            for k, v in zip(self._keys(), state.bufs, strict=True)
        }


@dataclass(frozen=True)
class TorchSGD(_TorchOptimizer):
    """``torch.optim.SGD(lr, momentum, dampening, nesterov, weight_decay)``; bufs = (v_t,) once
    momentum > 0 (torch's momentum_buffer)."""

    momentum: float = 0.0
    dampening: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    name: ClassVar[str] = "torch-sgd"

    def _keys(self) -> tuple[str, ...]:
        return ("momentum_buffer",) if self.momentum else ()

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.momentum < 1:
            raise ValueError(
                f"momentum must satisfy 0 <= momentum < 1, got momentum={self.momentum!r}"
            )

    def _make(self, p: torch.Tensor, lr: float) -> torch.optim.Optimizer:
        return torch.optim.SGD(
            [p],
            lr=lr,
            momentum=self.momentum,
            dampening=self.dampening,
            nesterov=self.nesterov,
            weight_decay=self.weight_decay,
        )


@dataclass(frozen=True)
class TorchAdam(_TorchOptimizer):
    """``torch.optim.Adam(lr, betas, eps, weight_decay)``; bufs = (step, m_t, v_t) (torch's
    step, exp_avg, exp_avg_sq)."""

    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    name: ClassVar[str] = "torch-adam"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_adam(self.beta1, self.beta2, self.eps)

    def _make(self, p: torch.Tensor, lr: float) -> torch.optim.Optimizer:
        return torch.optim.Adam(
            [p], lr=lr, betas=(self.beta1, self.beta2), eps=self.eps, weight_decay=self.weight_decay
        )

    def _keys(self) -> tuple[str, ...]:
        return ("step", "exp_avg", "exp_avg_sq")


__all__ = ["TorchAdam", "TorchSGD"]
