"""An on-disk cache of prepared arrays: one npz file per key, written atomically.

Dense arrays are stored as they are; scipy.sparse matrices as their CSR components; metadata as
one JSON string. Loading never unpickles (``allow_pickle=False``).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

# Bump when the preparation of any data set changes, so that old entries are never returned.
CACHE_VERSION = 1
_META = "__meta__"
_SPARSE = ("data", "indices", "indptr", "shape")

Array = np.ndarray | sp.csr_matrix


def default_cache_dir() -> Path:
    """$GRADCODE_CACHE if set, else $XDG_CACHE_HOME/gradcode, else ~/.cache/gradcode."""
    if env := os.environ.get("GRADCODE_CACHE"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "gradcode"


def file_identity(path: str | Path) -> dict[str, Any]:
    """What a cache key needs to notice a changed file: resolved path, size, mtime (ns)."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    st = path.stat()
    return {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def cache_key(spec: Mapping[str, Any]) -> str:
    """A hex digest of a JSON-able description (name, parameters, seed, files ...)."""
    text = json.dumps({"version": CACHE_VERSION, **spec}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def save(path: str | Path, arrays: Mapping[str, Array], meta: Mapping[str, Any]) -> None:
    """Write named dense/sparse arrays and JSON metadata to ``path`` (an .npz), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flat: dict[str, np.ndarray] = {_META: np.array(json.dumps(meta))}
    for name, a in arrays.items():
        if sp.issparse(a):
            csr = sp.csr_matrix(a)
            flat |= {f"{name}.{part}": np.asarray(getattr(csr, part)) for part in _SPARSE}
        else:
            flat[name] = np.asarray(a)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **flat)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: str | Path) -> tuple[dict[str, Array], dict[str, Any]]:
    """Read what :func:`save` wrote: (arrays by name, metadata)."""
    with np.load(path, allow_pickle=False) as z:
        flat = {name: z[name] for name in z.files}
    meta = json.loads(str(flat.pop(_META)))
    arrays: dict[str, Array] = {}
    for name in sorted({n.split(".", 1)[0] for n in flat}):
        if name in flat:
            arrays[name] = flat[name]
        else:
            data, indices, indptr, shape = (flat[f"{name}.{part}"] for part in _SPARSE)
            arrays[name] = sp.csr_matrix((data, indices, indptr), shape=tuple(shape))
    return arrays, meta
