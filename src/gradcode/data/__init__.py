"""Data sets and partitioning."""

from gradcode.data.partition import split_rows, worker_rows
from gradcode.data.synthetic import as_generator, gaussian_mixture

__all__ = ["as_generator", "gaussian_mixture", "split_rows", "worker_rows"]
