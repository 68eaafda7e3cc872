"""gradcode: straggler-tolerant distributed gradient descent by gradient coding."""

from .codes import SCHEMES, DecodingError, GradientCode, make_code
from .runtime import Fault, Interrupted, Result, RunConfig, TrainingError, load_result, train
from .simulate import simulate

__all__ = [
    "SCHEMES",
    "DecodingError",
    "Fault",
    "GradientCode",
    "Interrupted",
    "Result",
    "RunConfig",
    "TrainingError",
    "load_result",
    "make_code",
    "simulate",
    "train",
]
__version__ = "0.1.0"
