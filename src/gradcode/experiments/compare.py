"""Run several schemes on the same data, partitions, optimizer, seed and straggler draws."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..codes import GradientCode, make_code, needs_s
from ..data import auc, load_dataset
from ..runtime import Result, RoundRecord, load_result, train
from ..runtime.async_loop import check_async
from ..runtime.journal import atomic_write, prepare
from ..runtime.signals import interruptible
from . import tables
from .config import CompareConfig
from .tables import SchemeRun


def compare(
    config: CompareConfig,
    *,
    data=None,
    out: str | Path | None = None,
    resume: bool = False,
    on_round: Callable[[str, RoundRecord], None] | None = None,
) -> tables.Comparison:
    """Train every scheme of `config` under identical conditions; evaluate; optionally save.

    With `out`, each scheme's run is journaled and checkpointed in `out/runs/NN-scheme/` (as
    `train(out=...)` does) and the comparison tables are rewritten after every scheme, so a
    killed comparison keeps every finished scheme and the rounds of the one it was in.
    `resume=True` continues such a folder: finished schemes are read back, not run again; the
    interrupted one resumes at its checkpoint; the rest run as usual."""
    codes = [
        make_code(name, config.n, config.s if needs_s(name) else 0, seed=config.seed)
        for name in config.schemes
    ]  # every code checked before any run
    for code in codes:  # asynchronous SGD steps with plain GD only, and never with a deadline
        check_async(code, config.run.build_optimizer(), config)
    if resume and out is None:
        raise ValueError("resume=True needs out: the folder of the comparison to continue")
    base = config.run  # model and delay built once, for every scheme; parameters kept for metrics
    model, delay = base.build_model(), base.build_delay()
    run = replace(base, model=model, delay=delay, eval_every=0, record_params=True)
    if out is not None:
        out = prepare(out)
        text = config.to_toml()
        atomic_write(out / "config.toml", lambda f: f.write(text.encode()))
    ds = (
        data
        if data is not None
        else load_dataset(config.dataset, seed=config.seed, **config.dataset_params)
    )
    with interruptible():  # SIGTERM/SIGHUP like Ctrl-C, between schemes too
        runs = _run_all(config, run, codes, ds, out, resume, on_round)
    return tables.from_runs(config, runs)


def _run_all(config, run, codes, ds, out, resume, on_round) -> list[SchemeRun]:
    runs: list[SchemeRun] = []
    for i, code in enumerate(codes):
        folder = None if out is None else out / "runs" / f"{i:02d}-{_slug(code.name)}"
        result = _finished(folder, config.rounds) if resume else None
        if result is None:
            again = resume and _resumable(folder)
            result = train(
                code,
                ds.X_train,
                ds.y_train,
                config=run,
                out=None if again else folder,
                resume=folder if again else None,
                on_round=None if on_round is None else (lambda r, c=code: on_round(c.name, r)),
            )
        runs.append(_evaluate(code, run.model, ds, result))
        if out is not None:
            tables.from_runs(config, runs).save(out)
    return runs


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", name)


def _resumable(folder: Path | None) -> bool:
    return folder is not None and (folder / "checkpoint.npz").is_file()


def _finished(folder: Path | None, rounds: int) -> Result | None:
    """The saved run in `folder` if it completed all `rounds` rounds, else None."""
    if folder is None or not (folder / "result.json").is_file():
        return None
    result = load_result(folder)
    done = result.status == "ok" and len(result.rounds) == rounds
    return result if done and result.params is not None else None


def _evaluate(code: GradientCode, model, ds, result: Result) -> SchemeRun:
    """Every round's loss and test metrics, and the starting parameters', outside the timed
    path."""
    thetas = [model.init(ds.X_train.shape[1]), *result.params]
    m_train, m_test = ds.X_train.shape[0], ds.X_test.shape[0]
    values = []
    for theta in thetas:
        score = model.predict_score(theta, ds.X_test)
        values.append(
            {
                "train_loss": model.loss(theta, ds.X_train, ds.y_train) / m_train
                + model.penalty(theta),
                "test_loss": model.loss(theta, ds.X_test, ds.y_test) / m_test,
                "test_auc": auc(ds.y_test, score),
                "test_acc": float(np.mean((score > 0) == ds.y_test)),
            }
        )
    rounds = [
        replace(r, loss=v.pop("train_loss"), metrics={**r.metrics, **v})  # async: staleness
        for r, v in zip(result.rounds, values[1:], strict=True)
    ]
    return SchemeRun(code, replace(result, rounds=rounds), values[0])
