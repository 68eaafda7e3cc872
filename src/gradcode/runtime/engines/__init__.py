"""Engines: `local` (embedded, default) and `mpi` (clusters, `pip install "gradcode[mpi]"`)."""

from __future__ import annotations

from ...registry import Registry
from .base import Engine

_LAZY = {"local": f"{__name__}.local:LocalEngine", "mpi": f"{__name__}.mpi:MPIEngine"}
ENGINES = Registry("engine", {}, lazy=_LAZY, extra="mpi", injected=("n",))  # imported when asked


def make_engine(name: str, n: int) -> Engine:
    """The engine `name` for n workers."""
    return ENGINES.build(name, n)


__all__ = ["ENGINES", "Engine", "make_engine"]
