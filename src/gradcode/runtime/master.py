"""`train`: one run of the master (or its resume), from checked arguments to its saved end.

The rounds themselves are loop.py's; the folder is journal.py's and checkpoint.py's."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from ..codes import STRAGGLER_FREE, GradientCode, make_code, needs_s
from ..data import split_rows, worker_rows
from ..data.rows import NpzRows
from ..delays import DelayModel
from ..links import Link
from ..models import Model
from ..spec import parse_spec
from .async_loop import ASYNC_METRICS, AsyncLoop, check_async
from .checkpoint import (
    CHECKPOINT_SECONDS,
    Checkpoint,
    code_identity,
    data_fingerprint,
    load_checkpoint,
)
from .config import RunConfig
from .engines import make_engine
from .faults import Fault
from .journal import Journal, load_result, timestamp
from .loop import RoundLoop, TrainingError
from .result import Result, RoundRecord
from .signals import Interrupted, deferred, interruptible, received
from .worker import FileRows, Segment, WorkerJob, message_width


def make_jobs(
    code: GradientCode,
    X,
    y: np.ndarray,
    model: Model,
    delay: DelayModel,
    faults: Sequence[Fault],
    row_time: float = 0.0,
    link: Link | None = None,
    seed: int = 0,
) -> list[WorkerJob]:
    """Split the m rows into k partitions (in the code's relative `sizes`, else sizes differing
    by at most one) and give worker i, per message slot, the rows of that row of B's partitions,
    each row weighted by B[msg, j]: one chunk for single-message codes, a chunk per partition
    for multi-message codes (their workers may stop between chunks) and block codes (each
    partition's gradient is folded into the message with its block weights). Worker i gets the
    faults of worker i and the run's `seed` (its corrupt faults' random streams)."""
    parts = split_rows(X.shape[0], code.k, code.sizes)

    def take(rows: np.ndarray):  # the rows themselves, or (data by reference) where they are
        return FileRows(X, rows) if isinstance(X, NpzRows) else X[rows]

    def segment(msg: int, held: tuple[int, ...]) -> Segment:
        if code.blocks > 1:
            rows = parts[held[0]]
            return Segment(take(rows), y[rows], np.ones(rows.size), code.B[msg, held[0] :: code.k])
        rows, w = worker_rows(held, code.B[msg], parts)
        return Segment(take(rows), y[rows], w)

    def message(msg: int) -> tuple[Segment, ...] | None:
        held = code.message_partitions(msg)
        if not held:
            return None
        if code.budget is not None:  # fixed-time rounds: the rows in pieces, the time checked
            return pieces(segment(msg, held), code.budget.pieces)
        chunks = [held] if code.parts == 1 and code.blocks == 1 else [(j,) for j in held]
        return tuple(segment(msg, c) for c in chunks)

    # dealt codes: every worker holds every row's message (one copy, shared), computes one
    pool = tuple(message(msg) for msg in range(code.messages)) if code.deal else None
    jobs = []
    for i in range(code.n):
        slots = range(i * code.parts, (i + 1) * code.parts)
        messages = tuple(message(msg) if pool is None else pool[msg] for msg in slots)
        mine = tuple(f for f in faults if f.worker == i)
        jobs.append(
            WorkerJob(
                i,
                code.n,
                messages,
                model,
                delay,
                mine,
                row_time,
                link,
                seed,
                pool=pool,
                budget=code.budget,
            )
        )
    return jobs


def pieces(seg: Segment, count: int) -> tuple[Segment, ...]:
    """`seg` as min(count, rows) contiguous pieces of near-equal rows (at least one)."""
    rows = seg.y.size
    count = max(1, min(count, rows))
    edges = [rows * q // count for q in range(count + 1)]
    return tuple(seg.part(edges[q], edges[q + 1]) for q in range(count))


def train(
    code: GradientCode | str,
    X,
    y: np.ndarray | None = None,
    *,
    config: RunConfig | None = None,
    n: int | None = None,
    s: int | None = None,
    theta0: np.ndarray | None = None,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    on_round: Callable[[RoundRecord], None] | None = None,
    **options: Any,
) -> Result:
    """Coded distributed gradient descent on F(θ) = (1/m) Σ_r l_r(θ) + penalty(θ).

    `code` is a GradientCode or a scheme name or spec (then `n` and `s` build it, with the
    config's seed; s may be left out only for schemes that tolerate no stragglers). The run's
    options are `config` (a RunConfig; default: its defaults) with the keyword `options` (its
    field names: lr=0.3, rounds=50, delay=..., ...) replacing its values. Every round the master
    sends θ to every idle worker, gathers messages until `code.can_decode`, decodes Σ a_i g_i,
    steps the optimizer and records timings. With a `deadline` (seconds after the broadcast) it
    stops waiting then and steps with the best approximation the arrived messages give
    (recording its error). Messages travel as `message_dtype`; the master sums in float64.
    (X, y) are checked by the model's `check_data` (a TorchModel also takes tensors, or a torch
    Dataset as X with y left out). X may also stay in its file: an `NpzRows` or its spec
    "npz:path=FILE" (an uncompressed .npz with X and y), y left out; then every worker reads only
    the rows of its partitions, on either engine, and the master reads none of X.
    `row_time` adds emulated work: each worker sleeps that many seconds per row it processes,
    times its delay factor (a heavier model, or dedicated machines, on a host whose cores the
    workers share). A dead worker is a permanent straggler; when the live workers can no longer
    decode, `TrainingError` is raised with the partial result. An asynchronous code
    (``async:staleness=T``) is never decoded: each message is applied as it arrives, no worker
    more than T clocks ahead of the slowest (runtime/async_loop.py: plain "gd" only, no
    deadline; a round is one clock step of the slowest worker; a dead worker leaves the clock).

    With `out`, the folder is a journal of the run (journal.py: every round on disk when it
    ends) with a checkpoint every `checkpoint_every` rounds (default: about every 30 s) and at
    every end. `resume=DIR` continues the run saved in DIR (and writes on into it) up to `rounds`
    rounds in all: same data, model, optimizer and scheme; n, s, engine, delays and faults may
    change, and each change is kept in `result.segments`. SIGINT, SIGTERM and SIGHUP end the run
    with status "interrupted" (journal and checkpoint written) and raise `Interrupted`.
    """
    config = RunConfig.of(config, **options)
    with interruptible():
        run = _Run.prepare(code, X, y, config, n, s, theta0, out, resume)
        eng = make_engine(config.engine, run.code.n)  # an MPI worker rank serves rank 0 in here
        try:
            run.open()
        except BaseException:
            eng.close()
            raise
        return run.execute(eng, config.rounds, config.eval_every, on_round)


class _Run:
    """One start (or resume) of a run: checked arguments, its folder, engine and end states."""

    @classmethod
    def prepare(
        cls,
        code: GradientCode | str,
        X,
        y: np.ndarray | None,
        config: RunConfig,
        n: int | None,
        s: int | None,
        theta0: np.ndarray | None,
        out: str | Path | None,
        resume: str | Path | None,
    ) -> _Run:
        """Every argument checked, and the folder proven writable, before any process starts."""
        code = _code(code, n, s, config.seed)
        if code.adapt is not None and config.engine != "local":
            raise ValueError(
                f"{code!r} re-encodes by restarting the workers on their new rows: engine "
                f"'local' only (the mpi engine's ranks serve one job per run), got "
                f"engine={config.engine!r}"
            )
        if code.budget is not None and config.deadline is not None:
            raise ValueError(
                f"{code!r} sets its own round time (T={code.budget.T:g} s of compute a worker): "
                f"leave deadline unset (got {config.deadline})"
            )
        if code.a and config.deadline is not None:
            raise ValueError(
                f"{code!r} locates corrupt messages among n-s arrivals; a deadline would step on "
                f"messages it could not check: leave deadline unset (got {config.deadline})"
            )
        model, opt, delay = config.build_model(), config.build_optimizer(), config.build_delay()
        check_async(code, opt, config)
        X, y = _check_data(code, model, X, y, config.faults)
        if resume is not None:
            if out is not None and Path(out).resolve() != Path(resume).resolve():
                raise ValueError(
                    f"resume={str(resume)!r} writes on into its own folder: leave out unset or "
                    f"equal to it, got out={str(out)!r}"
                )
            if theta0 is not None:
                raise ValueError(
                    "theta0 and resume both set: a resumed run starts at its checkpoint"
                )
            out = resume
        m, d = X.shape
        described = {
            "scheme": code.name,
            "n": code.n,
            "s": code.s,
            "k": code.k,
            "parts": code.parts,
            "seed": config.seed,
            "model": repr(model),
            "optimizer": repr(opt),
            "rounds": config.rounds,
            "engine": config.engine,
            "delay": repr(delay),
            "faults": [repr(f) for f in config.faults],
            "m": m,
            "d": d,
            "round_timeout": config.round_timeout,
            "deadline": config.deadline,
            "message_dtype": config.message_dtype,
            "row_time": config.row_time,
            "link": None if (link := config.build_link()) is None else link.spec(),
            "blocks": code.blocks,
        }
        if code.staleness is not None:
            described["staleness"] = code.staleness
        run = cls()
        run.code, run.model, run.opt, run.X, run.y, run.m = code, model, opt, X, y, m
        run.config, run.delay = config, delay
        run.identity = {
            "data": data_fingerprint(X, y),
            "m": m,
            "d": d,
            "model": repr(model),
            "optimizer": repr(opt),
        }
        run.code_id = code_identity(code, config.seed)
        run.result = Result(described, params=[] if config.record_params else None)
        run.start, run.theta = 0, np.array(model.init(d) if theta0 is None else theta0, float)
        run.state = opt.init(run.theta)
        run.out, run.resume, run.journal = out, resume, None
        run.every, run.last_checkpoint = config.checkpoint_every, time.monotonic()
        return run

    def open(self) -> None:
        """Take the state of the run to resume, if any, and open the folder (master only)."""
        code, resume = self.code, self.resume
        segment = {"from_round": 0, "scheme": code.name, "n": code.n, "s": code.s}
        if resume is not None:
            self._restore(Path(resume), segment)
        self.result.segments.append(
            {**segment, "engine": self.config.engine, "started": timestamp()}
        )
        if self.out is not None:
            keep = self.start if resume is not None else None
            metrics = ASYNC_METRICS if code.staleness is not None else ()
            self.journal = Journal(self.out, self.result, keep=keep, metrics=metrics)
            if resume is None:
                self.checkpoint()  # round 0: a run killed at any point can be resumed

    def _restore(self, folder: Path, segment: dict) -> None:
        """Take the state of the checkpoint in `folder`, and the rounds the journal holds before it."""
        ck = load_checkpoint(folder)
        for key, value in self.identity.items():
            if ck.identity.get(key) != value:
                raise ValueError(
                    f"cannot resume {folder}: its run has {key} {ck.identity.get(key)!r}, this one "
                    f"{value!r} (a resume needs the same data, model and optimizer)"
                )
        before = ck.code
        scheme = parse_spec(before["scheme"], "code")[0]
        if parse_spec(self.code.name, "code")[0] != scheme:
            raise ValueError(
                f"cannot resume {folder} with scheme {self.code.name!r}: its run used "
                f"{before['scheme']!r} (n and s may change, the scheme may not)"
            )
        saved = load_result(folder)
        self.start, self.theta, self.state = ck.round, ck.theta.astype(float), ck.opt
        result = self.result
        result.rounds = [r for r in saved.rounds if r.round < ck.round]
        if result.params is not None:
            result.params = list((saved.params or [])[: ck.round])
            if len(result.params) != ck.round:
                raise ValueError(
                    f"cannot resume {folder} with record_params: its run recorded parameters "
                    f"for {len(result.params)} of {ck.round} rounds"
                )
        result.segments = saved.segments
        same = self.code_id == before
        if before["n"] == self.code.n:
            result.dead = dict(ck.dead)  # the same workers: the dead stay dead
        segment.update(from_round=ck.round, resumed=True, same_code=same)

    def execute(self, eng, rounds: int, eval_every: int, on_round) -> Result:
        result = self.result
        try:
            if self.start < rounds:
                loop = self._start(eng)
                adapt = self.code.adapt
                while True:
                    stop = rounds if adapt is None else min(rounds, self.start + adapt.every)
                    # the master's sums on one thread: the cores are the workers'
                    with threadpool_limits(1):
                        loop.run(stop, eval_every, on_round)
                    if self.start >= rounds:
                        break
                    if (proposal := adapt.propose(self.code)) is not None:
                        eng.close()  # re-encode between two rounds: workers get their new rows
                        self._reencode(*proposal)
                        loop = self._start(eng)
            result.status, result.error = "ok", ""
        except TrainingError as e:
            result.status, result.error = "failed", str(e)
            if (signum := received()) is not None:  # workers died of the same signal first
                raise self._interrupted(Interrupted(signum)) from e
            raise
        except KeyboardInterrupt as e:
            raise self._interrupted(e if isinstance(e, Interrupted) else Interrupted(2)) from None
        except BaseException as e:
            result.status, result.error = "failed", f"{type(e).__name__}: {e}"
            raise
        finally:
            with deferred(drop=True):  # a second signal must not cut the clean-up short
                eng.close()
                self._close()
        return result

    def _start(self, eng) -> RoundLoop:
        """Start the engine's workers on the current code's jobs; the loop that drives them."""
        c = self.config
        jobs = make_jobs(
            self.code, self.X, self.y, self.model, self.delay, c.faults, c.row_time,
            c.build_link(), c.seed,
        )  # fmt: skip
        if self.code.staleness is not None:  # each worker counts its own clock
            jobs = [replace(job, clock=self.start) for job in jobs]
        dtype, d = np.dtype(c.message_dtype), self.theta.size
        width = self.code.message_length(message_width(d))  # blocks: ceil((d+1)/m)
        eng.start(jobs, d, parts=self.code.parts, dtype=dtype, width=width)
        return RoundLoop(self, eng) if self.code.staleness is None else AsyncLoop(self, eng)

    def _reencode(self, code: GradientCode, gain: float, moved: float) -> None:
        """Switch to `code` from round `start` on, kept in the result's segments."""
        self.code = code
        self.result.segments.append(
            {
                "from_round": self.start,
                "scheme": code.name,
                "n": code.n,
                "s": code.s,
                "reencoded": True,
                "predicted_gain": round(gain, 4),
                "moved_share": round(moved, 4),
                "notes": code.notes,
                "engine": self.config.engine,
                "started": timestamp(),
            }
        )

    def _interrupted(self, e: Interrupted) -> Interrupted:
        self.result.status = "interrupted"
        self.result.error = f"interrupted by {e.signame} after {len(self.result.rounds)} rounds"
        e.result = self.result
        return e

    def stepped(self, t: int, theta: np.ndarray, state) -> None:
        """Round t is recorded (its record is result.rounds[-1]): journal it, checkpoint if due."""
        self.theta, self.state, self.start = theta, state, t + 1
        if self.journal is None:
            return
        self.journal.append(self.result.rounds[-1], theta)
        due = (
            (t + 1) % self.every == 0
            if self.every
            else time.monotonic() - self.last_checkpoint >= CHECKPOINT_SECONDS
        )
        if due:
            self.checkpoint()

    def checkpoint(self) -> None:
        assert self.journal is not None
        self.journal.sync()  # the rounds a checkpoint names are on disk before it is
        Checkpoint(
            self.start, self.theta, self.state, dict(self.result.dead), self.code_id, self.identity
        ).save(self.journal.out)
        self.result.master = master_usage()
        self.journal.write_status()
        self.last_checkpoint = time.monotonic()

    def _close(self) -> None:
        """At every end: the last checkpoint, then the journal's end state."""
        self.result.master = master_usage()
        if self.journal is None:
            return
        try:
            self.checkpoint()
        finally:
            self.journal.close()


