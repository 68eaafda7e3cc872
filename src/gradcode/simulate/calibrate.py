"""Calibration of the simulator's timing model (t_partition, comm, overhead) from a real run."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..codes import GradientCode
from ..delays import DelayModel, EmpiricalDelay, sample_many
from ..runtime.journal import load_result
from ..runtime.result import Result
from .rounds import as_delay_model, profile


@dataclass(frozen=True)
class Calibration:
    """Simulator parameters fitted to a real run (seconds)."""

    t_partition: float  # median compute time per partition held
    comm: float  # median reply time not explained by compute and injected delay
    overhead: float  # median time from the last reply to the stepped parameters
    partition_times: tuple[float, ...] = field(default=(), repr=False)  # every reply's
    messages: tuple[float, ...] = field(default=(), repr=False)  # every reply's comm time

    def kwargs(self, per_message: bool = False, seed: int = 0) -> dict:
        """`simulate` keyword arguments: medians, or with ``per_message`` each reply's
        t_partition and comm drawn from the recorded ones (`EmpiricalDelay`, streams 2 and 3).
        On a busy machine their spread (waiting for a core) shapes the round end, and a
        slowdown factor multiplies the compute time's spread too."""
        if not per_message:
            return {"t_partition": self.t_partition, "comm": self.comm, "overhead": self.overhead}
        return {
            "t_partition": EmpiricalDelay(values=self.partition_times, seed=seed, stream=2),
            "comm": EmpiricalDelay(values=self.messages, seed=seed, stream=3),
            "overhead": self.overhead,
        }


def calibrate(
    code: GradientCode,
    records: Sequence | Result | str | Path,
    delays: DelayModel | str | None = None,
) -> Calibration:
    """Fit t_partition, comm and overhead to rounds recorded by `train` under `delays` (the
    run's delay model): a `Result`, its folder, or its ``rounds`` (each with round, arrival_s,
    compute_s, wall_s).

    comm is the median over replies of arrival - (compute * factor + extra): dispatch, transfer,
    the master's pickup and, on an oversubscribed machine, waiting for a core.
    """
    if isinstance(records, (str, Path)):
        records = load_result(records)
    if isinstance(records, Result):
        records = records.rounds
    if not records:
        raise ValueError("calibrate needs at least one recorded round")
    load = profile(code).work
    arrival = np.array([r.arrival_s for r in records])
    compute = np.array([r.compute_s for r in records])
    extra, factor = sample_many(as_delay_model(delays), [r.round for r in records], code.n)
    got = ~np.isnan(arrival)
    end = np.where(got, arrival, -math.inf).max(axis=1)
    wall = np.array([r.wall_s for r in records])
    per_partition = (compute / load)[got]
    messages = np.maximum((arrival - compute * factor - extra)[got], 0.0)
    return Calibration(
        t_partition=float(np.median(per_partition)),
        comm=float(np.median(messages)),
        overhead=float(np.median(wall - end)),
        partition_times=tuple(per_partition.tolist()),
        messages=tuple(messages.tolist()),
    )
