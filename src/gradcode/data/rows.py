"""Training rows that stay in their file until a worker reads its own: `NpzRows`.

An uncompressed .npz (`np.savez`, `save_rows`, or a data set cache entry) is a zip whose members
are .npy files stored as they are, so any range of a member can be read where it lies in the
zip (plain reads, not a memory map: a mapped file's readahead would bring megabytes around each
row into the reader's resident memory).
`NpzRows(path)` reads only the headers: X's shape and dtype (dense `X`, or CSR as `X.data`,
`X.indices`, `X.indptr`, `X.shape`, the layout of `gradcode.data.cache`), and the labels `y` on
request. `rows(idx)` reads those rows alone, so a worker holding two of sixteen partitions reads
an eighth of the file, and the master (which needs only m, d and y) none of X.

Pickled, an `NpzRows` is its path and member names: this is how a job travels to an MPI rank,
which then reads its rows from the same path on its own host (shared storage, or a copy at the
same path).
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..arrays import Matrix

_LOCAL_HEADER = struct.Struct("<4s5H3I2H")  # a zip member's local file header (30 bytes)
_SPARSE = ("data", "indices", "indptr", "shape")


class NpzRows:
    """The training set of an uncompressed .npz, read by rows (see the module docstring).

    `X` and `y` name the members (default "X" and "y"; a data set cache entry's "X_train" and
    "y_train" are found when those are absent). Raises ValueError naming the file and what is
    wrong: missing members, a compressed archive, shapes that disagree."""

    def __init__(self, path: str | Path, X: str = "X", y: str = "y") -> None:
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise ValueError(f"data file {str(self.path)!r} does not exist")
        try:
            with zipfile.ZipFile(self.path) as z:
                infos = {i.filename.removesuffix(".npy"): i for i in z.infolist()}
        except (OSError, zipfile.BadZipFile) as e:
            raise ValueError(f"{self.path} is not a readable .npz ({e})") from None
        absent = X not in infos and f"{X}.data" not in infos
        if absent and ("X_train" in infos or "X_train.data" in infos):
            X, y = "X_train", "y_train"  # a data set cache entry
        self.X_name, self.y_name = X, y
        self._members = infos
        self.sparse = f"{X}.data" in infos
        if not self.sparse and X not in infos:
            raise ValueError(
                f"{self.path} holds no {X!r} (dense) or {X}.data/.indices/.indptr/.shape (CSR); "
                f"it holds {sorted(infos)}"
            )
        if y not in infos:
            raise ValueError(f"{self.path} holds no labels {y!r}; it holds {sorted(infos)}")
        self._arrays: dict[str, tuple[int, np.dtype, tuple[int, ...]]] = {}
        self._indptr: np.ndarray | None = None
        if self.sparse:
            shape = tuple(int(v) for v in self._read(f"{X}.shape"))
            if len(shape) != 2 or self._layout(f"{X}.indptr")[2] != (shape[0] + 1,):
                raise ValueError(f"{self.path}: {X}.indptr does not match {X}.shape {shape}")
            self.shape = (shape[0], shape[1])
        else:
            x_shape = self._layout(X)[2]
            if len(x_shape) != 2:
                raise ValueError(f"{self.path}: {X} must be 2-d (rows x features), got {x_shape}")
            self.shape = (int(x_shape[0]), int(x_shape[1]))
        if self._layout(y)[2] != (self.shape[0],):
            raise ValueError(
                f"{self.path}: {y} has shape {self._layout(y)[2]}, X has {self.shape[0]} rows"
            )

    def __reduce__(self) -> tuple[Any, ...]:  # the path and names, never the mapped arrays
        return (NpzRows, (str(self.path), self.X_name, self.y_name))

    def __repr__(self) -> str:
        kind = "CSR" if self.sparse else "dense"
        return f"NpzRows({str(self.path)!r}, {self.shape[0]}x{self.shape[1]} {kind})"

    @property
    def nbytes(self) -> int:
        """Bytes of X in the file."""
        names = [f"{self.X_name}.{p}" for p in _SPARSE] if self.sparse else [self.X_name]
        return sum(self._size(name) * self._layout(name)[1].itemsize for name in names)

    def labels(self) -> np.ndarray:
        """y, read into memory (m values)."""
        return self._read(self.y_name)

    def rows(self, idx: np.ndarray) -> Matrix:
        """The rows idx of X, in that order, as an ndarray (dense) or CSR: only they are read."""
        idx = np.asarray(idx, dtype=np.int64)
        m = self.shape[0]
        if idx.size and (idx.min() < 0 or idx.max() >= m):
            raise ValueError(f"row ids must satisfy 0 <= row < {m}")
        cuts = np.flatnonzero(np.diff(idx) != 1) + 1  # runs of consecutive rows: one read each
        runs = np.split(idx, cuts) if idx.size else []
        d = self.shape[1]
        if not self.sparse:
            out = np.empty((idx.size, d), self._layout(self.X_name)[1])
            at = 0
            for run in runs:
                out[at : at + run.size] = self._read(
                    self.X_name, int(run[0]) * d, run.size * d
                ).reshape(run.size, d)
                at += run.size
            return out
        name = self.X_name
        if self._indptr is None:
            self._indptr = self._read(f"{name}.indptr").astype(np.int64)
        indptr = self._indptr
        out_ptr, out_ind, out_val, base = [np.zeros(1, np.int64)], [], [], 0
        for run in runs:
            lo, hi = int(indptr[run[0]]), int(indptr[run[-1] + 1])
            out_ptr.append(indptr[run[0] + 1 : run[-1] + 2] - lo + base)
            out_ind.append(self._read(f"{name}.indices", lo, hi - lo))
            out_val.append(self._read(f"{name}.data", lo, hi - lo))
            base += hi - lo
        if not out_ind:
            return sp.csr_matrix((0, d))
        return sp.csr_matrix(
            (np.concatenate(out_val), np.concatenate(out_ind), np.concatenate(out_ptr)),
            shape=(idx.size, d),
        )

    def __getitem__(self, idx: np.ndarray) -> Matrix:
        return self.rows(idx)

    def _layout(self, member: str) -> tuple[int, np.dtype, tuple[int, ...]]:
        """Where member's values start in the file, their dtype and shape (from its header)."""
        if member in self._arrays:
            return self._arrays[member]
        info = self._members[member]
        if info.compress_type != zipfile.ZIP_STORED:
            raise ValueError(
                f"{self.path} is compressed ({member}): rows cannot be read in place; write it "
                "with np.savez or gradcode.save_rows (not np.savez_compressed)"
            )
        fmt = np.lib.format
        try:
            with open(self.path, "rb") as f:
                f.seek(info.header_offset)
                head = _LOCAL_HEADER.unpack(f.read(_LOCAL_HEADER.size))
                f.seek(info.header_offset + _LOCAL_HEADER.size + head[-2] + head[-1])
                version = fmt.read_magic(f)
                read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
                shape, fortran, dtype = read(f)
                offset = f.tell()
        except (OSError, ValueError, struct.error) as e:
            raise ValueError(f"{self.path}: member {member} is unreadable ({e})") from None
        if dtype.hasobject:
            raise ValueError(f"{self.path}: {member} holds Python objects, not numbers")
        if fortran and len(shape) > 1:
            raise ValueError(
                f"{self.path}: {member} is stored column-major; save np.ascontiguousarray of it "
                "(gradcode.save_rows does)"
            )
        self._arrays[member] = (offset, dtype, tuple(shape))
        return self._arrays[member]

    def _size(self, member: str) -> int:
        return int(np.prod(self._layout(member)[2]))

    def _read(self, member: str, start: int = 0, count: int | None = None) -> np.ndarray:
        """Values [start, start + count) of member (flat, C order): read, not mapped."""
        offset, dtype, _ = self._layout(member)
        count = self._size(member) - start if count is None else count
        out = np.empty(count, dtype)
        with open(self.path, "rb") as f:
            f.seek(offset + start * dtype.itemsize)
            got = f.readinto(memoryview(out).cast("B"))
        if got != out.nbytes:
            raise ValueError(
                f"{self.path}: {member} ends early (truncated file): wanted {out.nbytes} bytes "
                f"at value {start}, got {got}"
            )
        return out


def save_rows(path: str | Path, X: Matrix, y: np.ndarray) -> Path:
    """Write (X, y) as an uncompressed .npz that `NpzRows` reads by rows (CSR kept sparse)."""
    path = Path(path)
    if sp.issparse(X):
        csr = sp.csr_matrix(X)
        arrays = {f"X.{p}": np.asarray(getattr(csr, p)) for p in _SPARSE}
    else:
        arrays = {"X": np.ascontiguousarray(X)}
    with open(path, "wb") as f:
        np.savez(f, y=np.asarray(y), **arrays)
    return path
