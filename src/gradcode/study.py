"""Gradient error of approximate and exact codes against the number of stragglers and the load.

For each scheme and load, `study` builds one code (approximate schemes with ``load=``, exact ones
for s = load - 1 stragglers, so both hold `load` partitions per worker) and decodes `samples`
uniformly random sets of t stragglers for every t, the same sets for every code. A set is decoded
to the optimal least-squares a (`LeastSquaresDecoder` for approximate codes; exact codes decode
exactly up to s and best-effort beyond), and its error is `GradientCode.error(a)` =
||aᵀB - 1ᵀ||²/k. Beside each mean stands the paper's bound (`codes.bounds.error_bound`).
"""

from __future__ import annotations

import csv
import inspect
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .codes import SCHEMES, GradientCode, make_code
from .codes.approx import LeastSquaresDecoder
from .codes.bounds import BOUNDS, bound_kind, error_bound, scheme_of

DEFAULT_SCHEMES = ("expander", "approx-frc", "bibd", "sgc", "frc", "cyclic-mds", "cyclic")


@dataclass(frozen=True)
class Point:
    """Decoding error of one code over `samples` random sets of `stragglers` stragglers."""

    scheme: str
    name: str
    n: int
    load: int
    s: int
    exact: bool
    stragglers: int
    samples: int
    mean: float
    std: float
    max: float
    bound: float  # NaN: no bound claimed
    bound_kind: str


@dataclass(frozen=True)
class Study:
    """All points of a study, and the (scheme, load) pairs that do not exist for n, with why."""

    n: int
    samples: int
    seed: int
    points: list[Point]
    skipped: list[str]

    def to_csv(self, path: str | Path) -> Path:
        """One row per point (tidy CSV)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, [x.name for x in fields(Point)])
            writer.writeheader()
            writer.writerows(asdict(p) for p in self.points)
        return path


def takes_load(scheme: str) -> bool:
    """Whether the scheme is parametrised by its load (the approximate codes)."""
    return "load" in inspect.signature(SCHEMES[scheme]).parameters


def build(scheme: str, n: int, load: int, seed: int) -> GradientCode:
    """The code of `scheme` with `load` partitions per worker (ValueError when none exists)."""
    if takes_load(scheme):
        return make_code(scheme, n, 0, seed=seed, load=load)
    code = make_code(scheme, n, load - 1, seed=seed)
    if code.load != load:
        raise ValueError(f"{scheme} is built with load {code.load} for s={load - 1}: {code.notes}")
    return code


def random_masks(n: int, t: int, samples: int, rng: np.random.Generator) -> NDArray[np.bool_]:
    """(samples, n) survivor masks, each missing a uniformly random set of exactly t workers."""
    stragglers = np.argsort(rng.random((samples, n)), axis=1)[:, :t]
    masks = np.ones((samples, n), dtype=bool)
    np.put_along_axis(masks, stragglers, False, axis=1)
    return masks


def optimal_error(code: GradientCode, mask: NDArray[np.bool_]) -> float:
    """error(a) of the least-squares best a over the survivors (exact up to s)."""
    if isinstance(code.decoder, LeastSquaresDecoder):
        return code.error(code.decoder.solve(mask))
    return code.error(code.decode(mask, best_effort=True))


def study(
    n: int,
    loads: Sequence[int],
    stragglers: Sequence[int],
    *,
    samples: int = 200,
    seed: int = 0,
    schemes: Sequence[str] = DEFAULT_SCHEMES,
) -> Study:
    """Mean, std and max decoding error of every (scheme, load) code for every t in
    `stragglers`, over `samples` random straggler sets per t (seeded; shared by all codes)."""
    unknown = [x for x in schemes if x not in SCHEMES]
    if unknown:
        raise ValueError(f"unknown scheme(s) {', '.join(unknown)}; valid: {', '.join(SCHEMES)}")
    if not (isinstance(samples, int) and samples >= 1):
        raise ValueError(f"samples must be an integer >= 1, got samples={samples!r}")
    bad = [t for t in stragglers if not (isinstance(t, (int, np.integer)) and 0 <= t <= n)]
    if bad or not stragglers:
        raise ValueError(f"stragglers must be integers in 0..n={n}, got {list(stragglers)!r}")
    masks = {t: random_masks(n, t, samples, np.random.default_rng([seed, t])) for t in stragglers}
    points, skipped = [], []
    for scheme in schemes:
        for load in loads:
            try:
                code = build(scheme, n, load, seed)
            except ValueError as e:  # first sentence only (bibd lists every design)
                skipped.append(f"{scheme} load={load}: {str(e).split('. ')[0]}")
                continue
            has_bound = code.exact or scheme_of(code) in BOUNDS
            for t in stragglers:
                err = np.array([optimal_error(code, m) for m in masks[t]])
                points.append(
                    Point(
                        scheme=scheme,
                        name=code.name,
                        n=n,
                        load=load,
                        s=code.s,
                        exact=code.exact,
                        stragglers=int(t),
                        samples=samples,
                        mean=float(err.mean()),
                        std=float(err.std()),
                        max=float(err.max()),
                        bound=error_bound(code, int(t)) if has_bound else math.nan,
                        bound_kind=bound_kind(code) if has_bound else "",
                    )
                )
    return Study(n, samples, seed, points, skipped)
