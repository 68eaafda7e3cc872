"""Objectives: loss and sample-weighted gradient. ``make_model("logistic", l2=1e-3)``."""

from __future__ import annotations

from gradcode.models.base import LinearModel, Model, check_data, full_objective
from gradcode.models.least_squares import LeastSquares
from gradcode.models.logistic import LogisticRegression
from gradcode.registry import Registry

MODELS: dict[str, type[LinearModel]] = {
    "logistic": LogisticRegression,
    "least-squares": LeastSquares,
}
# Optional models, imported only when asked for (importing gradcode never imports torch).
LAZY_MODELS: dict[str, str] = {
    "torch-mlp": "gradcode.models.torch:mlp",
    "torch-cnn": "gradcode.models.torch:cnn",
}
MODEL_REGISTRY = Registry("model", MODELS, lazy=LAZY_MODELS, extra="torch")


def make_model(name: str, **kw: float) -> Model:
    """Build a model by registry name or spec ("logistic:l2=1e-3"); unknown names or parameters
    list the valid ones."""
    return MODEL_REGISTRY.build(name, **kw)


__all__ = [
    "LAZY_MODELS",
    "MODELS",
    "MODEL_REGISTRY",
    "LeastSquares",
    "LinearModel",
    "LogisticRegression",
    "Model",
    "check_data",
    "full_objective",
    "make_model",
]
