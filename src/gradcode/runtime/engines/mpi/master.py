"""Rank 0's side of the MPI engine (`MPIEngine`), and its release of the worker ranks at exit."""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import sys
import time
from collections.abc import Sequence

import numpy as np
from mpi4py import MPI

from ...messages import Event, Idle, Reply, WorkerDied
from ...worker import WorkerJob, message_width
from .rank import serve_forever
from .wire import EMPTY, ERROR_MAX, MASTER, Tag, header, nap, payload, reply_bytes

START_TIMEOUT = float(os.environ.get("GRADCODE_MPI_START_TIMEOUT", "120"))
FAILED_POLL = 0.05  # how often the master asks a fault-tolerant MPI (ULFM) which ranks failed
_state = {"session": 0, "atexit": False, "unclean": ""}


def world_check(n: int, comm: MPI.Comm | None = None) -> MPI.Comm:
    """COMM_WORLD when its size is n+1; otherwise ValueError, identical on every rank."""
    comm = MPI.COMM_WORLD if comm is None else comm
    if comm.Get_size() != n + 1:
        raise ValueError(
            f"engine 'mpi' with n={n} workers needs n+1={n + 1} MPI processes (rank 0 is the "
            f"master), but this MPI world has {comm.Get_size()}: run "
            f"`mpiexec -n {n + 1} python script.py` (or `gradcode train --engine mpi`, which "
            "starts mpiexec itself)"
        )
    return comm


def serve_if_worker(n: int | None = None) -> None:
    """On a worker rank, serve rank 0's training sessions until it exits, then SystemExit(0).

    Optional: call it early so worker ranks skip loading data (`train` calls it otherwise). With
    n, first check the world size on every rank. On rank 0 it returns at once, and rank 0 releases
    the workers when it exits, whatever happens before.
    """
    comm = MPI.COMM_WORLD if n is None else world_check(n)
    if comm.Get_rank() == MASTER:
        _register_shutdown()
        return
    serve_forever(comm)
    raise SystemExit(0)


