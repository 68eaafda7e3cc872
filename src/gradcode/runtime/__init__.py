"""Runtime: the master loop, the worker loop, engines, faults and results."""

from .faults import Fault, parse_fault
from .master import TrainingError, train
from .result import Result, RoundRecord

__all__ = ["Fault", "Result", "RoundRecord", "TrainingError", "parse_fault", "train"]
