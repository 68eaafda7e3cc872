"""Experiments: run many schemes under identical conditions, tabulate, plot, report."""

from .compare import compare
from .config import CompareConfig, load_config
from .report import write_report
from .stragglers import Attribution, attribute
from .tables import Comparison, load_comparison, load_folder

__all__ = [
    "Attribution",
    "CompareConfig",
    "Comparison",
    "attribute",
    "compare",
    "load_comparison",
    "load_config",
    "load_folder",
    "write_report",
]