class MPIEngine:
    """Master side of the MPI engine (the protocol: this package's docstring, docs/mpi.md).

    Constructed on a worker rank, it serves the master instead and raises SystemExit(0).
    """

    def __init__(self, n: int) -> None:
        self.comm = world_check(n)
        if self.comm.Get_rank() != MASTER:
            serve_if_worker()
        self.n = n
        self.session = 0
        self._live = np.zeros(n, dtype=bool)  # may be sent tasks
        self._gone = np.zeros(n, dtype=bool)  # death reported (or killed): report no more
        self._started = np.zeros(n, dtype=bool)  # sent a JOB: STOP it at close()
        self._events: list[Event] = []
        # receive slots: replies 0..n-1, acks (READY, BYE) n..2n-1, errors 2n
        self._recv = [MPI.Request() for _ in range(2 * n + 1)]
        self._status = [MPI.Status() for _ in range(2 * n + 1)]
        self._send = [MPI.Request() for _ in range(n)]
        self._other: list[MPI.Request] = []  # JOB, KILL, STOP sends
        self._ack = np.zeros((n, 1))
        self._ebuf = np.zeros(ERROR_MAX, dtype=np.uint8)
        self._closed = False
        self._failed = np.zeros(n, dtype=bool)  # the worker's rank failed (ULFM): not reachable
        self._ulfm, self._failed_at = can_report_failures(self.comm), 0.0
        self._parts, self._busy, self._dreq = 1, np.zeros(n, dtype=bool), []
        _register_shutdown()

    # -- Engine protocol -------------------------------------------------------------------

    def start(
        self,
        jobs: Sequence[WorkerJob],
        d: int,
        *,
        parts: int = 1,
        dtype: np.dtype = np.float64,
        width: int | None = None,
    ) -> None:
        _state["session"] += 1
        self.session, n = _state["session"], self.n
        self._dtype, self._parts = np.dtype(dtype), parts
        self._d, self._width = d, message_width(d) if width is None else width
        self._tasks = _TaskBuffers(d)
        self._rbuf = np.zeros((n, parts, reply_bytes(self._width, self._dtype)), np.uint8)
        self._slot = np.zeros(n, dtype=np.intp)  # the slot the next reply of a worker lands in
        self._busy = np.zeros(n, dtype=bool)  # sent a task, its last reply not in yet
        self._dbuf = np.zeros((n, 1))  # DONE: [round]
        self._dreq = [MPI.Request() for _ in range(n)]
        self._post_error()
        for job in jobs:
            w = job.worker
            payload = (
                self.session,
                d,
                self._width,
                self._dtype.str,
                parts,
                pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL),
            )
            self._post_ack(w, Tag.READY)
            self._other.append(self.comm.isend(payload, dest=w + 1, tag=Tag.JOB))
            self._started[w] = True
        waiting = self._await_acks(time.perf_counter() + START_TIMEOUT)
        if waiting:
            ranks = sorted(w + 1 for w in waiting)
            _state["unclean"] = f"worker rank(s) {ranks} never started serving"
            raise RuntimeError(
                f"MPI worker rank(s) {ranks} did not take their job within {START_TIMEOUT:g} s "
                "(GRADCODE_MPI_START_TIMEOUT): every rank must run the same script and reach "
                "train(..., engine='mpi') (or call serve_if_worker())"
            )
        self._live[:] = self._started & ~self._gone

    def send(self, worker: int, round: int, theta: np.ndarray) -> None:
        if not self._live[worker]:
            return
        self._wait_quietly(self._send[worker])  # the previous task is long gone: it replied
        buf = self._tasks.of(round, theta)
        self._slot[worker] = 0
        self._busy[worker] = True
        self._post_reply(worker)
        self._send[worker] = req = self._isend(worker, buf, Tag.TASK)
        self._tasks.sending(req)

    def round_done(self, round: int) -> None:
        """Tell busy workers of multi-message codes to stop older rounds after their message."""
        if self._parts == 1:
            return  # a single message cannot be cut short
        for w in np.flatnonzero(self._busy & self._live):
            self._wait_quietly(self._dreq[w])
            self._dbuf[w, 0] = round
            self._dreq[w] = self._isend(int(w), self._dbuf[w], Tag.DONE)

    def wait(self, timeout: float) -> list[Event]:
        deadline = time.perf_counter() + max(timeout, 0.0)
        pause = 0.0
        while True:
            self._collect()
            if self._events or time.perf_counter() >= deadline:
                break
            pause = nap(pause, deadline)
        events, self._events = self._events, []
        return events

    def kill(self, worker: int) -> None:
        """Ask the worker's rank to SIGKILL its compute process; the worker is dead from now on."""
        if not self._gone[worker]:
            self._live[worker] = False
            self._gone[worker] = True
            self._other.append(self._isend(worker, EMPTY, Tag.KILL))

    def close(self) -> None:
        """STOP every worker rank and wait (10 s at most) for its BYE, then cancel what is left."""
        if self._closed:
            return
        self._closed = True
        self._live[:] = False
        started = np.flatnonzero(self._started & ~self._failed)
        for w in started:
            self._post_ack(int(w), Tag.BYE)
            self._other.append(self._isend(int(w), EMPTY, Tag.STOP))
        quick = bool(_state["unclean"])
        waiting = self._await_acks(time.perf_counter() + (1.0 if quick else 10.0))
        if waiting and not quick:
            ranks = sorted(w + 1 for w in waiting)
            _state["unclean"] = f"worker rank(s) {ranks} did not acknowledge STOP"
        for i, req in enumerate(self._recv):
            _cancel(req)
            self._recv[i] = MPI.Request()
        self._drain_replies()
        if (
            _finish([*self._send, *self._other, *self._dreq], time.perf_counter() + 1.0)
            and not _state["unclean"]
        ):
            _state["unclean"] = "messages to worker ranks never completed"
        self._send, self._other, self._dreq = [], [], []

    # -- internals -------------------------------------------------------------------------

    def _drain_replies(self) -> None:
        """Receive replies nobody waits for any more (later messages of a round already decoded):
        MPICH refuses to finalize a communicator holding unmatched messages."""
        status = MPI.Status()
        while self.comm.Iprobe(MPI.ANY_SOURCE, Tag.REPLY, status):
            scratch = np.empty(status.Get_count(MPI.BYTE), np.uint8)
            self.comm.Recv([scratch, MPI.BYTE], status.Get_source(), Tag.REPLY)

    def _isend(self, worker: int, buf: np.ndarray, tag: int) -> MPI.Request:
        try:
            return self.comm.Isend(buf, worker + 1, tag)
        except MPI.Exception as e:  # a failed rank, where the MPI reports it (ULFM)
            self._died(worker, f"MPI error sending to rank {worker + 1}: {e.Get_error_string()}")
            return MPI.Request()

    def _wait_quietly(self, req: MPI.Request) -> None:
        with contextlib.suppress(MPI.Exception):
            req.Wait()

    def _post_error(self) -> None:
        slot = 2 * self.n
        self._recv[slot] = self.comm.Irecv([self._ebuf, MPI.BYTE], MPI.ANY_SOURCE, Tag.ERROR)

    def _post_ack(self, worker: int, tag: int) -> None:
        _cancel(self._recv[self.n + worker])  # a READY never received (start() failed)
        self._recv[self.n + worker] = self.comm.Irecv(self._ack[worker], worker + 1, tag)

    def _await_acks(self, deadline: float) -> set[int]:
        """Poll until every posted ack (READY or BYE) of this session came; the missing ones."""
        n, pause = self.n, 0.0
        while True:
            self._collect()
            waiting = {i - n for i in range(n, 2 * n) if self._recv[i] != MPI.REQUEST_NULL}
            if not waiting or time.perf_counter() >= deadline:
                return waiting
            pause = nap(pause, deadline)

    def _check_failed(self) -> None:
        """ULFM: a rank that failed is a dead worker, and the job ends with MPI_Abort at exit
        (MPI_Finalize after a failure can hang); pending receives from it may never complete."""
        now = time.perf_counter()
        if not self._ulfm or now - self._failed_at < FAILED_POLL:
            return
        self._failed_at = now
        group = self.comm.Get_failed()
        if not group.Get_size():
            return
        world = MPI.Group.Translate_ranks(group, list(range(group.Get_size())), self.comm.group)
        for rank in (r for r in world if r not in (MASTER, MPI.UNDEFINED)):
            self._failed[rank - 1] = True
            self._died(rank - 1, f"MPI reported a failure of rank {rank}")
        lost = [w + 1 for w in np.flatnonzero(self._failed)]
        _state["unclean"] = f"worker rank(s) {lost} failed"

    def _collect(self) -> None:
        """Turn every completed receive into events (replies, deaths) or re-posted slots."""
        self._check_failed()
        for i, status in self._testsome():
            n = self.n
            if i == 2 * n:
                self._on_error(status)
            elif i >= n:
                w = i - n
                if self._ack[w, 0] != self.session:  # from an earlier session
                    self._post_ack(w, status.Get_tag())
            elif self._live[i]:
                self._on_reply(i)

    def _testsome(self) -> list[tuple[int, MPI.Status]]:
        if self._ulfm:  # where a request can fail, one by one (see _test_each)
            return self._test_each()
        try:
            idx = MPI.Request.Testsome(self._recv, self._status)
        except MPI.Exception:
            return self._test_each()
        return [(i, self._status[k]) for k, i in enumerate(idx or ())]

    def _test_each(self) -> list[tuple[int, MPI.Status]]:
        """The completed receives, each request tested on its own. Under a fault-tolerant MPI a
        dead rank's request fails, and a Testsome that raises for it has already completed
        (and freed) the others that finished in the same call, their indices lost with the
        exception: a live worker's reply would never be seen (it would look hung)."""
        done = []
        for i, req in enumerate(self._recv):
            status = MPI.Status()
            try:
                if req != MPI.REQUEST_NULL and req.Test(status):
                    done.append((i, status))
            except MPI.Exception as e:
                if i == 2 * self.n:  # the wildcard ERROR receive: acknowledge, keep it posted
                    with contextlib.suppress(Exception):
                        self.comm.Ack_failed()
                    if e.Get_error_class() != MPI.ERR_PROC_FAILED_PENDING:
                        self._post_error()
                else:
                    self._recv[i] = MPI.Request()
                    w = i % self.n
                    self._died(w, f"MPI reported a failure of rank {w + 1}")  # as _check_failed
        return done

    def _post_reply(self, i: int) -> None:
        self._recv[i] = self.comm.Irecv([self._rbuf[i, self._slot[i]], MPI.BYTE], i + 1, Tag.REPLY)

    def _on_reply(self, i: int) -> None:
        raw = self._rbuf[i, self._slot[i]]
        session, round_, compute_s, part, last = header(raw)
        if session != self.session:  # from an earlier session: wait for this one's
            self._post_reply(i)
            return
        if part < 0:
            self._events.append(Idle(int(round_), i))
        else:
            vector = payload(raw, self._width, self._dtype)
            self._events.append(Reply(int(round_), i, compute_s, vector, int(part), bool(last)))
        if part < 0 or last:
            self._busy[i] = False
        else:
            self._slot[i] += 1
            self._post_reply(i)

    def _on_error(self, status: MPI.Status) -> None:
        worker = status.Get_source() - 1
        raw = self._ebuf[: status.Get_count(MPI.BYTE)].tobytes()
        self._post_error()
        session, _, text = raw.partition(b"\n")
        if session.isdigit() and int(session) == self.session and 0 <= worker < self.n:
            self._died(worker, text.decode("utf-8", "replace"))

    def _died(self, worker: int, reason: str) -> None:
        if not self._gone[worker]:
            self._gone[worker] = True
            self._live[worker] = False
            self._events.append(WorkerDied(worker, reason))


