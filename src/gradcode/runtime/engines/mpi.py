"""MPI engine: rank 0 is the master, ranks 1..n are workers 0..n-1 (`mpiexec -n n+1 python ...`).

Every rank runs the same script. On a worker rank `train(..., engine="mpi")` never returns: building
the engine there serves every training session rank 0 opens, then raises `SystemExit(0)` once
rank 0 exits (it sends SHUTDOWN from an atexit hook). Only rank 0 goes past `train`.

Hot path: buffer-based Isend/Irecv on preallocated float64 buffers, never pickles. Messages are
told apart by a few fixed tags; session and round ids travel inside the messages:
task = [round, theta...], reply = [session, round, compute_s, part, last | message], ready =
[session], done = [round]. A reply is raw bytes: a float64 header, then the message in the
session's dtype (float64 or float32); a header with part -1 says the worker stopped the round
early (DONE). Multi-message codes send up to `parts` replies per task, into consecutive slots.
Startup (each worker's WorkerJob) is pickled once per session; ERROR carries UTF-8 text.

Fault isolation: a worker rank is a thin relay. It forks one compute process per session that holds
the job and computes in shared memory; the rank waits on it and on the master at once. A compute
process that dies, raises or hangs (then the master's KILL makes the rank SIGKILL it) is reported
as a dead worker while the rank stays in the MPI job, so MPI itself never sees a process die and
the run finishes, or fails with TrainingError, cleanly under any MPI (MPICH's hydra SIGKILLs every
rank on a node as soon as one rank is killed by a signal, even with -disable-auto-cleanup).
Losing a rank process itself is survived only where the MPI reports it (Open MPI with ULFM, an
MPI error on the request); see docs/mpi.md.
"""

from __future__ import annotations

import os

# Before MPI_Init: oversubscribed ranks otherwise busy-poll (MPICH ch4; ignored by other MPIs).
# The mpich 5.0.2 wheel's blocking waits spin regardless (docs/mpi.md), so idle ranks wait with
# Test and growing naps instead.
os.environ.setdefault("MPIR_CVAR_CH4_PROGRESS_THROTTLE", "1")
os.environ.setdefault("MPIR_CVAR_CH4_PROGRESS_THROTTLE_NO_PROGRESS_COUNT", "16")

import atexit  # noqa: E402
import contextlib  # noqa: E402
import math  # noqa: E402
import mmap  # noqa: E402
import pickle  # noqa: E402
import select  # noqa: E402
import signal  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Sequence  # noqa: E402

import numpy as np  # noqa: E402
from mpi4py import MPI  # noqa: E402

from ..messages import Event, Idle, Reply, WorkerDied  # noqa: E402
from ..worker import WorkerJob, die_with_parent, limit_blas_threads, never_stop  # noqa: E402

MASTER = 0
# Message kinds: fixed tags, never computed from rounds or workers.
JOB, READY, TASK, REPLY, ERROR, STOP, KILL, BYE, SHUTDOWN, DONE = range(7701, 7711)
ERROR_MAX = 1 << 13  # bytes of an ERROR message (tracebacks keep their last lines)
START_TIMEOUT = float(os.environ.get("GRADCODE_MPI_START_TIMEOUT", "120"))
MAX_NAP = 1e-3  # longest sleep between two polls for a task or a reply (seconds)
IDLE_NAP = 0.01  # the same between sessions
CHILD_POLL = 0.05  # how often a busy worker rank looks for STOP/KILL (seconds)
CHILD_POLL_MULTI = 0.002  # ... and for DONE, which its multi-message worker checks per chunk
FAILED_POLL = 0.05  # how often the master asks a fault-tolerant MPI (ULFM) which ranks failed
_HDR = 5  # reply header: session, round, compute_s, part, last (float64)
_EMPTY = np.empty(0, dtype=np.float64)
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
    _serve_forever(comm)
    raise SystemExit(0)


