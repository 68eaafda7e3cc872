"""Straggler simulator: round times of a gradient code under a delay model, vectorised over
rounds and workers, with closed-form expectations (order statistics) where they exist.

Worker i's reply in round t takes ``T[t, i] = work_i * t_partition * factor[t, i] + extra[t, i]
+ comm`` seconds after the round's broadcast, where work_i is its data in units of an average
partition (the number of partitions it holds, for equal partitions) and (extra, factor) are the
delay model's draws (the same numbers the runtime injects). Multi-message codes send message p
once the work w_ip of messages 0..p is done, at ``w_ip * t_partition * factor + extra * w_ip /
work_i + comm`` (the runtime spreads the extra seconds over the messages the same way). The round
ends when ``code.can_decode(arrived)`` first holds; its time is that moment plus the master's
``overhead`` (decode and step).

The moment is the decoder's own answer, for a whole block of rounds at once
(``code.decodable_at``, batch-first; ``can_decode`` is its one-row case): the k-th order
statistic of the row for uncoded and approximate codes and codes decoding from any n-s, the max
over groups of the group's first arrival for FRC, binary and stream codes, the composition with
the inner code for partial codes, and the exact incremental loop (arrivals in time order until
``can_decode``) for a decoder with no vectorised rule. The simulator holds no rule of its own.

With ``carryover`` the rounds are chained as the runtime runs them: the master never queues a
second message on a busy worker, so a worker still computing (or sleeping out its delay) for an
old round gets the current round's parameters only when it finishes (a multi-message worker: when
it finishes the message in flight at the round's end, where it stops), and skips the rounds that
ended meanwhile; ``gap`` seconds separate a round's end plus ``overhead`` from the next broadcast
(the master's loss evaluation and bookkeeping). Without it rounds are independent (the textbook
model of the order statistics, and of a runtime that cancels stragglers).

An asynchronous code (``async:staleness=T``) is simulated event by event instead, as the runtime
runs it: worker i's message of its clock c takes the reply time above of round c (its delays are
drawn at its own clock), the master applies messages one at a time (`overhead` seconds each)
and re-sends at once unless the worker would be more than T clocks ahead of the slowest; a
round is one clock step of the slowest worker (`gap`: the master's recording after it).

`bounds` gives what no scheme beats: the oracle lower bound T* (total work over total speed,
per round, from the same draws) and how work-proportional a delay model is.
"""

from .bounds import (
    WORK_PROPORTIONAL,
    exponential_penalty,
    oracle_bound,
    oracle_times,
    proportional_share,
)
from .calibrate import Calibration, calibrate
from .closed_forms import CLOSED_FORMS, expected_round_time, harmonic, pareto_order_mean
from .rounds import (
    BLOCK_ELEMENTS,
    DEFAULT_ROUNDS,
    Profile,
    Simulation,
    Times,
    as_delay_model,
    profile,
    ready_rule,
    ready_times,
    ready_times_loop,
    reply_times,
    simulate,
)

__all__ = [
    "BLOCK_ELEMENTS",
    "CLOSED_FORMS",
    "DEFAULT_ROUNDS",
    "Calibration",
    "Profile",
    "Simulation",
    "Times",
    "WORK_PROPORTIONAL",
    "as_delay_model",
    "calibrate",
    "expected_round_time",
    "exponential_penalty",
    "harmonic",
    "oracle_bound",
    "oracle_times",
    "pareto_order_mean",
    "profile",
    "proportional_share",
    "ready_rule",
    "ready_times",
    "ready_times_loop",
    "reply_times",
    "simulate",
]
