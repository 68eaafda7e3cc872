"""Run several schemes on the same data, partitions, optimizer, seed and straggler draws."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..codes import GradientCode, make_code
from ..data import auc, load_dataset
from ..delays import parse_delay
from ..models import make_model
from ..runtime import RoundRecord, train
from . import tables
from .config import CompareConfig


@dataclass(frozen=True)
class SchemeRun:
    """One scheme's run, with metrics evaluated after it, outside the timed path."""

    code: GradientCode
    rounds: list[RoundRecord]
    time_s: np.ndarray  # (R+1,) wall-clock time at which each parameter vector was ready; [0] = 0
    train_loss: np.ndarray  # (R+1,) training objective at theta_0 .. theta_R
    test_loss: np.ndarray  # (R+1,) mean test loss
    test_auc: np.ndarray  # (R+1,)
    test_acc: np.ndarray  # (R+1,) fraction of test rows with (score > 0) == y
    dead: dict[int, str]


def compare(
    config: CompareConfig,
    *,
    data=None,
    out: str | Path | None = None,
    on_round: Callable[[str, RoundRecord], None] | None = None,
) -> tables.Comparison:
    """Train every scheme of `config` under identical conditions; evaluate; optionally save."""
    codes = [
        make_code(name, config.n, 0 if name == "naive" else config.s, seed=config.seed)
        for name in config.schemes
    ]  # every code checked before any run
    model = make_model(config.model, l2=config.l2)
    delay = parse_delay(config.delay, seed=config.seed)
    ds = (
        data
        if data is not None
        else load_dataset(config.dataset, seed=config.seed, **config.dataset_params)
    )
    runs = []
    for code in codes:
        result = train(
            code,
            ds.X_train,
            ds.y_train,
            model=model,
            optimizer=config.optimizer,
            lr=config.lr,
            rounds=config.rounds,
            engine=config.engine,
            delay=delay,
            seed=config.seed,
            round_timeout=config.round_timeout,
            deadline=config.deadline,
            message_dtype=config.message_dtype,
            row_time=config.row_time,
            eval_every=0,
            record_params=True,
            on_round=None if on_round is None else (lambda r, c=code: on_round(c.name, r)),
        )
        thetas = [model.init(ds.X_train.shape[1]), *result.params]
        m_train, m_test = ds.X_train.shape[0], ds.X_test.shape[0]
        runs.append(
            SchemeRun(
                code=code,
                rounds=result.rounds,
                time_s=np.concatenate([[0.0], np.cumsum(result.wall_s)]),
                train_loss=np.array(
                    [
                        model.loss(t, ds.X_train, ds.y_train) / m_train + model.penalty(t)
                        for t in thetas
                    ]
                ),
                test_loss=np.array([model.loss(t, ds.X_test, ds.y_test) / m_test for t in thetas]),
                test_auc=np.array(
                    [auc(ds.y_test, model.predict_score(t, ds.X_test)) for t in thetas]
                ),
                test_acc=np.array(
                    [np.mean((model.predict_score(t, ds.X_test) > 0) == ds.y_test) for t in thetas]
                ),
                dead=result.dead,
            )
        )
    comparison = tables.from_runs(config, runs)
    if out is not None:
        comparison.save(out)
    return comparison