class _TaskBuffers:
    """The task buffers [round, θ]: one per round, sent to every worker of that round (never a
    copy per worker); a buffer is rewritten only once every send from it has completed (two
    suffice unless a send to a straggler is still in flight, then one more is made)."""

    def __init__(self, d: int) -> None:
        self.d = d
        self.bufs: list[np.ndarray] = []
        self.pending: list[list[MPI.Request]] = []
        self.current = -1  # index of the newest round's buffer
        self.copies = 0

    def of(self, round: int, theta: np.ndarray) -> np.ndarray:
        """The buffer holding round's θ (written now, on the round's first send)."""
        if self.current >= 0 and self.bufs[self.current][0] == round:
            return self.bufs[self.current]
        free = [k for k in range(len(self.bufs)) if k != self.current and self._done(k)]
        if free:
            k = free[0]
        else:
            self.bufs.append(np.zeros(self.d + 1))
            self.pending.append([])
            k = len(self.bufs) - 1
        buf = self.bufs[k]
        buf[0] = round
        buf[1:] = theta
        self.current, self.copies = k, self.copies + 1
        return buf

    def sending(self, req: MPI.Request) -> None:
        """A send from the newest round's buffer is in flight."""
        self.pending[self.current].append(req)

    def _done(self, k: int) -> bool:
        """Whether every send from buffer k has completed (a failed one counts as done)."""
        self.pending[k] = [r for r in self.pending[k] if not _test_quietly(r)]
        return not self.pending[k]


