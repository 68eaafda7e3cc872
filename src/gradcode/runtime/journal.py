"""A run's output folder, written while it runs (a journal) and read back after any end.

Files (one writer, one reader, here; the tables in the one format of records.py):
- `result.json`: status (`running` until the run ends: `ok`, `failed`, `interrupted`), error,
  rounds completed, dead workers, config, the master's pid and host, the run's segments (one per
  start or resume); rewritten atomically at the start, at every checkpoint and at the end.
- `rounds.csv` (one row per round) and `workers.csv` (one row per round and worker): appended
  and flushed to the OS at the end of every round (workers rows first), so a killed master
  loses no finished round; fsync'ed by a background thread at most a second later (a lost
  machine loses at most that).
- `params.f64` (with `record_params`): every round's parameters, raw little-endian float64 rows
  of d values, appended like the CSVs.
- `theta.npy`: the final parameters, written at the end; `checkpoint.npz`: see checkpoint.py.

A reader ignores a row cut short by a crash and the workers rows of a round that rounds.csv
lacks. `write_tables`/`read_results` write and read several results (a comparison's, a set of
simulations) as the same two tables, one `scheme` each.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..records import ROUND_COLUMNS, WORKER_COLUMNS, encode, number, read_folder, read_rows
from .result import Result, RoundRecord

SYNC_EVERY = 1.0  # seconds between two fsyncs of the appended files
STALE = ("theta.npy", "params.f64", "checkpoint.npz")  # removed when a new run starts in a folder


class JournalError(OSError):
    """The output folder cannot be written (read-only, full, not a folder)."""


def atomic_write(path: Path, write) -> None:
    """Write `path` all or nothing: `write(file)` into a temporary file beside it, fsync, rename,
    fsync the folder. A crash leaves the old file or the new one, never a torn one."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise JournalError(e.errno, f"cannot write {path}: {e.strerror or e}") from None


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a folder be opened
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def prepare(out: str | Path) -> Path:
    """Create the output folder and prove it writable, before any worker starts."""
    out = Path(out)
    try:
        if out.exists() and not out.is_dir():
            raise JournalError(
                20, f"output folder {out} is a file: give a folder (new or existing)"
            )
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".gradcode-write-test"
        probe.write_bytes(b"ok")
        probe.unlink()
    except JournalError:
        raise
    except OSError as e:
        raise JournalError(
            e.errno, f"cannot write the output folder {out}: {e.strerror or e}"
        ) from None
    return out


class Journal:
    """Appends a run's rounds to its folder as they finish; `close` writes the end state.

    `keep` rounds already in the folder (a resumed run) are kept and everything after them is
    cut, so the resumed rounds replace what the interrupted run had written past its checkpoint.
    """

    def __init__(
        self,
        out: str | Path,
        result: Result,
        *,
        keep: int | None = None,
        metrics: Sequence[str] = (),
    ) -> None:
        self.out = prepare(out)
        self.result = result
        self.metrics = tuple(metrics)  # evaluated columns after ROUND_COLUMNS
        self._files: list = []
        self._dirty = threading.Event()
        self._stop = threading.Event()
        try:
            with self._writing():
                self._open(keep)
        except JournalError:
            self._close_files()
            raise
        self.write_status()
        self._syncer = threading.Thread(
            target=self._sync_loop, name="gradcode-journal", daemon=True
        )
        self._syncer.start()

    def _open(self, keep: int | None) -> None:
        mode = "w" if keep is None else "a"  # the files stay open for the run: closed by close()
        if keep is not None:
            _cut(self.out, keep, self.result)
        else:  # a new run in an old folder: nothing of the old run may pass for this one's
            for name in STALE:
                with contextlib.suppress(FileNotFoundError):
                    (self.out / name).unlink()
        self._workers = open(self.out / "workers.csv", mode, newline="")  # noqa: SIM115
        self._files = [self._workers]  # flushed in this order: a round's row comes last
        self._params = None
        if self.result.params is not None:
            params_mode = "wb" if keep is None else "ab"
            self._params = open(self.out / "params.f64", params_mode)  # noqa: SIM115
            self._files.append(self._params)
        self._rounds = open(self.out / "rounds.csv", mode, newline="")  # noqa: SIM115
        self._files.append(self._rounds)
        if keep is None:
            self._rounds.write(encode([ROUND_COLUMNS + self.metrics]))
            self._workers.write(encode([WORKER_COLUMNS]))
        self._flush()

    def append(self, record: RoundRecord, theta: np.ndarray | None = None) -> None:
        """One finished round: its rows (and parameters) reach the OS before this returns, the
        workers rows and parameters before the round's row."""
        with self._writing():
            self._workers.write(encode(worker_rows(self.result, record)))
            if self._params is not None and theta is not None:
                self._params.write(np.ascontiguousarray(theta, dtype="<f8").tobytes())
            self._rounds.write(encode([round_row(self.result, record, self.metrics)]))
            self._flush()

    @contextlib.contextmanager
    def _writing(self):
        try:
            yield
        except OSError as e:
            if isinstance(e, JournalError):
                raise
            raise JournalError(e.errno, f"cannot write {self.out}: {e.strerror or e}") from None

    def _flush(self) -> None:
        for f in self._files:
            f.flush()
        self._dirty.set()

    def sync(self) -> None:
        """Flush and fsync the appended files now (before a checkpoint names their rounds)."""
        with self._writing():
            self._flush()
            self._dirty.clear()
            for f in self._files:
                os.fsync(f.fileno())

    def _sync_loop(self) -> None:
        """fsync what was flushed, at most every SYNC_EVERY seconds, off the master's path."""
        while not self._stop.wait(SYNC_EVERY):
            if self._dirty.is_set():
                self._dirty.clear()
                with contextlib.suppress(OSError, ValueError):  # closed meanwhile: close syncs
                    for f in list(self._files):
                        os.fsync(f.fileno())

    def write_status(self) -> None:
        """result.json, atomically, from the result as it stands."""
        text = json.dumps(status_of(self.result), indent=2, default=str) + "\n"
        atomic_write(self.out / "result.json", lambda f: f.write(text.encode()))

    def close(self) -> None:
        """The end of the run, whatever it was: sync, then theta.npy and result.json."""
        self._stop.set()
        if self._syncer.is_alive():
            self._syncer.join(5.0)
        try:
            self.sync()
        finally:
            self._close_files()
        if self.result.theta is not None:
            theta = self.result.theta
            atomic_write(self.out / "theta.npy", lambda f: np.save(f, theta))
        self.write_status()

    def _close_files(self) -> None:
        for f in self._files:
            with contextlib.suppress(OSError, ValueError):
                f.close()  # a full disk fails the flush in close: the syncs said so already
        self._files = []


