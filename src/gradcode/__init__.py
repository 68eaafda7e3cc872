"""gradcode: straggler-tolerant distributed gradient descent by gradient coding.

The public names load their subpackage on first use (PEP 562), so that ``import gradcode`` costs
next to nothing and a tool that needs only the codes never imports the runtime's dependencies.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .codes import SCHEMES, DecodingError, GradientCode, make_code
    from .data.rows import NpzRows, save_rows
    from .runtime import Fault, Interrupted, Result, RunConfig, TrainingError, load_result, train
    from .simulate import simulate

__version__ = "0.1.0"

# public name -> the subpackage that defines it
_LAZY = {
    "SCHEMES": "codes",
    "DecodingError": "codes",
    "GradientCode": "codes",
    "make_code": "codes",
    "NpzRows": "data.rows",
    "save_rows": "data.rows",
    "Fault": "runtime",
    "Interrupted": "runtime",
    "Result": "runtime",
    "RunConfig": "runtime",
    "TrainingError": "runtime",
    "load_result": "runtime",
    "train": "runtime",
    "simulate": "simulate",
}

__all__ = [
    "SCHEMES",
    "DecodingError",
    "Fault",
    "GradientCode",
    "Interrupted",
    "NpzRows",
    "Result",
    "RunConfig",
    "TrainingError",
    "load_result",
    "make_code",
    "save_rows",
    "simulate",
    "train",
]


def __getattr__(name: str) -> Any:
    """Import the subpackage behind a public name on first access and cache the name here."""
    if name not in _LAZY:
        raise AttributeError(f"module 'gradcode' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


class _Package(types.ModuleType):
    """The package's module type: `gradcode.simulate` stays the function.

    Importing the subpackage ``gradcode.simulate`` makes Python bind it as an attribute of its
    parent, which would hide the function of the same name; that one binding is skipped.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