class MPIEngine:
    """Master side of the MPI engine (see the module docstring for the protocol).

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
        self._ulfm, self._failed_at = _can_report_failures(self.comm), 0.0
        self._parts, self._busy, self._dreq = 1, np.zeros(n, dtype=bool), []
        _register_shutdown()

    # -- Engine protocol -------------------------------------------------------------------

    def start(
        self, jobs: Sequence[WorkerJob], d: int, *, parts: int = 1, dtype: np.dtype = np.float64
    ) -> None:
        _state["session"] += 1
        self.session, n = _state["session"], self.n
        self._dtype, self._parts = np.dtype(dtype), parts
        self._sbuf = np.zeros((n, d + 1))  # task: [round, theta]
        self._rbuf = np.zeros((n, parts, _reply_bytes(d, self._dtype)), np.uint8)  # reply slots
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
                self._dtype.str,
                parts,
                pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL),
            )
            self._post_ack(w, READY)
            self._other.append(self.comm.isend(payload, dest=w + 1, tag=JOB))
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
        buf = self._sbuf[worker]
        buf[0] = round
        buf[1:] = theta
        self._slot[worker] = 0
        self._busy[worker] = True
        self._post_reply(worker)
        self._send[worker] = self._isend(worker, buf, TASK)

    def round_done(self, round: int) -> None:
        """Tell busy workers of multi-message codes to stop older rounds after their message."""
        if self._parts == 1:
            return  # a single message cannot be cut short
        for w in np.flatnonzero(self._busy & self._live):
            self._wait_quietly(self._dreq[w])
            self._dbuf[w, 0] = round
            self._dreq[w] = self._isend(int(w), self._dbuf[w], DONE)

    def wait(self, timeout: float) -> list[Event]:
        deadline = time.perf_counter() + max(timeout, 0.0)
        nap = 0.0
        while True:
            self._collect()
            if self._events or time.perf_counter() >= deadline:
                break
            nap = _nap(nap, deadline)
        events, self._events = self._events, []
        return events

    def kill(self, worker: int) -> None:
        """Ask the worker's rank to SIGKILL its compute process; the worker is dead from now on."""
        if not self._gone[worker]:
            self._live[worker] = False
            self._gone[worker] = True
            self._other.append(self._isend(worker, _EMPTY, KILL))

    def close(self) -> None:
        """STOP every worker rank and wait (10 s at most) for its BYE, then cancel what is left."""
        if self._closed:
            return
        self._closed = True
        self._live[:] = False
        started = np.flatnonzero(self._started & ~self._failed)
        for w in started:
            self._post_ack(int(w), BYE)
            self._other.append(self._isend(int(w), _EMPTY, STOP))
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
        while self.comm.Iprobe(MPI.ANY_SOURCE, REPLY, status):
            scratch = np.empty(status.Get_count(MPI.BYTE), np.uint8)
            self.comm.Recv([scratch, MPI.BYTE], status.Get_source(), REPLY)

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
        self._recv[slot] = self.comm.Irecv([self._ebuf, MPI.BYTE], MPI.ANY_SOURCE, ERROR)

    def _post_ack(self, worker: int, tag: int) -> None:
        _cancel(self._recv[self.n + worker])  # a READY never received (start() failed)
        self._recv[self.n + worker] = self.comm.Irecv(self._ack[worker], worker + 1, tag)

    def _await_acks(self, deadline: float) -> set[int]:
        """Poll until every posted ack (READY or BYE) of this session came; the missing ones."""
        n, nap = self.n, 0.0
        while True:
            self._collect()
            waiting = {i - n for i in range(n, 2 * n) if self._recv[i] != MPI.REQUEST_NULL}
            if not waiting or time.perf_counter() >= deadline:
                return waiting
            nap = _nap(nap, deadline)

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
        try:
            idx = MPI.Request.Testsome(self._recv, self._status)
        except MPI.Exception:
            return self._find_failed()
        return [(i, self._status[k]) for k, i in enumerate(idx or ())]

    def _find_failed(self) -> list[tuple[int, MPI.Status]]:
        """A request failed (a dead rank under a fault-tolerant MPI): test them one by one."""
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
                    self._died(w, f"MPI reported a failure of rank {w + 1}: {e.Get_error_string()}")
        return done

    def _post_reply(self, i: int) -> None:
        self._recv[i] = self.comm.Irecv([self._rbuf[i, self._slot[i]], MPI.BYTE], i + 1, REPLY)

    def _on_reply(self, i: int) -> None:
        raw = self._rbuf[i, self._slot[i]]
        session, round_, compute_s, part, last = _header(raw)
        if session != self.session:  # from an earlier session: wait for this one's
            self._post_reply(i)
            return
        if part < 0:
            self._events.append(Idle(int(round_), i))
        else:
            vector = _payload(raw, self._sbuf.shape[1] - 1, self._dtype)
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


