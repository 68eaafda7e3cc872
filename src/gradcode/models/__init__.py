"""Objectives: loss and sample-weighted gradient. ``make_model("logistic", l2=1e-3)``."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable

from gradcode.models.base import LinearModel, Model, check_data, full_objective
from gradcode.models.least_squares import LeastSquares
from gradcode.models.logistic import LogisticRegression

MODELS: dict[str, type[LinearModel]] = {
    "logistic": LogisticRegression,
    "least-squares": LeastSquares,
}
# Optional models, imported only when asked for (importing gradcode never imports torch).
LAZY_MODELS: dict[str, str] = {
    "torch-mlp": "gradcode.models.torch:mlp",
    "torch-cnn": "gradcode.models.torch:cnn",
}


def make_model(name: str, **kw: float) -> Model:
    """Build a model by registry name; unknown names or parameters list the valid ones."""
    if name not in MODELS and name not in LAZY_MODELS:
        valid_names = ", ".join(sorted(MODELS) + sorted(LAZY_MODELS))
        raise ValueError(f"unknown model {name!r}; valid models: {valid_names}")
    cls = MODELS[name] if name in MODELS else _import(LAZY_MODELS[name])
    valid = set(inspect.signature(cls).parameters)
    unknown = sorted(set(kw) - valid)
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {', '.join(unknown)} for model {name!r}; "
            f"valid parameters: {', '.join(sorted(valid))}"
        )
    return cls(**kw)


def _import(path: str) -> Callable[..., Model]:
    """'package.module:attribute' -> the attribute (the module says how to install what it needs)."""
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


__all__ = [
    "LAZY_MODELS",
    "MODELS",
    "LeastSquares",
    "LinearModel",
    "LogisticRegression",
    "Model",
    "check_data",
    "full_objective",
    "make_model",
]
