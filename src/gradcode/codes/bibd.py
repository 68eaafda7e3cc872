"""Block-design gradient code (Kadhe, Koyluoglu, Ramchandran, ISIT 2019).

A balanced incomplete block design on n points: every point lies in r blocks, every pair of
points in λ blocks. Worker = point, partition = block: worker i holds the r = `load` blocks
through point i, B is the point-block incidence matrix (n x k, k = number of blocks). Then
B_F B_Fᵀ = (r-λ)I + λJ and B_F 1 = r1 for *every* survivor set F, so the optimal decoder is
a = r / (r - λ + λ|F|) on the survivors and the error depends only on the number of stragglers
(an adversary choosing them gains nothing).

Designs built here, q and p prime:
- projective plane PG(2, q): n = q²+q+1 points and lines, load q+1, λ = 1 (symmetric);
- affine plane AG(2, q): n = q² points, k = q²+q lines, load q+1, λ = 1;
- Paley (quadratic-residue) design: n = p ≡ 3 (mod 4), p >= 7, blocks the translates of the
  squares mod p, load (p-1)/2, λ = (p-3)/4 (symmetric).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from .approx import LeastSquaresDecoder, uniform
from .base import GradientCode

LIST_UP_TO = 200  # supported n listed in error messages


@dataclass(frozen=True)
class Design:
    """A BIBD family member: n points, k blocks, load r, and its incidence (n, r) block ids."""

    family: str
    n: int
    k: int
    load: int
    blocks_of: Callable[[], NDArray[np.intp]]

    @property
    def lam(self) -> int:
        """λ: blocks through any two points, from λ(n-1) = r(block size - 1)."""
        return self.load * (self.n * self.load // self.k - 1) // (self.n - 1)


def is_prime(q: int) -> bool:
    return q >= 2 and all(q % p for p in range(2, int(q**0.5) + 1))


def projective_plane(q: int) -> NDArray[np.intp]:
    """Lines through each point of PG(2, q): points and lines are the normalised vectors of
    GF(q)³ ((1,a,b), (0,1,a), (0,0,1)); point p lies on line l iff p·l = 0 mod q."""
    a, b = np.divmod(np.arange(q * q), q)
    P = np.vstack([np.column_stack([np.ones(q * q, int), a, b]),
                   np.column_stack([np.zeros(q, int), np.ones(q, int), np.arange(q)]),
                   [[0, 0, 1]]])  # fmt: skip
    return np.nonzero((P @ P.T) % q == 0)[1].reshape(len(P), q + 1)


def affine_plane(q: int) -> NDArray[np.intp]:
    """Lines through each point (x, y) of AG(2, q): y = m·x + c is line m·q + c, x = c is q² + c."""
    x, y = np.divmod(np.arange(q * q), q)
    m = np.arange(q)
    sloped = m * q + (y[:, None] - m * x[:, None]) % q
    return np.column_stack([sloped, q * q + x])


def paley(p: int) -> NDArray[np.intp]:
    """Blocks through each point x of the quadratic-residue design: block i = squares + i, so x
    lies in the blocks x - d for the nonzero squares d mod p."""
    squares = np.unique(np.arange(1, p) ** 2 % p)
    return (np.arange(p)[:, None] - squares) % p


def designs_with_load(load: int) -> list[Design]:
    """Every supported design whose points lie in `load` blocks, by increasing n."""
    q, out = load - 1, []
    if is_prime(q):
        out.append(Design(f"affine plane AG(2,{q})", q * q, q * q + q, load,
                          lambda: affine_plane(q)))  # fmt: skip
        out.append(Design(f"projective plane PG(2,{q})", q * q + q + 1, q * q + q + 1, load,
                          lambda: projective_plane(q)))  # fmt: skip
    p = 2 * load + 1
    if p >= 7 and p % 4 == 3 and is_prime(p) and p not in (d.n for d in out):
        out.append(Design(f"Paley design QR({p})", p, p, load, lambda: paley(p)))
    return sorted(out, key=lambda d: d.n)


def designs_for(n: int) -> list[Design]:
    """Every supported design on n points, by increasing load."""
    return [d for load in range(2, n) for d in designs_with_load(load) if d.n == n]


def supported(up_to: int = LIST_UP_TO) -> list[tuple[int, int]]:
    """(n, load) of every supported design with n <= up_to."""
    return sorted((d.n, d.load) for r in range(2, up_to) for d in designs_with_load(r)
                  if d.n <= up_to)  # fmt: skip


def find_design(n: int, load: int | None) -> Design:
    """The design for (n, load) (`load` None: the least load on n points); ValueError naming the
    values and the n that work otherwise."""
    found = designs_for(n) if load is None else [d for d in designs_with_load(load) if d.n == n]
    if found:
        return found[0]
    listed = ", ".join(f"{m} (load {r})" for m, r in supported())
    hint = ""
    if load is not None:
        ns = [d.n for d in designs_with_load(load)] if isinstance(load, int) else []
        loads = [d.load for d in designs_for(n)]
        hint = f"; with load={load}: n in {ns or 'none'}; with n={n}: load in {loads or 'none'}"
    raise ValueError(
        f"bibd: no supported block design for n={n}, load={load}{hint}. Supported n (load) up "
        f"to {LIST_UP_TO}: {listed} (projective and affine planes of prime order, Paley designs)"
    )


def bibd(n: int, s: int, rng: np.random.Generator, *, load: int | None = None) -> GradientCode:
    """Point-block incidence of a BIBD on n points with `load` blocks per point (None: the least
    load available for n); decodes with a = r/(r - λ + λ|F|) on the survivors F."""
    if load is not None and (isinstance(load, bool) or not isinstance(load, (int, np.integer))):
        raise ValueError(f"bibd: load must be an integer or None, got load={load!r}")
    design = find_design(n, None if load is None else int(load))
    cols = design.blocks_of()
    r, lam = design.load, design.lam
    rows = np.repeat(np.arange(n), r)
    B = sp.csr_array((np.ones(n * r), (rows, cols.ravel())), shape=(n, design.k))
    return GradientCode(
        "bibd",
        n,
        s,
        B,
        exact=False,
        make_decoder=lambda c: LeastSquaresDecoder(
            c.n, c.n - c.s, uniform(lambda m: r / (r - lam + lam * m))
        ),
        notes=f"approximate: {design.family}, (n, k, r, λ) = ({n}, {design.k}, {r}, {lam})",
    )
