"""Adaptive codes: re-estimate the workers' speeds online and re-encode when it pays.

`adaptive:every=E;threshold=X;alpha=A` starts as `hetero` with equal speeds (a cyclic-like
exact code with s+1 copies of every row). Every E rounds the master hands the policy the task
times it saw (each worker's send-to-last-reply time, stale replies included, so a straggler the
decode never waits for is still timed); the policy keeps an EWMA (weight A on the newest) of
each worker's speed, its share of the data / task time, and predicts the round time of the current code and of
`hetero` re-laid for those speeds: the (n-s)-th smallest share_i / speed_i (hetero decodes
from any n-s). When the predicted gain 1 - T_new / T_now reaches X, the master re-encodes between two
rounds (every code is exact, so the trajectory is unchanged). Among arc offsets on the data
circle the one that moves the fewest rows is taken: a worker keeps what its old arc shares with
its new one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .base import GradientCode
from .hetero import arcs, hetero

OFFSETS = 64  # arc offsets tried when re-laying the data: the one moving the fewest rows wins


@dataclass
class Adapt:
    """The re-encoding policy of an adaptive code (mutable: its speed estimates)."""

    every: int = 10
    threshold: float = 0.1
    alpha: float = 0.5
    seed: int = 0
    speeds: np.ndarray | None = field(default=None, repr=False)

    def observe(self, code: GradientCode, task_s: np.ndarray) -> None:
        """Fold one set of task times (n,; NaN: none completed) into the speed estimates."""
        rate = shares(code) / task_s
        if self.speeds is None:
            self.speeds = np.where(np.isfinite(rate), rate, np.nan)
            return
        fresh = np.isfinite(rate)
        old = np.isfinite(self.speeds)
        mixed = (1 - self.alpha) * self.speeds + self.alpha * rate
        self.speeds = np.where(fresh & old, mixed, np.where(fresh, rate, self.speeds))

    def propose(self, code: GradientCode) -> tuple[GradientCode, float, float] | None:
        """(new code, predicted gain, rows moved as a share of the data), or None: keep."""
        v = self.speeds
        if v is None or not np.isfinite(v).all() or not (v > 0).all():
            return None
        v = v / v.mean()
        now = predicted_round(code, v)
        best = None
        old = _arcs_of(code)
        for k in range(OFFSETS):
            offset = k / OFFSETS
            new = hetero(code.n, code.s, np.random.default_rng(self.seed), speeds=v, offset=offset)
            moved = _moved(old, _arcs(v, code.s, offset))
            if best is None or moved < best[2] - 1e-12:
                best = (new, offset, moved)
        new, offset, moved = best
        gain = 1.0 - predicted_round(new, v) / now
        if gain < self.threshold:
            return None
        speeds = ",".join(f"{x:.4g}" for x in v)
        return replace(new, name="adaptive", adapt=self, notes=f"speeds {speeds}"), gain, moved


def adaptive(
    n: int,
    s: int,
    rng: np.random.Generator,
    *,
    every: int = 10,
    threshold: float = 0.1,
    alpha: float = 0.5,
) -> GradientCode:
    """`hetero` with equal speeds and a re-encoding policy (module docstring)."""
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be a number of rounds >= 1, got every={every!r}")
    if not (isinstance(threshold, (int, float)) and 0 <= threshold < 1):
        raise ValueError(f"threshold must be a predicted gain in [0, 1), got {threshold!r}")
    if not (isinstance(alpha, (int, float)) and 0 < alpha <= 1):
        raise ValueError(f"alpha must be an EWMA weight in (0, 1], got alpha={alpha!r}")
    seed = int(rng.integers(2**31))
    code = hetero(n, s, np.random.default_rng(seed))
    policy = Adapt(every, float(threshold), float(alpha), seed)
    return replace(code, name="adaptive", adapt=policy, notes="speeds re-estimated online")


def shares(code: GradientCode) -> np.ndarray:
    """The share of the data each worker holds (comparable across codes of different k)."""
    return np.array([code.work(i) for i in range(code.n)]) / code.k


def predicted_round(code: GradientCode, speeds: np.ndarray) -> float:
    """The round time of `code` when worker i processes `speeds[i]` data sets per second: the
    (n-s)-th smallest share_i / speed_i."""
    t = shares(code) / speeds
    return float(np.partition(t, code.n - code.s - 1)[code.n - code.s - 1])


def _arcs(speeds: np.ndarray, s: int, offset: float) -> np.ndarray:
    """(n, 2) arc [start, length) of every worker on the data circle (hetero's layout)."""
    L = arcs(np.asarray(speeds, dtype=float), s)
    starts = (np.cumsum(L) - L + offset) % 1.0
    return np.column_stack([starts, L])


def _arcs_of(code: GradientCode) -> np.ndarray:
    """The arcs `code` gives its workers, from its partitions' sizes (contiguous row blocks)."""
    cuts = np.r_[0.0, np.cumsum(code.size_of) / code.k]
    out = np.zeros((code.n, 2))
    for i in range(code.n):
        held = sorted(code.partitions(i))
        # a worker's partitions are consecutive on the circle: find where its run starts
        start = next(j for j in held if (j - 1) % code.k not in held) if len(held) < code.k else 0
        out[i] = cuts[start], sum(code.size_of[j] for j in held) / code.k
    return out


def _moved(old: np.ndarray, new: np.ndarray) -> float:
    """Share of the data every worker must newly receive: Σ_i |new_i \\ old_i| (circular)."""
    return float(sum(b[1] - _overlap(a, b) for a, b in zip(old, new, strict=True)))


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Length of the intersection of two arcs [start, start+length) on the unit circle."""
    total = 0.0
    for shift in (-1.0, 0.0, 1.0):
        lo = max(a[0], b[0] + shift)
        hi = min(a[0] + a[1], b[0] + shift + b[1])
        total += max(0.0, hi - lo)
    return min(total, a[1], b[1])
