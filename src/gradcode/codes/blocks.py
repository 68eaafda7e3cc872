"""Block messages of communication-efficient codes (`GradientCode.blocks` = m > 1).

A message vector of length L (whatever the runtime sends: the gradient, or the gradient with the
loss as its last coordinate) is split into m blocks of w = ceil(L/m) values, the last one
zero-padded. A worker folds each partition gradient g_j into its message with that partition's m
block weights, message += sum_u B[msg, u*k+j] g_j^(u) (`fold`); the master unfolds the m decoded
block sums back into one vector of length L (`unfold`). Both are generic in L.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray


def block_width(L: int, m: int) -> int:
    """w = ceil(L/m): the length of each of the m blocks (and of each message)."""
    if not (isinstance(m, (int, np.integer)) and m >= 1):
        raise ValueError(f"m (blocks) must be an integer >= 1, got m={m!r}")
    return -(-int(L) // int(m))


def fold(g: NDArray, mix: NDArray, width: int) -> NDArray[np.float64]:
    """sum_u mix[u] * block u of g (length width): g zero-padded to m*width, blocks as rows."""
    m = mix.shape[0]
    L = g.shape[-1]
    if m * width < L:
        raise ValueError(
            f"a vector of length {L} does not split into m={m} blocks of {width} values"
        )
    full, rest = divmod(L, width)
    out = mix[:full] @ g[: full * width].reshape(full, width) if full else np.zeros(width)
    if rest:
        out[:rest] += mix[full] * g[full * width :]
    return np.asarray(out, dtype=np.float64)


def unfold(
    A: NDArray, vectors: Mapping[int, NDArray], L: int
) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """The decoded vector (length L) from the (m, messages) decoding matrix A and the arrived
    messages by id, summed in float64; and the messages used (a nonzero weight in some block)."""
    used = np.flatnonzero(np.any(A != 0, axis=0))
    m = A.shape[0]
    width = block_width(L, m)
    blocks = np.zeros((m, width))
    for i in used:
        blocks += np.outer(A[:, i], vectors[int(i)])
    return blocks.reshape(-1)[:L], used
