"""Binary gradient code for every n and s: fractional repetition with unequal groups and unequal
partition sizes, in the spirit of Charalambides, Mahdavifar and Hero, "Numerically stable binary
gradient coding" (ISIT 2020, arXiv 2001.11449).

Construction. Let ℓ = ⌊n/(s+1)⌋ and split the workers into ℓ groups of consecutive ids whose sizes
m_g differ by at most one: the first n mod ℓ groups have ⌊n/ℓ⌋ + 1 workers, the others ⌊n/ℓ⌋.
Every m_g >= s+1, since ℓ(s+1) <= n. There are k = n partitions; partition j belongs to the group
of worker j, and each group's m_g partitions together hold 1/ℓ of the data, so a partition of
group g holds 1/(ℓ·m_g) of it (`sizes`, relative). Every worker of group g holds all partitions of
its group with coefficient 1: B = blockdiag(1_{m_g x m_g}), entries 0/1. When (s+1) | n all groups
have s+1 workers and this is FRC (same B, equal sizes).

Exactness. s stragglers cannot silence a group of m_g >= s+1 workers, so any n-s survivors include
one worker f_g per group. a = Σ_g e_{f_g} (a_i ∈ {0, 1}) gives aᵀB = Σ_g (row f_g of B) = 1ᵀ,
because the groups' blocks partition the columns. The decoder is combinatorial: the lowest
surviving id of each group, O(n) per survivor set; any survivor set with a worker in every group
decodes (that is also when it is ready, often with far fewer than n-s replies).

Numerical safety. The decoded gradient Σ_g m_{f_g} is a plain sum of ℓ received messages: no
division, no cancellation between large coefficients. aᵀB - 1ᵀ is exactly 0 in floating point, and
float32 messages lose only their own rounding plus that of an ℓ-term sum (`verify.amplification`
is exactly 1).

Load. Every worker holds 1/ℓ of the data, against the lower bound (s+1)/n of any exact code:
n/(ℓ(s+1)) = 1 + (n mod (s+1))/(ℓ(s+1)) times the bound, e.g. 1.004 at n=256, s=16 (1/15 against
17/256), 1.2 at n=12, s=4, and at worst n/(s+1) < 2 when n < 2(s+1) (ℓ = 1: every worker holds
everything). An exhaustive search over binary B (every family of piece holder sets, any real a, the
piece sizes by linear programming) found no load below 1/ℓ for every n <= 5 and for (n, s) =
(6, 3), (7, 4), (7, 5): the excess there is the price of binary coefficients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from .base import GradientCode, Mask, Vector, check_ns
from .decoders import GroupDecoder


@dataclass(frozen=True)
class BinaryDecoder(GroupDecoder):
    """One survivor per group, the lowest id, with a_i = 1: a ∈ {0, 1}ⁿ and aᵀB = 1ᵀ exactly.

    Groups are runs of consecutive worker ids (as `binary` builds them); readiness is the FRC
    rule (one reply from each group, `GroupDecoder.decodable_at`). `solve_many` decodes a stack
    of masks (sets x n) at once; `solve` is its one-mask case."""

    def __post_init__(self) -> None:
        g = np.asarray(self.group)
        if np.any(np.diff(g) != np.diff(g).clip(0, 1)) or g[0] != 0 or g[-1] != self.n_groups - 1:
            raise ValueError(
                f"BinaryDecoder needs groups 0..{self.n_groups - 1} as runs of consecutive "
                f"worker ids, got group={g.tolist()}"
            )

    def solve_many(self, masks: NDArray[np.bool_]) -> NDArray[np.float64]:
        """Decoding vectors (sets x n): 1 at the lowest surviving id of each group, 0 elsewhere
        (a group without survivors gets no 1: check `ready_many` first)."""
        seen = np.cumsum(masks, axis=1)  # survivors among workers 0..i
        before = np.where(self.starts > 0, seen[:, self.starts - 1], 0)  # before each group
        return (masks & (seen == before[:, self.group] + 1)).astype(np.float64)

    def solve(self, mask: Mask) -> Vector:
        return self.solve_many(mask[None])[0]


def group_sizes(n: int, s: int) -> np.ndarray:
    """Sizes of the ℓ = ⌊n/(s+1)⌋ groups, each >= s+1, differing by at most one (largest first)."""
    n, s = check_ns(n, s)
    groups = n // (s + 1)
    sizes = np.full(groups, n // groups)
    sizes[: n % groups] += 1
    return sizes


def binary(n: int, s: int, rng: np.random.Generator) -> GradientCode:
    """Binary exact code for any 0 <= s < n (module docstring); deterministic, `rng` unused."""
    n, s = check_ns(n, s)
    m = group_sizes(n, s)
    group = np.repeat(np.arange(m.size), m)
    starts = np.r_[0, np.cumsum(m)[:-1]]
    rows = np.repeat(np.arange(n), m[group])  # worker i holds its group's m_g partitions
    cols = np.concatenate([np.arange(starts[g], starts[g] + m[g]) for g in group])
    B = sp.csr_array((np.ones(rows.size), (rows, cols)), shape=(n, n))
    equal = bool(np.all(m == m[0]))
    notes = (
        f"{m.size} group{'s' * (m.size > 1)} of "
        f"{'/'.join(str(x) for x in sorted(set(m.tolist()), reverse=True))} workers; "
        f"each worker holds 1/{m.size} of the data "
        f"(lower bound (s+1)/n = {s + 1}/{n}: x{n / (m.size * (s + 1)):.3f})"
    )
    return GradientCode(
        "binary",
        n,
        s,
        B,
        exact=True,
        make_decoder=lambda c: BinaryDecoder(group, int(m.size)),
        notes=notes,
        sizes=None if equal else tuple(float(x) for x in (1.0 / m)[group]),
    )
