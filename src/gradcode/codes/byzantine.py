"""Locating corrupted messages in codes with an adversary budget a (Byzantine workers).

Every partition of such a code lies on s + 2a + 1 workers (DRACO, Chen et al. ICML 2018; the
bound r >= s + 2a + 1 of Jahani-Nezhad & Maddah-Ali 2021), so the arrived messages carry
redundancy beyond what decoding needs, and that redundancy locates up to a corrupted ones.

Location runs on q projections of the messages, P = Y R (R a random (L, q) matrix drawn after
the messages arrived): each column of P is one real codeword of the code plus the projected
errors, so it is a short problem (n numbers per column). A locator never has the last word:
`inner` is the same code trusting every message (it decodes what is left once the
corrupted messages are dropped), and `checks(mask)` gives parity checks C (zero outside the mask) with C B_mask = 0, and the trust
layer (runtime/trust.py) confirms on the full vectors that C Y vanishes once the located
messages are dropped.

- `GroupVote` (repetition, FRC): the members of a group send the same vector; with c arrivals
  in a group, up to (c - 1) // 2 corrupted ones are out-voted by the majority.
- `SpectralLocator` (cyclic MDS): the code's words have a zero spectrum at the s + 2a
  consecutive frequencies Z; with W erased (not arrived) messages the |F| - (n - s - 2a)
  remaining syndromes, with the erasures' own contribution cancelled (Forney), are a sum of
  exponentials at the error positions: Prony's method finds their locator polynomial, a Chien
  search its roots among the arrived positions (the real-field Reed-Solomon decoder).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from .base import GradientCode
from .protocol import Mask

TOL = 1e-7  # relative size of a disagreement that counts as corruption (float64 messages)
RANK = 1e-3  # a Hankel singular value below RANK * tol (relative) is zero: rounding, no error
SEPARATION = 1e-3  # a root of the locator is this much closer to 0 than any other position


@dataclass(frozen=True)
class GroupVote:
    """Majority vote within the groups of a repetition code (group id of each message)."""

    group: NDArray[np.intp]
    n_groups: int
    inner: GradientCode  # the same B, trusting every message: decodes from one per group

    def locate(
        self, mask: Mask, P: NDArray[np.float64], tol: float = TOL
    ) -> tuple[int, ...] | None:
        """The corrupted messages among `mask` from their projections P (messages x q), or
        None when some group has no majority (more corruptions than its arrivals can out-vote)."""
        suspects: list[int] = []
        for g in range(self.n_groups):
            members = np.flatnonzero(mask & (self.group == g))
            c = members.size
            if c == 0:
                continue
            Q = P[members]
            scale = np.maximum(np.abs(Q).max(axis=1)[:, None], np.abs(Q).max(axis=1)[None, :])
            dist = np.abs(Q[:, None, :] - Q[None, :, :]).max(axis=2)
            agree = dist <= tol * np.maximum(scale, np.finfo(float).tiny)
            best = int(np.argmax(agree.sum(axis=1)))
            if agree[best].sum() < c - (c - 1) // 2:
                return None
            suspects += members[~agree[best]].tolist()
        return tuple(suspects)

    def checks(self, mask: Mask) -> sp.csr_array:
        """Parity checks over the messages in `mask`: consecutive members of a group agree."""
        pairs = [
            (int(i), int(j))
            for g in range(self.n_groups)
            for members in [np.flatnonzero(mask & (self.group == g))]
            for i, j in zip(members[:-1], members[1:], strict=True)
        ]
        m = len(pairs)
        cols = np.array(pairs, dtype=np.intp).reshape(m, 2).ravel()
        vals = np.tile([1.0, -1.0], m)
        return sp.csr_array((vals, (np.repeat(np.arange(m), 2), cols)), shape=(m, mask.size))


@dataclass(frozen=True)
class SpectralLocator:
    """Error location for a real cyclic-MDS code whose words vanish at frequencies z0 .. z0+z-1."""

    n: int
    z0: int
    z: int  # s + 2a (+1 where n - s is even): the consecutive zeros of the spectrum
    inner: GradientCode  # the same B, trusting every message: decodes from any n - z

    def locate(
        self, mask: Mask, P: NDArray[np.float64], tol: float = TOL
    ) -> tuple[int, ...] | None:
        """The corrupted messages among `mask` from their projections P (n x q), or None when
        no set of at most (redundancy // 2) positions explains the syndromes."""
        n = self.n
        F, W = np.flatnonzero(mask), np.flatnonzero(~mask)
        K = F.size - (n - self.z)  # syndromes left once the erasures are cancelled
        if K <= 0:
            return () if K == 0 else None
        # S_j = Σ_{i in F} P_i X_i^(z0+j), X_i = ω^-i: a codeword alone gives 0 for all j < z
        expo = (np.outer(self.z0 + np.arange(self.z), F) % n) * (-2j * np.pi / n)
        S = np.exp(expo) @ P[F]
        gamma = np.poly(np.exp(-2j * np.pi * W / n))[::-1] if W.size else np.ones(1)
        T = sum(gamma[l] * S[l : l + K] for l in range(gamma.size))  # (K, q): errors only
        scale = np.abs(gamma).sum() * np.abs(P[F]).sum(axis=0).max()
        if not scale > 0 or np.abs(T).max() <= tol * scale:
            return ()
        X = np.exp(-2j * np.pi * F / n)
        for nu in range(1, K // 2 + 1):
            H = np.concatenate([_hankel(T[:, c], nu) for c in range(T.shape[1])])
            _, sigma, Vh = np.linalg.svd(H)
            if sigma[-1] > RANK * tol * scale * np.sqrt(H.shape[0]):
                continue  # more than nu errors (or none that nu roots explain)
            lam = Vh[-1].conj()
            vals = np.abs(np.polyval(lam[::-1], X))
            order = np.argsort(vals)
            if order.size > nu and vals[order[nu - 1]] > SEPARATION * vals[order[nu]]:
                return None  # the locator's roots are not at arrived positions
            return tuple(int(F[i]) for i in np.sort(order[:nu]))
        return None

    def checks(self, mask: Mask) -> NDArray[np.float64]:
        """Parity checks C (rows x n, zero outside `mask`) with C B = 0, in closed form: the
        code's checks X^z (z in Z) combined to vanish on the erased positions W (Forney),
        h_l = X^(z0+l) · Γ(X) for l < z - |W|, as their real and imaginary parts."""
        n, W = self.n, np.flatnonzero(~mask)
        K = self.z - W.size
        if K <= 0:
            return np.zeros((0, n))
        i = np.arange(n)
        X = np.exp(-2j * np.pi * i / n)
        gamma = np.poly(X[W]) if W.size else np.ones(1)
        h = np.exp((np.outer(self.z0 + np.arange(K), i) % n) * (-2j * np.pi / n)) * np.polyval(
            gamma, X
        )
        h[:, W] = 0.0  # Γ vanishes there up to rounding
        return np.concatenate([h.real, h.imag])


def _hankel(t: NDArray[np.complex128], nu: int) -> NDArray[np.complex128]:
    """Rows j = 0 .. len(t)-nu-1 of the Hankel matrix [t_{j+l}], l = 0 .. nu."""
    return np.lib.stride_tricks.sliding_window_view(t, nu + 1)
