"""What the master trusts: never a non-finite message; with an adversary budget a, never a
message that the code's redundancy shows to be corrupted.

Codes with a > 0 (codes/byzantine.py) decide each round in three steps:
1. project: P = Y R for a random R (L x q), the run's own (drawn from its seed, on the master
   only), and every message's norm, in one pass; a non-finite projection or norm marks a
   non-finite message (dropped at once);
2. locate: the code's locator names at most (redundancy // 2) suspects from P, and again on
   what is left until it names none (a huge error can hide smaller ones below rounding);
3. confirm: with the suspects dropped, the code's parity checks C must annihilate the FULL
   messages, tested by one fresh random combination c = ρᵀC of them (Freivalds: if any check
   fails, c fails with probability 1): ||Σ_i c_i y_i|| <= tol · Σ_i |c_i| ||y_i||. Only then is
   the round decoded, from the confirmed messages alone.
A round that cannot be confirmed waits for more messages; when none can come it is flagged:
recorded, never stepped on. Codes without a locator trust every finite message; the loop
drops a non-finite one it finds in a decoded sum (`nonfinite`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.linalg.blas import dnrm2

from ..codes import GradientCode
from ..codes.decoders import UniformDecoder
from .combine import BLOCK, Combiner

PROJECTIONS = 2  # q: random projections the locator works on
PROJECTION_STREAM = 5  # [seed, 5, ...]: the projections' stream (delays 0..2, links 3, attacks 4)
TOL = {"float64": 1e-7, "float32": 1e-3}  # relative disagreement that counts as corruption


@dataclass(frozen=True)
class Verdict:
    """A round's decision: the decoding vector over the trusted messages (None: the round is
    flagged, nothing is stepped) and the messages found corrupt."""

    a: np.ndarray | None
    dropped: tuple[int, ...] = ()


class Trust:
    """Decides a round of `code` from its arrived messages (module docstring)."""

    def __init__(self, code: GradientCode, width: int, seed: int, dtype: str = "float64") -> None:
        self.code, self.width, self.seed, self.tol = code, width, seed, TOL[dtype]
        self.locator = code.locator
        # the code that decodes the messages left once corrupt ones are dropped
        self.fallback = code if self.locator is None else self.locator.inner
        if code.budget is not None:  # fixed-time rounds: once no more can come, whoever replied
            self.fallback = replace(code, make_decoder=lambda c: UniformDecoder(c.n, 1))
        if self.locator is not None:
            self._combine = Combiner(width)
            self._R = np.random.default_rng((seed, PROJECTION_STREAM)).standard_normal(
                (width, PROJECTIONS)
            )

    def decide(self, t: int, mask: np.ndarray, vectors: dict, final: bool) -> Verdict | None:
        """The round's verdict from the messages in `mask` (the code can decode them, or
        `fallback` can and no more will come), or None: wait for more (only while `final` is
        false: more messages may still come)."""
        if self.locator is None:
            return Verdict(self.fallback.decode(mask))
        rng = np.random.default_rng((self.seed, PROJECTION_STREAM, t))
        ids = np.flatnonzero(mask)
        P, norms = self._project(ids, vectors)
        bad = ids[~(np.isfinite(P[ids]).all(axis=1) & np.isfinite(norms[ids]))]
        ok = mask.copy()
        ok[bad] = False
        dropped = [int(i) for i in bad]
        while (suspects := self._locate(ok, P)) is not None and suspects:
            ok[list(suspects)] = False  # peel: a huge error can hide smaller ones below rounding
            dropped += suspects
        if (
            suspects is not None
            and self.fallback.can_decode(ok)
            and self._confirmed(ok, vectors, norms, rng)
        ):
            return Verdict(self.fallback.decode(ok), tuple(sorted(dropped)))
        return None if not final else Verdict(None, tuple(int(i) for i in bad))

    def _project(self, ids: np.ndarray, vectors: dict) -> tuple[np.ndarray, np.ndarray]:
        """(P, norms): each message against the run's random R (messages x q) and its norm, in
        one pass over the messages, block by block (R's block stays in cache)."""
        P = np.zeros((self.code.messages, PROJECTIONS))
        sq = np.zeros(self.code.messages)
        with np.errstate(over="ignore", invalid="ignore"):  # a corrupt message may overflow
            for lo in range(0, self.width, BLOCK):
                Rb = self._R[lo : lo + BLOCK]
                for i in ids:
                    v = vectors[int(i)][lo : lo + BLOCK]
                    P[i] += v @ Rb
                    sq[i] += float(np.dot(v, v))
        return P, np.sqrt(sq)

    def _locate(self, ok: np.ndarray, P: np.ndarray) -> tuple[int, ...] | None:
        """The locator's suspects among `ok`, from the projections scaled to at most 1 there."""
        Q = np.where(ok[:, None], P, 0.0)
        Q /= np.maximum(np.abs(Q).max(axis=0), np.finfo(float).tiny)  # no overflow near 1e308
        return self.locator.locate(ok, Q, self.tol)

    def _confirmed(self, ok: np.ndarray, vectors: dict, norms: np.ndarray, rng) -> bool:
        """Whether the parity checks over the messages in `ok` vanish on the full vectors,
        tested at once by a fresh random combination of them, c = ρᵀC (if any check fails, c
        fails with probability 1): ||Σ_i c_i y_i|| <= tol · Σ_i |c_i| ||y_i||. No check left
        (no redundancy): nothing confirms, so nothing is trusted."""
        C = self.locator.checks(ok)
        if C.shape[0] == 0:
            return False
        c = np.asarray(rng.standard_normal(C.shape[0]) @ C).ravel()  # C dense or sparse
        used = np.flatnonzero(ok & (c != 0))
        r = self._combine(c[used].tolist(), [vectors[int(i)] for i in used])
        return _norm(r) <= self.tol * float(np.abs(c[used]) @ norms[used])


def nonfinite(ids: np.ndarray, vectors: dict) -> list[int]:
    """The messages among `ids` with a NaN or an infinity."""
    return [int(i) for i in ids if not np.isfinite(vectors[int(i)]).all()]


def finite(x: np.ndarray) -> bool:
    """Whether every value of x is finite, from one pass (a sum: NaN and ±inf propagate)."""
    return math.isfinite(float(np.add.reduce(x, dtype=np.float64)))


def _norm(v: np.ndarray) -> float:
    return float(dnrm2(v)) if v.dtype == np.float64 else float(np.linalg.norm(v))
