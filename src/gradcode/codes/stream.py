"""Streaming (multi-message) gradient coding: a message after every chunk, no slowdown factor.

Worker i holds the cyclic support i, i+1, ..., i+s (mod n) and computes it in that order, sending
each partition's gradient as soon as it is done: message p of worker i is g_{(i+p) mod n}. The
orders are staggered so that every partition is the p-th chunk of exactly one worker for every
p: with no straggler the master has every partition after ONE chunk time (the others are told to
stop), a slow worker's finished chunks are used, and any s lost workers are survived because
every partition lives on s+1 workers. The master decodes once every partition arrived from some
worker (a 0/1 combination, no real-valued inversion). The cost is communication: a worker may
send up to s+1 messages per round (in the spirit of Ozfatura, Gündüz, Ulukus 2019, and
Sarmasarkar, Lalitha, Ramamoorthy, NeurIPS 2024, whose orderings this staggering matches for
cyclic assignments).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .base import GradientCode
from .cyclic import cyclic_support
from .decoders import GroupDecoder


def stream(n: int, s: int, rng: np.random.Generator) -> GradientCode:
    """Message i*(s+1)+p = the gradient of partition (i+p) mod n; one message per partition
    decodes (min-norm: the arrived copies of a partition are averaged)."""
    _, cols = cyclic_support(n, s)  # row-major: worker i's partitions i, i+1, ..., i+s
    B = sp.csr_array((np.ones(cols.size), (np.arange(cols.size), cols)), shape=(cols.size, n))
    return GradientCode(
        "stream",
        n,
        s,
        B,
        exact=True,
        make_decoder=lambda code: GroupDecoder(cols, n, member="message"),
        parts=s + 1,
        notes=f"up to s+1={s + 1} messages per worker and round; decodes once every partition "
        "arrived",
    )
