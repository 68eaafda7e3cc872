"""The public API as a user's typed code calls it: checked by mypy in `make test`, never run.

mypy reads the package through py.typed; a name or signature that mypy cannot follow (an
untyped return, a parameter that rejects what the docs show) fails here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

import gradcode
from gradcode import (
    SCHEMES,
    DecodingError,
    Fault,
    GradientCode,
    Interrupted,
    Result,
    RunConfig,
    TrainingError,
    load_result,
    make_code,
    simulate,
    train,
)
from gradcode.simulate import Simulation


def codes() -> None:
    code: GradientCode = make_code("cyclic", 10, 2, seed=1)
    paper = GradientCode.from_matrix(np.array([[0.5, 1, 0], [0, 1, -1], [0.5, 0, 1]]), s=1)
    a: NDArray[np.float64] = paper.decode([1, 2])
    ready: bool = code.can_decode(range(8))
    k: int = code.k
    load: int = code.load
    held: tuple[int, ...] = code.partitions(0)
    error: float = code.error(a)
    names: list[str] = sorted(SCHEMES)
    try:
        code.decode([0])
    except DecodingError as e:
        print(e, ready, k, load, held, error, names)


def runs(X: NDArray[np.float64], y: NDArray[np.float64], out: Path) -> None:
    config = RunConfig(rounds=20, lr=0.5, faults=(Fault(worker=1, round=3),))
    try:
        result: Result = train("cyclic", X, y, n=6, s=1, config=config, out=out)
    except (TrainingError, Interrupted) as e:
        print(e)
        return
    theta: NDArray[np.float64] | None = result.theta
    status: str = result.status
    again: Result = load_result(out)
    print(theta, status, again.scheme, len(again.rounds), gradcode.__version__)


def simulations() -> None:
    sim: Simulation = simulate(make_code("frc", 10, 1), "exponential:p=0.2;mean=0.05", 1000)
    mean: float = float(sim.round_s.mean())
    print(sim.scheme, sim.n, sim.s, mean)
