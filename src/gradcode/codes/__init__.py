"""Gradient codes: the registry `SCHEMES` and `make_code`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .base import DEFAULT_TOL, DecodingError, GradientCode, check_ns, min_norm_lstsq
from .cyclic import cyclic
from .cyclic_mds import cyclic_mds
from .frc import frc
from .uncoded import ignore, naive

Factory = Callable[[int, int, np.random.Generator], GradientCode]

SCHEMES: dict[str, Factory] = {
    "naive": naive,
    "ignore": ignore,
    "frc": frc,
    "cyclic": cyclic,
    "cyclic-mds": cyclic_mds,
}


def make_code(
    name: str,
    n: int,
    s: int = 0,
    *,
    seed: int | np.random.Generator = 0,
    tol: float = DEFAULT_TOL,
) -> GradientCode:
    """Build the gradient code `name` for n workers tolerating s stragglers.

    `seed` (an int or a numpy Generator) drives random constructions (`cyclic`); the same seed
    gives the same B. `tol` bounds the residual max|aᵀB - 1| every exact decode must meet.
    """
    if name not in SCHEMES:
        raise ValueError(f"unknown scheme {name!r}; valid schemes: {', '.join(SCHEMES)}")
    n, s = check_ns(n, s)
    if not (isinstance(tol, (int, float)) and tol > 0):
        raise ValueError(f"tol must be a number > 0, got tol={tol!r}")
    code = SCHEMES[name](n, s, np.random.default_rng(seed))
    return code if tol == DEFAULT_TOL else _with_tol(code, float(tol))


def _with_tol(code: GradientCode, tol: float) -> GradientCode:
    from dataclasses import replace

    return replace(code, tol=tol)


__all__ = [
    "SCHEMES",
    "DEFAULT_TOL",
    "DecodingError",
    "GradientCode",
    "check_ns",
    "make_code",
    "min_norm_lstsq",
]
