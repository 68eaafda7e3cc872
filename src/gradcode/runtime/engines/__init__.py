"""Engines: `local` (embedded, default) and `mpi` (clusters, `pip install "gradcode[mpi]"`)."""

from __future__ import annotations

from .base import Engine

ENGINES = ("local", "mpi")


def make_engine(name: str, n: int) -> Engine:
    """The engine `name` for n workers; `mpi` is imported only when asked for."""
    if name == "local":
        from .local import LocalEngine

        return LocalEngine(n)
    if name == "mpi":
        from .mpi import MPIEngine

        return MPIEngine(n)
    raise ValueError(f"unknown engine {name!r}; valid engines: {', '.join(ENGINES)}")


__all__ = ["ENGINES", "Engine", "make_engine"]