def data_source(spec: str) -> NpzRows:
    """A training set given by reference: "npz:path=FILE" (members X and y; `X=`/`y=` name
    others), an uncompressed .npz whose rows each worker reads for itself."""
    name, params = parse_spec(spec, "data source", text={"path", "X", "y"})
    if name != "npz" or "path" not in params or set(params) - {"path", "X", "y"}:
        raise ValueError(
            f"data given by reference must look like npz:path=FILE[;X=NAME;y=NAME], got {spec!r}"
        )
    return NpzRows(str(params["path"]), str(params.get("X", "X")), str(params.get("y", "y")))


def master_usage() -> dict:
    """This (the master's) process so far: peak resident memory in bytes (0 where the OS does
    not say) and CPU seconds. Linux: VmHWM of /proc/self/status (getrusage's ru_maxrss would
    also count the memory of the process that started this one, which it keeps across exec)."""
    peak = 0
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        try:
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            peak *= 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
        except (ImportError, OSError):
            peak = 0
    return {"peak_rss_bytes": int(peak), "cpu_s": time.process_time()}


def _code(code: GradientCode | str, n: int | None, s: int | None, seed: int) -> GradientCode:
    """The code of a run: `code` itself (n, if given, must match it) or built from its name."""
    if isinstance(code, str):
        if n is None:
            raise ValueError(f"scheme {code!r} given by name: pass n (the number of workers)")
        if s is None and needs_s(code):
            raise ValueError(
                f"scheme {code!r} given by name: pass s (the number of stragglers to tolerate, "
                f"0 <= s < n); only {', '.join(sorted(STRAGGLER_FREE))} take none"
            )
        return make_code(code, n, s or 0, seed=seed)
    if not isinstance(code, GradientCode):
        raise ValueError(f"code must be a GradientCode or a scheme name, got {code!r}")
    if n is not None and n != code.n:
        raise ValueError(f"n={n} does not match the code's n={code.n} workers")
    return code


def _check_data(code: GradientCode, model: Model, X, y: np.ndarray, faults: Sequence[Fault]):
    """The data as the model takes them, checked against the code (and the faults' workers).

    Rows by reference (an `NpzRows`, or its spec "npz:path=FILE[;X=NAME;y=NAME]") stay in the
    file: here only the labels and the first rows are checked; each worker checks the rows it
    reads."""
    if isinstance(X, str):
        X = data_source(X)
    if isinstance(X, NpzRows):
        if y is not None:
            raise ValueError(f"{X!r} holds its labels: leave y unset")
        y = X.labels()
        head = np.arange(min(X.shape[0], 64))
        model.check_data(X.rows(head), y[head])
        _, y = model.check_data(np.zeros((y.size, 1)), y)
    else:
        X, y = model.check_data(X, y)
    if X.shape[0] < code.k:
        raise ValueError(
            f"{X.shape[0]} rows cannot fill k={code.k} partitions: need at least k rows"
        )
    for f in faults:
        if not 0 <= f.worker < code.n:
            raise ValueError(
                f"fault worker {f.worker} is out of range: worker ids are 0..{code.n - 1}"
            )
    return X, y