# -- master shutdown ---------------------------------------------------------------------------


def _register_shutdown() -> None:
    if not _state["atexit"]:
        _state["atexit"] = True
        atexit.register(_shutdown)


def _shutdown() -> None:
    """At rank 0's exit (before MPI_Finalize): release the worker ranks, or abort if one is lost."""
    if MPI.Is_finalized():
        return
    comm = MPI.COMM_WORLD
    reqs = []
    for rank in range(1, comm.Get_size()):
        with contextlib.suppress(MPI.Exception):
            reqs.append(comm.Isend(EMPTY, rank, Tag.SHUTDOWN))
    if _finish(reqs, deadline=time.perf_counter() + 10.0) and not _state["unclean"]:
        _state["unclean"] = "SHUTDOWN did not reach every worker rank"
    if _state["unclean"]:
        sys.stdout.flush()
        sys.stderr.write(
            f"gradcode: {_state['unclean']}; calling MPI_Abort so the job ends "
            "(results were already saved)\n"
        )
        sys.stderr.flush()
        comm.Abort(1)


def _cancel(req: MPI.Request) -> None:
    if req == MPI.REQUEST_NULL:
        return
    with contextlib.suppress(MPI.Exception):
        req.Cancel()
        req.Wait()


def _finish(reqs: list[MPI.Request], deadline: float) -> int:
    """Complete sends until the deadline; cancel the rest. Returns how many never completed."""
    reqs = [r for r in reqs if r != MPI.REQUEST_NULL]
    while reqs and time.perf_counter() < deadline:
        try:
            if MPI.Request.Testall(reqs):
                return 0
        except MPI.Exception:
            reqs = [r for r in reqs if not _test_quietly(r)]
            continue
        time.sleep(1e-3)
    left = [r for r in reqs if r != MPI.REQUEST_NULL and not _test_quietly(r)]
    for r in left:
        _cancel(r)
    return len(left)


def _test_quietly(req: MPI.Request) -> bool:
    try:
        return req == MPI.REQUEST_NULL or req.Test()
    except MPI.Exception:
        return True


def can_report_failures(comm: MPI.Comm) -> bool:
    """Whether this MPI names failed processes (ULFM's MPIX_Comm_get_failed, Open MPI 5
    `mpiexec --with-ft ulfm`); MPICH's wheel does not (docs/mpi.md)."""
    if "Open MPI" not in MPI.Get_library_version():
        return False
    try:
        comm.Get_failed()
    except (AttributeError, NotImplementedError, MPI.Exception):
        return False
    return True
