"""Gradient codes: the registry `SCHEMES` and `make_code`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ..registry import Registry
from ..spec import Value, format_spec
from .adaptive import adaptive
from .approx_frc import approx_frc
from .base import DEFAULT_TOL, DecodingError, GradientCode, check_ns, min_norm_lstsq
from .bibd import bibd
from .binary import binary
from .comm import comm_cyclic
from .cyclic import cyclic
from .cyclic_mds import cyclic_mds
from .expander import expander
from .frc import frc
from .hetero import hetero
from .partial import partial_cyclic, partial_frc
from .protocol import Decoder, decodable_by_loop
from .sgc import sgc
from .stream import stream
from .uncoded import Budget, asynchronous, backup, budget, dealt, ignore, naive

Factory = Callable[..., GradientCode]  # (n, s, rng, **params) -> GradientCode

SCHEMES: dict[str, Factory] = {
    "naive": naive,
    "ignore": ignore,
    "frc": frc,
    "cyclic": cyclic,
    "cyclic-mds": cyclic_mds,
    "comm-cyclic": comm_cyclic,
    "binary": binary,
    "partial-cyclic": partial_cyclic,
    "partial-frc": partial_frc,
    "stream": stream,
    "hetero": hetero,
    "adaptive": adaptive,
    "expander": expander,
    "approx-frc": approx_frc,
    "bibd": bibd,
    "sgc": sgc,
    "async": asynchronous,
    "backup": backup,
    "budget": budget,
}
_SCHEMES = Registry("scheme", SCHEMES, injected=("n", "s", "rng"))
STRAGGLER_FREE = frozenset({"naive", "async", "backup", "budget"})  # schemes taking no s (s=0)
ASYNCHRONOUS = frozenset({"async"})  # schemes whose codes set `staleness` (never decoded)
S_FREE_ONLY = frozenset({"async", "budget"})  # built at s=0 only: no s is their tolerance


def needs_s(spec: str) -> bool:
    """Whether scheme `spec` ("name" or "name:k=v;...") needs s, the stragglers to tolerate."""
    return _SCHEMES.check(spec) not in STRAGGLER_FREE


def make_code(
    name: str,
    n: int,
    s: int = 0,
    *,
    seed: int | np.random.Generator = 0,
    tol: float = DEFAULT_TOL,
    **params: Value,
) -> GradientCode:
    """Build the gradient code `name` for n workers tolerating s stragglers.

    `name` may carry the scheme's parameters as a spec, ``"partial-cyclic:P=4"``, or they come as
    keywords (``P=4``). `seed` (an int or a numpy Generator) drives random constructions; the same
    seed gives the same B. `tol` bounds the residual max|aᵀB - 1| every exact decode must meet.
    """
    scheme, params = _SCHEMES.resolve(name, params)
    n, s = check_ns(n, s)
    if not (isinstance(tol, (int, float)) and tol > 0):
        raise ValueError(f"tol must be a number > 0, got tol={tol!r}")
    code = SCHEMES[scheme](n, s, np.random.default_rng(seed), **params)
    if params:
        code = replace(code, name=format_spec(scheme, params))
    return code if tol == DEFAULT_TOL else replace(code, tol=float(tol))


__all__ = [
    "ASYNCHRONOUS",
    "S_FREE_ONLY",
    "Budget",
    "SCHEMES",
    "STRAGGLER_FREE",
    "DEFAULT_TOL",
    "Decoder",
    "DecodingError",
    "GradientCode",
    "decodable_by_loop",
    "dealt",
    "check_ns",
    "make_code",
    "min_norm_lstsq",
    "needs_s",
]
