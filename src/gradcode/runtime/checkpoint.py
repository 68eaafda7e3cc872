"""Checkpoints: everything a run needs to continue exactly where it stopped, written atomically.

`checkpoint.npz` in the run's folder holds θ, the optimizer's state (step and buffers), the next
round, the dead workers, the code (scheme spec, n, s, seed, a hash of B) and a fingerprint of the
data, model and optimizer. Nothing else is needed to continue the straggler streams: every delay
model is a pure function of (seed, round, worker), so the round index is their position.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from ..codes import GradientCode
from ..optim import OptState
from .journal import atomic_write

NAME = "checkpoint.npz"
CHECKPOINT_SECONDS = 30.0  # default cadence: about every 30 s of wall time


@dataclass(frozen=True)
class Checkpoint:
    """The state after `round` rounds (the next round to run is `round`)."""

    round: int
    theta: np.ndarray
    opt: OptState
    dead: dict[int, str]
    code: dict  # scheme, n, s, seed, B (a hash)
    identity: dict  # data fingerprint, model and optimizer: what a resume must match
    extra: dict = field(default_factory=dict)

    def save(self, out: Path) -> None:
        meta = {
            "round": self.round,
            "step": self.opt.step,
            "dead": {str(k): v for k, v in self.dead.items()},
            "code": self.code,
            "identity": self.identity,
            "extra": self.extra,
        }
        arrays = {f"buf{i}": b for i, b in enumerate(self.opt.bufs)}

        def write(f) -> None:
            np.savez(f, theta=self.theta, meta=np.array(json.dumps(meta, default=str)), **arrays)

        atomic_write(out / NAME, write)


def load_checkpoint(out: str | Path) -> Checkpoint:
    """The checkpoint of the run in `out` (ValueError naming what is missing or damaged)."""
    path = Path(out) / NAME
    if not path.is_file():
        raise ValueError(
            f"{out} holds no checkpoint ({NAME}): not a gradcode train folder, or the run died "
            "before its first checkpoint"
        )
    try:
        with np.load(path) as f:
            meta = json.loads(str(f["meta"]))
            bufs = tuple(f[f"buf{i}"] for i in range(sum(k.startswith("buf") for k in f.files)))
            theta = f["theta"]
    except Exception as e:  # a damaged file: zip, npy or JSON errors alike
        raise ValueError(f"{path} is damaged ({type(e).__name__}: {e}); cannot resume") from None
    return Checkpoint(
        int(meta["round"]),
        theta,
        OptState(int(meta["step"]), bufs),
        {int(k): v for k, v in meta["dead"].items()},
        meta["code"],
        meta["identity"],
        meta.get("extra", {}),
    )


def code_identity(code: GradientCode, seed: int) -> dict:
    B = code.B
    dense = B.toarray() if sp.issparse(B) else np.asarray(B)
    digest = hashlib.blake2b(np.ascontiguousarray(dense, "<f8").tobytes(), digest_size=16)
    return {"scheme": code.name, "n": code.n, "s": code.s, "seed": seed, "B": digest.hexdigest()}


def data_fingerprint(X, y: np.ndarray) -> str:
    """A hash of y and of up to 64 evenly spaced rows of X (all of X's shape): cheap at any size,
    and different for a different data set in practice."""
    m = X.shape[0]
    rows = np.unique(np.linspace(0, m - 1, min(m, 64)).astype(np.intp))
    h = hashlib.blake2b(digest_size=16)
    h.update(repr(tuple(X.shape)).encode())
    h.update(np.ascontiguousarray(y).tobytes())
    for r in rows:  # one row at a time: 64 dense rows of a d=1e7 CSR would be 5 GB at once
        row = X[r : r + 1] if sp.issparse(X) else X[[r]]
        row = row.toarray() if sp.issparse(row) else np.asarray(row)
        h.update(np.ascontiguousarray(row, dtype="<f8").tobytes())
    return h.hexdigest()