def save(result: Result, out: str | Path, metrics: Sequence[str] = ()) -> Path:
    """Write a whole result at once (the same files as a journal of its run)."""
    journal = Journal(out, result, metrics=metrics)
    try:
        for i, record in enumerate(result.rounds):
            journal.append(record, None if result.params is None else result.params[i])
    finally:
        journal.close()
    return journal.out


def write_tables(out: str | Path, results: Sequence[Result], metrics: Sequence[str] = ()) -> None:
    """rounds.csv and workers.csv of several results (one scheme each), atomically: the rows
    their journals hold, concatenated, with `metrics` columns."""
    out = prepare(out)
    head = ROUND_COLUMNS + tuple(metrics)
    rounds = encode([head, *(round_row(res, r, metrics) for res in results for r in res.rounds)])
    workers = encode(
        [
            WORKER_COLUMNS,
            *(row for res in results for r in res.rounds for row in worker_rows(res, r)),
        ]
    )
    atomic_write(out / "rounds.csv", lambda f: f.write(rounds.encode()))
    atomic_write(out / "workers.csv", lambda f: f.write(workers.encode()))


TIMESTAMP = "%Y-%m-%dT%H:%M:%S%z"  # local time with its UTC offset, as result.json holds it


def timestamp() -> str:
    return time.strftime(TIMESTAMP)


def status_of(result: Result) -> dict:
    return {
        "status": result.status,
        "error": result.error,
        "rounds_completed": len(result.rounds),
        "dead_workers": {str(k): v for k, v in sorted(result.dead.items())},
        "config": result.config,
        "segments": result.segments,
        "master": result.master,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "updated": timestamp(),
    }


def round_row(result: Result, r: RoundRecord, metrics: Sequence[str] = ()) -> list:
    return [
        result.scheme,
        r.round,
        r.wall_s,
        len(r.survivors),
        " ".join(map(str, r.survivors)),
        r.residual,
        r.loss,
        r.error,
        r.messages,
        r.stale,
        r.stopped,
        r.master_cpu_s,
        " ".join(map(str, r.corrupt)),
        int(r.flagged),
        *(r.metrics.get(m, math.nan) for m in metrics),
    ]


def worker_rows(result: Result, r: RoundRecord) -> list[list]:
    used = result.used(r)
    return [
        [result.scheme, r.round, i, at, c, int(u)]
        for i, (at, c, u) in enumerate(zip(r.arrival_s, r.compute_s, used, strict=True))
    ]


# -- reading ------------------------------------------------------------------------------------


