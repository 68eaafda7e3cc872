"""gradcode: straggler-tolerant distributed gradient descent by gradient coding."""

from .codes import SCHEMES, DecodingError, GradientCode, make_code

__all__ = ["SCHEMES", "DecodingError", "GradientCode", "make_code"]
__version__ = "0.1.0"
