"""Objectives: loss and sample-weighted gradient. ``make_model("logistic", l2=1e-3)``."""

from __future__ import annotations

from dataclasses import fields

from gradcode.models.base import LinearModel, Model, check_data, full_objective
from gradcode.models.least_squares import LeastSquares
from gradcode.models.logistic import LogisticRegression

MODELS: dict[str, type[LinearModel]] = {
    "logistic": LogisticRegression,
    "least-squares": LeastSquares,
}


def make_model(name: str, **kw: float) -> Model:
    """Build a model by registry name; unknown names or parameters list the valid ones."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(sorted(MODELS))}")
    cls = MODELS[name]
    valid = {f.name for f in fields(cls)}
    unknown = sorted(set(kw) - valid)
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {', '.join(unknown)} for model {name!r}; "
            f"valid parameters: {', '.join(sorted(valid))}"
        )
    return cls(**kw)


__all__ = [
    "MODELS",
    "LeastSquares",
    "LinearModel",
    "LogisticRegression",
    "Model",
    "check_data",
    "full_objective",
    "make_model",
]