def load_result(out: str | Path) -> Result:
    """Read a run's folder (finished, failed, interrupted, or cut off by a crash) into a Result.

    A run whose result.json still says `running` while its master process is gone (same host)
    reads as status `died`."""
    out = Path(out)
    path = out / "result.json"
    if not path.is_file():
        raise ValueError(f"{out} holds no gradcode run (no result.json)")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}): not a gradcode run folder") from None
    rounds = rounds_from_rows(*read_folder(out))
    result = Result(
        meta.get("config", {}),
        rounds=rounds,
        dead={int(k): v for k, v in meta.get("dead_workers", {}).items()},
        status=meta.get("status", "running"),
        error=meta.get("error", ""),
        segments=meta.get("segments", []),
        master=meta.get("master", {}),
    )
    if result.status == "running" and not _alive(meta.get("pid"), meta.get("host")):
        result.status = "died"
        result.error = result.error or "the master process ended without closing the run"
    if (out / "theta.npy").is_file():
        result.theta = np.load(out / "theta.npy")
    d = result.config.get("d")
    if (out / "params.f64").is_file() and d:
        params = _read_params(out / "params.f64", int(d), len(rounds))
        result.params = list(params)
        if result.theta is None and len(params):
            result.theta = params[-1].copy()
    return result


def read_results(out: str | Path) -> dict[str, list[RoundRecord]]:
    """The rounds of every scheme in out/rounds.csv and out/workers.csv (`write_tables`'s
    folder, or a run's), by scheme in the tables' order."""
    rounds, workers = read_folder(Path(out))
    schemes = dict.fromkeys(r["scheme"] for r in rounds)
    return {
        name: rounds_from_rows(
            [r for r in rounds if r["scheme"] == name], [w for w in workers if w["scheme"] == name]
        )
        for name in schemes
    }


def rounds_from_rows(rounds: list[dict], workers: list[dict]) -> list[RoundRecord]:
    """RoundRecords from the rows of one run's rounds.csv and workers.csv."""
    arrivals: dict[str, list[tuple[int, float, float]]] = {}
    for w in workers:
        arrivals.setdefault(w["round"], []).append(
            (int(w["worker"]), number(w["arrival_s"]), number(w["compute_s"]))
        )
    return [_record(r, arrivals.get(r["round"], [])) for r in rounds]


def _record(row: dict, workers: list[tuple[int, float, float]]) -> RoundRecord:
    n = max((w for w, _, _ in workers), default=-1) + 1
    arrival, compute = np.full(n, np.nan), np.full(n, np.nan)
    for w, at, c in workers:
        arrival[w], compute[w] = at, c
    return RoundRecord(
        int(row["round"]),
        number(row["wall_s"]),
        arrival,
        compute,
        tuple(int(x) for x in row["survivors"].split()),
        number(row["residual"]),
        number(row["loss"]),
        number(row["error"]),
        int(row["messages"]),
        int(row["stale"]),
        int(row["stopped"]),
        {k: number(v) for k, v in row.items() if k not in ROUND_COLUMNS},
        number(row.get("master_cpu_s", "")),  # older folders have no such columns
        tuple(int(x) for x in row.get("corrupt", "").split()),
        row.get("flagged", "0") == "1",
    )


def _read_params(path: Path, d: int, rounds: int) -> np.ndarray:
    raw = np.fromfile(path, dtype="<f8")
    whole = min(raw.size // d, rounds) if d else 0
    return raw[: whole * d].reshape(whole, d).astype(np.float64)


def _cut(out: Path, keep: int, result: Result) -> None:
    """Keep the first `keep` rounds of a journal (atomically rewritten), drop the rest."""
    for name, columns in (("rounds.csv", ROUND_COLUMNS), ("workers.csv", WORKER_COLUMNS)):
        header, rows = read_rows(out / name)
        columns = columns + tuple(c for c in header if c not in columns)
        kept = [r for r in rows if int(r["round"]) < keep]
        filled = {"scheme": result.scheme}  # a folder from before a column: scheme, else empty
        text = encode([columns, *([r.get(c, filled.get(c, "")) for c in columns] for r in kept)])
        atomic_write(out / name, lambda f, t=text: f.write(t.encode()))
    params, d = out / "params.f64", result.config.get("d")
    if params.is_file() and d:
        with open(params, "r+b") as f:
            f.truncate(min(keep * int(d) * 8, os.fstat(f.fileno()).st_size // (8 * d) * 8 * d))


def _alive(pid, host) -> bool:
    """Whether the run's master may still be running (unknown hosts count as alive)."""
    if not isinstance(pid, int) or host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):  # Linux: a zombie has ended, not reaped yet
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True
