"""Runtime: the run's options, the master loop, the worker loop, engines, faults, and the run's
folder."""

from .config import RunConfig
from .faults import Fault, parse_fault
from .journal import JournalError, load_result
from .loop import TrainingError
from .master import train
from .result import Result, RoundRecord
from .signals import Interrupted

__all__ = [
    "Fault",
    "Interrupted",
    "JournalError",
    "Result",
    "RoundRecord",
    "RunConfig",
    "TrainingError",
    "load_result",
    "parse_fault",
    "train",
]
