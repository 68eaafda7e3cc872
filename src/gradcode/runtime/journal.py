"""A run's output folder, written while it runs (a journal) and read back after any end.

Files (one writer, one reader, here):
- `result.json`: status (`running` until the run ends: `ok`, `failed`, `interrupted`), error,
  rounds completed, dead workers, config, the master's pid and host, the run's segments (one per
  start or resume); rewritten atomically at the start, at every checkpoint and at the end.
- `rounds.csv` (one row per round) and `workers.csv` (one row per round and worker): appended
  and flushed to the OS at the end of every round, so a killed master loses no finished round;
  fsync'ed by a background thread at most a second later (a lost machine loses at most that).
- `params.f64` (with `record_params`): every round's parameters, raw little-endian float64 rows
  of d values, appended like the CSVs.
- `theta.npy`: the final parameters, written at the end; `checkpoint.npz`: see checkpoint.py.

A reader ignores a row cut short by a crash and the workers rows of a round that rounds.csv lacks.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import socket
import threading
import time
from pathlib import Path

import numpy as np

from .result import Result, RoundRecord

ROUND_COLUMNS = (
    "round",
    "wall_s",
    "n_survivors",
    "survivors",
    "residual",
    "loss",
    "error",
    "messages",
    "stale",
    "stopped",
)
WORKER_COLUMNS = ("round", "worker", "arrival_s", "compute_s", "used")
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

    def __init__(self, out: str | Path, result: Result, *, keep: int | None = None) -> None:
        self.out = prepare(out)
        self.result = result
        self.parts = int(result.config.get("parts", 1))
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
            _cut(self.out, keep, self.result.config.get("d"))
        else:  # a new run in an old folder: nothing of the old run may pass for this one's
            for name in STALE:
                with contextlib.suppress(FileNotFoundError):
                    (self.out / name).unlink()
        self._rounds = open(self.out / "rounds.csv", mode, newline="")  # noqa: SIM115
        self._workers = open(self.out / "workers.csv", mode, newline="")  # noqa: SIM115
        self._files = [self._rounds, self._workers]
        if keep is None:
            csv.writer(self._rounds).writerow(ROUND_COLUMNS)
            csv.writer(self._workers).writerow(WORKER_COLUMNS)
        self._params = None
        if self.result.params is not None:
            params_mode = "wb" if keep is None else "ab"
            self._params = open(self.out / "params.f64", params_mode)  # noqa: SIM115
            self._files.append(self._params)
        self._flush()

    def append(self, record: RoundRecord, theta: np.ndarray | None = None) -> None:
        """One finished round: its rows (and parameters) reach the OS before this returns."""
        with self._writing():
            self._rounds.write(_rows([round_row(record)]))
            self._workers.write(_rows(worker_rows(record, self.parts)))
            if self._params is not None and theta is not None:
                self._params.write(np.ascontiguousarray(theta, dtype="<f8").tobytes())
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


def save(result: Result, out: str | Path) -> Path:
    """Write a whole result at once (the same files as a journal of its run)."""
    journal = Journal(out, result)
    try:
        for i, record in enumerate(result.rounds):
            journal.append(record, None if result.params is None else result.params[i])
    finally:
        journal.close()
    return journal.out


def status_of(result: Result) -> dict:
    return {
        "status": result.status,
        "error": result.error,
        "rounds_completed": len(result.rounds),
        "dead_workers": {str(k): v for k, v in sorted(result.dead.items())},
        "config": result.config,
        "segments": result.segments,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def round_row(r: RoundRecord) -> list:
    return [
        r.round,
        r.wall_s,
        len(r.survivors),
        " ".join(map(str, r.survivors)),
        r.residual,
        _num(r.loss),
        r.error,
        r.messages,
        r.stale,
        r.stopped,
    ]


def worker_rows(r: RoundRecord, parts: int) -> list[list]:
    used = {j // parts for j in r.survivors}
    return [
        [r.round, i, _num(at), _num(c), int(i in used)]
        for i, (at, c) in enumerate(zip(r.arrival_s, r.compute_s, strict=True))
    ]


def _rows(rows: list[list]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue()


def _num(x: float) -> str | float:
    return "" if math.isnan(x) else x


# -- reading ------------------------------------------------------------------------------------


def _complete_rows(path: Path) -> list[dict]:
    """The rows of a journal CSV, without a last line a crash cut short."""
    if not path.is_file():
        return []
    text = path.read_text()
    if not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
    return list(csv.DictReader(io.StringIO(text)))


def _float(x: str) -> float:
    return math.nan if x == "" else float(x)


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
    rows = _complete_rows(out / "rounds.csv")
    arrivals: dict[int, list[tuple[int, float, float]]] = {}
    for w in _complete_rows(out / "workers.csv"):
        arrivals.setdefault(int(w["round"]), []).append(
            (int(w["worker"]), _float(w["arrival_s"]), _float(w["compute_s"]))
        )
    rounds = [_record(r, arrivals.get(int(r["round"]), [])) for r in rows]
    result = Result(
        meta.get("config", {}),
        rounds=rounds,
        dead={int(k): v for k, v in meta.get("dead_workers", {}).items()},
        status=meta.get("status", "running"),
        error=meta.get("error", ""),
        segments=meta.get("segments", []),
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


def _record(row: dict, workers: list[tuple[int, float, float]]) -> RoundRecord:
    n = max((w for w, _, _ in workers), default=-1) + 1
    arrival, compute = np.full(n, np.nan), np.full(n, np.nan)
    for w, at, c in workers:
        arrival[w], compute[w] = at, c
    return RoundRecord(
        int(row["round"]),
        float(row["wall_s"]),
        arrival,
        compute,
        tuple(int(x) for x in row["survivors"].split()),
        float(row["residual"]),
        _float(row["loss"]),
        float(row["error"]),
        int(row["messages"]),
        int(row["stale"]),
        int(row["stopped"]),
    )


def _read_params(path: Path, d: int, rounds: int) -> np.ndarray:
    raw = np.fromfile(path, dtype="<f8")
    whole = min(raw.size // d, rounds) if d else 0
    return raw[: whole * d].reshape(whole, d).astype(np.float64)


def _cut(out: Path, keep: int, d: int | None) -> None:
    """Keep the first `keep` rounds of a journal (atomically rewritten), drop the rest."""
    for name, columns in (("rounds.csv", ROUND_COLUMNS), ("workers.csv", WORKER_COLUMNS)):
        rows = [r for r in _complete_rows(out / name) if int(r["round"]) < keep]
        text = _rows([list(columns)] + [[r[c] for c in columns] for r in rows])
        atomic_write(out / name, lambda f, t=text: f.write(t.encode()))
    params = out / "params.f64"
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
    return True
