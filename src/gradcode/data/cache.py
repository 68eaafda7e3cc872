"""An on-disk cache of prepared arrays: one npz file per key, written atomically.

Dense arrays are stored as they are; scipy.sparse matrices as their CSR components; metadata as
one JSON string. Loading never unpickles (``allow_pickle=False``).

The folder is capped at $GRADCODE_CACHE_MAX_MB megabytes (default 2048): writing an entry evicts
the least recently used others (a load marks an entry used) until the folder fits.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import scipy.sparse as sp

# Bump when the preparation of any data set changes, so that old entries are never returned.
CACHE_VERSION = 1
_META = "__meta__"
_SPARSE = ("data", "indices", "indptr", "shape")

DEFAULT_MAX_MB = 2048.0
_MB = 2**20

Array: TypeAlias = np.ndarray | sp.csr_matrix


@dataclass(frozen=True)
class CacheInfo:
    """What a cache folder holds: its entries (least recently used first) and their bytes."""

    folder: Path
    entries: tuple[Path, ...]
    bytes: int
    max_bytes: int


def default_cache_dir() -> Path:
    """$GRADCODE_CACHE if set, else $XDG_CACHE_HOME/gradcode, else ~/.cache/gradcode."""
    if env := os.environ.get("GRADCODE_CACHE"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "gradcode"


def max_bytes() -> int:
    """The cap in bytes: $GRADCODE_CACHE_MAX_MB megabytes, default 2048."""
    text = os.environ.get("GRADCODE_CACHE_MAX_MB", "").strip()
    try:
        mb = float(text) if text else DEFAULT_MAX_MB
    except ValueError:
        mb = -1.0
    if not 0 <= mb < float("inf"):
        raise ValueError(f"GRADCODE_CACHE_MAX_MB must be a number of megabytes >= 0, got {text!r}")
    return int(mb * _MB)


def entries(folder: str | Path) -> list[Path]:
    """The cache's entries in `folder`, least recently used first (by modification time)."""
    found = [(p.stat().st_mtime_ns, p) for p in Path(folder).glob("*.npz") if p.is_file()]
    return [p for _, p in sorted(found)]


def info(folder: str | Path | None = None) -> CacheInfo:
    """The entries and size of `folder` (default :func:`default_cache_dir`) and the cap."""
    folder = Path(folder or default_cache_dir())
    found = entries(folder)
    return CacheInfo(folder, tuple(found), sum(p.stat().st_size for p in found), max_bytes())


def clear(folder: str | Path | None = None) -> CacheInfo:
    """Delete every entry (and leftover temporary file) in `folder`; returns what was there."""
    before = info(folder)
    for p in [*before.entries, *before.folder.glob(".*.npz.*.tmp")]:
        p.unlink(missing_ok=True)
    return before


def evict(folder: str | Path, limit: int, keep: Path | None = None) -> list[Path]:
    """Delete the least recently used entries until `folder` holds at most `limit` bytes; `keep`
    (the entry just written) stays even when it alone is over. Returns the deleted paths."""
    found = entries(folder)
    total = sum(p.stat().st_size for p in found)
    deleted = []
    for p in found:
        if total <= limit:
            break
        if keep is not None and p.resolve() == keep.resolve():
            continue
        total -= p.stat().st_size
        p.unlink(missing_ok=True)
        deleted.append(p)
    return deleted


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
    """Write named dense/sparse arrays and JSON metadata to ``path`` (an .npz), atomically, then
    evict least recently used entries of its folder over the cap (:func:`max_bytes`)."""
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
    evict(path.parent, max_bytes(), keep=path)


def load(path: str | Path) -> tuple[dict[str, Array], dict[str, Any]]:
    """Read what :func:`save` wrote: (arrays by name, metadata); marks the entry recently used."""
    with np.load(path, allow_pickle=False) as z:
        flat = {name: z[name] for name in z.files}
    meta = json.loads(str(flat.pop(_META)))
    with contextlib.suppress(OSError):  # its modification time is its last use (a read-only
        os.utime(path)  # cache still loads)
    arrays: dict[str, Array] = {}
    for name in sorted({n.split(".", 1)[0] for n in flat}):
        if name in flat:
            arrays[name] = flat[name]
        else:
            data, indices, indptr, shape = (flat[f"{name}.{part}"] for part in _SPARSE)
            arrays[name] = sp.csr_matrix((data, indices, indptr), shape=tuple(shape))
    return arrays, meta
