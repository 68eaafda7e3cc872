"""One worker's job and its round computation, shared by every engine."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from ..attacks import Attack
from ..codes import Budget, dealt
from ..codes.blocks import fold
from ..data.rows import NpzRows
from ..delays import DelayModel, NoDelay
from ..links import Link
from ..models import Model
from ..models.base import value_and_grad
from .faults import Fault


@dataclass(frozen=True)
class FileRows:
    """Rows `rows` of a training set still in its file: the worker reads them (`load`)."""

    source: NpzRows
    rows: np.ndarray


@dataclass(frozen=True)
class Segment:
    """Rows of one message (or of one chunk of it) and their weights B[msg, partition of row].

    Block codes (`GradientCode.blocks` = m > 1): a chunk is one partition, its rows weigh 1 and
    `mix` holds its m block weights B[msg, u*k+j]; its gradient is folded into the message
    (`codes.blocks.fold`)."""

    X: object  # ndarray or scipy CSR, or FileRows until the worker has read them
    y: np.ndarray
    w: np.ndarray
    mix: np.ndarray | None = None

    def part(self, a: int, b: int) -> Segment:
        """Rows a..b-1 of the segment (views of in-memory rows)."""
        X = self.X
        X = FileRows(X.source, X.rows[a:b]) if isinstance(X, FileRows) else X[a:b]  # type: ignore[index]
        return Segment(X, self.y[a:b], self.w[a:b], self.mix)

    def loaded(self, model: Model) -> Segment:
        """The segment with its rows in memory (read from the file, checked by the model)."""
        if not isinstance(self.X, FileRows):
            return self
        X, y = model.check_data(self.X.source.rows(self.X.rows), self.y)
        return Segment(X, y, self.w, self.mix)


Message = tuple[Segment, ...]  # the chunks of one message, computed in order


def message_width(d: int) -> int:
    """Values in one message for d parameters: the gradient's d, then the loss (the same
    B-weighted sum, so the master decodes the training loss with the gradient)."""
    return d + 1


def never_stop() -> bool:
    """The `stop` of single-message codes: their one message is always finished."""
    return False


@dataclass
class WorkerJob:
    """What worker `worker` holds: per message slot of the code, the chunks (`Segment`s) of that
    message, or None for a slot it never sends. A message is the sum of its chunks' B-weighted
    loss gradients. Single-message codes have one message of one chunk, the union of the
    worker's partitions (one pass); multi-message codes have a chunk per partition, and their
    workers can stop between chunks once the master has decoded the round.
    """

    worker: int
    n: int
    messages: tuple[Message | None, ...]
    model: Model
    delay: DelayModel = field(default_factory=NoDelay)
    faults: tuple[Fault, ...] = ()
    row_time: float = 0.0  # emulated seconds of work per row (slowed by the delay factor too)
    link: Link | None = None  # emulated uplink: each message waits out its bytes / rate
    seed: int = 0  # the run's seed (RunConfig.seed): the corrupt faults' random streams
    # asynchronous codes: the worker's clock at its first task. Each task it serves is its next
    # clock, the round its delays and faults are drawn at (the task's id is the θ version);
    # None: the task's round (synchronous codes)
    clock: int | None = None
    # dealt codes (backup): every row's message, of which the worker computes the one `dealt`
    # to it each round; None: its own `messages`
    pool: tuple[Message | None, ...] | None = None
    budget: Budget | None = None  # fixed-time rounds: its one message's chunks are the pieces

    def round_of(self, task: int, served: int) -> int:
        """The round of the `served`-th task (from 0) with id `task`: its delays and faults."""
        return task if self.clock is None else self.clock + served

    def loaded(self) -> WorkerJob:
        """The job with every row it holds in memory: rows still in a file are read now, in the
        worker's own process (the master never reads them)."""

        def load(messages):
            return tuple(
                None if chunks is None else tuple(seg.loaded(self.model) for seg in chunks)
                for chunks in messages
            )

        pool = None if self.pool is None else load(self.pool)
        return replace(self, messages=load(self.messages), pool=pool)

    def messages_of(self, round: int) -> tuple[Message | None, ...]:
        """The messages the worker computes in `round`: its own, or the one dealt to it; a
        budget worker's pieces from the round's starting piece on, cyclically."""
        if self.pool is not None:
            messages = (self.pool[dealt(self.seed, round, self.n)[self.worker]],)
        else:
            messages = self.messages
        if self.budget is None or messages[0] is None:
            return messages
        q = self.budget.start(self.seed, round, self.worker) % len(messages[0])
        return (messages[0][q:] + messages[0][:q],)

    def run(
        self,
        round: int,
        theta: np.ndarray,
        out: np.ndarray,
        stop: Callable[[], bool] = never_stop,
    ) -> Iterator[tuple[int, float, bool]]:
        """Compute the messages in order, message p into out[p] (`message_width(d)` values: the
        B-weighted gradient, then the B-weighted loss); after each yield
        (p, compute_s, last). The injected delay is really waited out, chunk by chunk: the
        slowdown factor on each chunk's compute (and on the emulated `row_time` per row), the
        extra seconds spread over the chunks by their rows.

        Before every chunk `stop()` is asked; when true (the master no longer needs this round)
        the iteration ends before the last message: the worker is idle. With a `link`, each
        finished message waits out latency + its bytes x the link's seconds per byte.

        Corrupt faults active at `round` (from their round on) rewrite each finished message
        out[p], after its last chunk (and fold) and before the link and the yield, in the
        faults' order, each with `Attack.rng(seed, round, p, worker)`: see `corrupt`.

        A budget worker (fixed-time rounds) stops before a piece that would end after the
        budget's T seconds of the round (`Budget.over`; at least one piece), and writes the
        rows it finished as its message's last value."""
        attacks: tuple[Attack, ...] = ()
        for fault in self.faults:
            if not fault.active(round):
                continue
            if fault.kind == "corrupt":
                attacks += (fault.as_attack(),)
            else:
                fault.strike()
        extra, factor = self.delay.sample(round, self.n)
        extra, factor = extra[self.worker], factor[self.worker]
        d = theta.size  # a message: the B-weighted gradient (d), then the B-weighted loss
        messages, budget, began = self.messages_of(round), self.budget, time.perf_counter()
        todo = [p for p, chunks in enumerate(messages) if chunks is not None]
        rows = sum(seg.y.size for p in todo for seg in messages[p]) or 1
        kw = {"round": round} if getattr(self.model, "takes_round", False) else {}  # coded SGD
        for p in todo:
            compute_s, finished = 0.0, 0
            for c, seg in enumerate(messages[p]):
                if stop():
                    return
                if budget is not None and c and budget.over(time.perf_counter() - began, c):
                    break
                t0 = time.perf_counter()
                loss, g = (
                    value_and_grad(self.model, theta, seg.X, seg.y, seg.w, **kw)
                    if seg.y.size
                    else (0.0, 0.0)
                )
                if seg.mix is not None:  # block codes: [gradient, loss] folded into blocks
                    vec = np.append(g, loss) if seg.y.size else np.zeros(d + 1)
                    folded = fold(vec, seg.mix, out.shape[-1])
                    if c:
                        out[p] += folded
                    else:
                        out[p] = folded
                elif c:
                    out[p, :d] += g
                    out[p, d] += loss
                else:
                    out[p, :d] = g
                    out[p, d] = loss
                spent = time.perf_counter() - t0
                compute_s += spent
                emulated = self.row_time * seg.y.size
                wait = extra * seg.y.size / rows + (factor - 1.0) * spent + factor * emulated
                if wait > 0:
                    time.sleep(wait)
                finished += seg.y.size
            if budget is not None:
                out[p, d + 1] = finished
            if attacks:
                self.corrupt(attacks, round, p, messages[p], theta, out[p], **kw)
            if self.link is not None:
                time.sleep(self.link.seconds(round, self.n, out[p].nbytes)[0, self.worker])
            yield p, compute_s, p == todo[-1]

    def corrupt(
        self,
        attacks: tuple[Attack, ...],
        round: int,
        p: int,
        chunks: Message,
        theta: np.ndarray,
        message: np.ndarray,
        **kw: int,
    ) -> None:
        """Rewrite the finished message p (`message`, in place; computed from `chunks`) with each
        attack in turn, each drawing from its own `Attack.rng(self.seed, round, p,
        self.worker)`. ALIE's spread is `spread` (one more pass over the message's rows, not
        counted in compute_s)."""
        for attack in attacks:
            spread = (
                self.spread(chunks, theta, message.shape[-1], **kw) if attack.needs_spread else None
            )
            attack.corrupt(message, attack.rng(self.seed, round, p, self.worker), spread)

    def spread(self, chunks: Message, theta: np.ndarray, width: int, **kw: int) -> np.ndarray:
        """The per-coordinate std of an honest message as worker `worker` estimates it from its
        own rows (ALIE's spread): each chunk's rows split into 4 near-equal quarters (in order),
        quarter q of the message the sum over its chunks of their quarter q's B-weighted
        [gradient, loss] (folded like the message for block codes), and
        spread = sqrt(4) * std over the 4 quarters (ddof=1): the message sums 4 quarters' worth of
        rows, so its std is twice a quarter's."""
        quarters = np.zeros((4, width))
        for seg in chunks:
            edges = [seg.y.size * q // 4 for q in range(5)]
            for q in range(4):
                a, b = edges[q], edges[q + 1]
                if a == b:
                    continue
                X = seg.X[a:b]  # type: ignore[index]
                loss, g = value_and_grad(self.model, theta, X, seg.y[a:b], seg.w[a:b], **kw)
                vec = np.append(g, loss)
                quarters[q] += vec if seg.mix is None else fold(vec, seg.mix, width)
        return 2.0 * quarters.std(axis=0, ddof=1)