def _can_report_failures(comm: MPI.Comm) -> bool:
    """Whether this MPI names failed processes (ULFM's MPIX_Comm_get_failed, Open MPI 5
    `mpiexec --with-ft ulfm`); MPICH's wheel does not (docs/mpi.md)."""
    if "Open MPI" not in MPI.Get_library_version():
        return False
    try:
        comm.Get_failed()
    except (AttributeError, NotImplementedError, MPI.Exception):
        return False
    return True


def _reply_bytes(d: int, dtype: np.dtype) -> int:
    """Bytes of one reply slot: the float64 header and d values, rounded up to 8 (alignment)."""
    return -(-(8 * _HDR + d * dtype.itemsize) // 8) * 8


def _header(slot: np.ndarray) -> np.ndarray:
    return slot[: 8 * _HDR].view(np.float64)


def _payload(slot: np.ndarray, d: int, dtype: np.dtype) -> np.ndarray:
    return slot[8 * _HDR : 8 * _HDR + d * dtype.itemsize].view(dtype)


def _nap(nap: float, deadline: float, longest: float = MAX_NAP) -> float:
    """Sleep the current nap (never past the deadline); the next, doubled up to `longest`."""
    if nap:
        time.sleep(min(nap, max(deadline - time.perf_counter(), 0.0)))
    return min(max(2 * nap, 2e-5), longest)


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
            reqs.append(comm.Isend(_EMPTY, rank, SHUTDOWN))
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


# -- worker ranks ------------------------------------------------------------------------------


def _serve_forever(comm: MPI.Comm) -> None:
    """Serve one session per JOB from rank 0 until SHUTDOWN."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # the master's to handle: it
        signal.signal(sig, signal.SIG_IGN)  # saves the run, then releases the worker ranks
    status = MPI.Status()
    while True:
        _idle_probe(comm, status)
        tag = status.Get_tag()
        if tag == JOB:
            _Session(comm, *comm.recv(source=MASTER, tag=JOB)).serve()
            continue
        # SHUTDOWN, or a STOP/KILL left over from a session that failed to start
        comm.Recv([np.empty(status.Get_count(MPI.BYTE), np.uint8), MPI.BYTE], MASTER, tag)
        if tag == SHUTDOWN:
            return


def _idle_wait(req: MPI.Request, status: MPI.Status) -> None:
    """Wait for a receive with Test and growing naps: MPICH's blocking wait spins (sched_yield),
    which on an oversubscribed node takes the CPU from the compute processes."""
    nap = 0.0
    while not req.Test(status):
        nap = _nap(nap, math.inf)


def _idle_probe(comm: MPI.Comm, status: MPI.Status) -> None:
    """Probe for the master's next message (between sessions), napping like _idle_wait."""
    nap = 0.0
    while not comm.Iprobe(MASTER, MPI.ANY_TAG, status):
        nap = _nap(nap, math.inf, IDLE_NAP)


class _Session:
    """One training session on a worker rank: relay tasks to the compute process, replies back."""

    def __init__(
        self, comm: MPI.Comm, session: int, d: int, dtype: str, parts: int, job: bytes
    ) -> None:
        self.comm, self.session = comm, session
        size = _reply_bytes(d, np.dtype(dtype))
        self.shm = mmap.mmap(-1, 8 * (d + 2) + parts * size)  # shared with the compute process
        self.task = np.ndarray((d + 2,), np.float64, self.shm)  # [round, theta, done round]
        self.reply = np.ndarray((parts, size), np.uint8, self.shm, 8 * (d + 2))  # reply slots
        for slot in self.reply:
            _header(slot)[0] = session
        self.task[-1] = -1  # no round finished yet
        self.idle = np.array([session, 0, 0, -1, 1], dtype=np.float64)  # header: stopped early
        self.poll = CHILD_POLL_MULTI if parts > 1 else CHILD_POLL
        self.child: _Child | None = None
        self.dead = ""
        try:
            self.child = _Child(pickle.loads(job), self.task, self.reply, np.dtype(dtype))
        except BaseException:  # an unpicklable job, a failed fork: this worker cannot serve
            self.dead = f"could not start its compute process:\n{traceback.format_exc()}"

    def serve(self) -> None:
        """Answer the master until STOP, then say BYE: no message of this session follows it."""
        comm = self.comm
        comm.Send(np.array([self.session], np.float64), MASTER, READY)
        if self.dead:
            self._report(self.dead)
        status = MPI.Status()
        try:
            while True:
                _idle_wait(comm.Irecv(self.task[:-1], MASTER, MPI.ANY_TAG), status)  # STOP: empty
                tag = status.Get_tag()  # (a DONE that crossed the last reply lands in task[0])
                if tag == STOP:
                    break
                if tag == KILL:
                    self._kill("killed by the master")
                elif tag == TASK and self.child is not None and self._run() == STOP:
                    break
        finally:
            self._kill("session over")
            self.task = self.reply = _EMPTY  # drop the views before the mapping closes
            with contextlib.suppress(BufferError):
                self.shm.close()
        comm.Send(np.array([self.session], np.float64), MASTER, BYE)

    def _run(self) -> int:
        """Compute one task; returns REPLY, ERROR, KILL or STOP (what happened)."""
        child = self.child
        assert child is not None
        child.go()
        status = MPI.Status()
        while True:
            outcome = child.poll(self.poll)
            if isinstance(outcome, int):  # a message is ready in that slot
                reply = self.reply[outcome]
                self.comm.Send([reply, MPI.BYTE], MASTER, REPLY)
                if _header(reply)[4]:
                    return REPLY
                continue
            if outcome == "idle":  # stopped early: the master had asked (DONE)
                self.idle[1] = self.task[0]
                self.comm.Send(self.idle, MASTER, REPLY)
                return REPLY
            if outcome:
                self.child = None
                self._report(outcome)
                return ERROR
            if self.comm.Iprobe(MASTER, MPI.ANY_TAG, status):
                tag = status.Get_tag()
                if tag == DONE:
                    self.comm.Recv(self.task[-1:], MASTER, DONE)
                elif tag in (STOP, KILL):
                    self.comm.Recv(_EMPTY, MASTER, tag)
                    self._kill("killed by the master")
                    return tag

    def _kill(self, why: str) -> None:
        if self.child is not None:
            self.child.close()
            self.child = None
            self.dead = self.dead or why

    def _report(self, reason: str) -> None:
        text = f"{self.session}\n".encode() + reason.encode("utf-8", "replace")
        if len(text) > ERROR_MAX:  # keep the head line and the end of the traceback
            cut = len(text) - ERROR_MAX + 16
            head, _, body = text.partition(b"\n")
            text = head + b"\n[...]" + body[cut:]
        self.comm.Send([np.frombuffer(text, np.uint8), MPI.BYTE], MASTER, ERROR)


class _Child:
    """The compute process of a worker rank: forked, shares the task/reply buffers, talks over pipes.

    go() -> the child computes the messages at theta = task[1:-1], round task[0], into the reply
    slots 0, 1, ..., writing b"d" + slot after each; it stops early, writing b"i", when the
    master's last finished round (task[-1]) reaches the task's round. On an exception it writes
    b"e" + length + traceback and exits. It never touches MPI.
    """

    def __init__(
        self, job: WorkerJob, task: np.ndarray, reply: np.ndarray, dtype: np.dtype
    ) -> None:
        to_child, self._to_child = os.pipe()
        self._from_child, from_child = os.pipe()
        sys.stdout.flush()  # or the child would print what the rank had buffered, again
        sys.stderr.flush()
        rank_pid = os.getpid()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork in a threaded process
            self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - runs in the child
            fds = (self._to_child, self._from_child)
            _child_main(job, task, reply, dtype, to_child, from_child, fds, rank_pid)
        os.close(to_child)
        os.close(from_child)

    def go(self) -> None:
        os.write(self._to_child, b"g")

    def poll(self, timeout: float) -> str | int:
        """'' while computing, the slot of a finished message, 'idle', or why it died."""
        ready, _, _ = select.select([self._from_child], [], [], timeout)
        if not ready:
            return ""
        head = os.read(self._from_child, 1)
        if head == b"d":
            return struct.unpack("<I", _read_exactly(self._from_child, 4))[0]
        if head == b"i":
            return "idle"
        if head == b"e":
            size = struct.unpack("<I", _read_exactly(self._from_child, 4))[0]
            text = _read_exactly(self._from_child, size).decode("utf-8", "replace")
            self._reap(1.0)
            return f"raised an exception:\n{text}"
        return _exit_reason(self._reap(1.0))

    def close(self) -> None:
        """Stop the compute process: EOF when idle, SIGKILL when it does not go at once."""
        with contextlib.suppress(OSError):
            os.close(self._to_child)
        with contextlib.suppress(OSError):
            os.close(self._from_child)
        if self._reap(0.05) is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self._reap(5.0)

    def _reap(self, timeout: float) -> int | None:
        """waitpid with a timeout: the raw wait status, or None while it still runs."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return 0
            if pid:
                return status
            if time.monotonic() >= deadline:
                return None
            time.sleep(1e-3)


def _child_main(
    job: WorkerJob,
    task: np.ndarray,
    reply: np.ndarray,
    dtype: np.dtype,
    rfd: int,
    wfd: int,
    rank_fds: tuple,
    rank_pid: int,
) -> None:
    """Body of the compute process; always ends in os._exit (never returns into MPI code)."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        die_with_parent(rank_pid)
        limit_blas_threads(job.n)
        pmi_fd = os.environ.get("PMI_FD", "")  # the process manager watches the rank, not us
        for fd in (*rank_fds, *([int(pmi_fd)] if pmi_fd.isdigit() else [])):
            with contextlib.suppress(OSError):
                os.close(fd)
        d = task.size - 2
        out = np.zeros((reply.shape[0], d), dtype)
        multi = len(job.messages) > 1
        while os.read(rfd, 1) == b"g":
            round_, last = int(task[0]), False
            stop = (lambda: task[-1] >= round_) if multi else never_stop  # noqa: B023 (this task)
            for slot, (part, compute_s, last) in enumerate(job.run(round_, task[1:-1], out, stop)):
                _payload(reply[slot], d, dtype)[:] = out[part]
                _header(reply[slot])[1:] = round_, compute_s, part, last
                os.write(wfd, b"d" + struct.pack("<I", slot))
            if not last:  # stopped early: the master had finished the round (DONE)
                os.write(wfd, b"i")
        code = 0
    except BaseException:
        text = traceback.format_exc().encode("utf-8", "replace")[-ERROR_MAX // 2 :]
        with contextlib.suppress(OSError):
            os.write(wfd, b"e" + struct.pack("<I", len(text)) + text)
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _read_exactly(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left > 0:
        chunk = os.read(fd, left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _exit_reason(status: int | None) -> str:
    if status is None:
        return "compute process stopped answering"
    if os.WIFSIGNALED(status):
        return f"killed by signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"
