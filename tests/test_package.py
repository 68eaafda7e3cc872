"""The installable package: lazy imports, py.typed and examples in the wheel, the public API's types."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("matplotlib", "scipy.optimize", "scipy.stats", "torch", "rich")


def _loaded_after(statement: str) -> list[str]:
    """The HEAVY modules that a fresh interpreter has loaded after running `statement`."""
    code = f"import sys\n{statement}\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return run.stdout.split()


@pytest.mark.parametrize(
    "statement",
    [
        "import gradcode",
        "from gradcode import GradientCode, RunConfig, make_code, simulate, train, load_result",
    ],
)
def test_import_loads_no_heavy_module(statement):
    assert _loaded_after(statement) == []


def test_lazy_names_resolve():
    import gradcode
    import gradcode.simulate  # the subpackage: binds nothing over the function

    assert gradcode.simulate is sys.modules["gradcode.simulate"].simulate
    assert set(gradcode.__all__) == set(gradcode._LAZY) and set(gradcode.__all__) <= set(
        dir(gradcode)
    )
    assert repr(gradcode.make_code("cyclic", 4, 1)) == "<GradientCode cyclic n=4 s=1>"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        gradcode.nope  # noqa: B018
