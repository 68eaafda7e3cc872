"""The installable package: lazy imports, py.typed and examples in the wheel, the public API's types."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "gradcode" / "examples"
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


def test_wheel_holds_py_typed_license_and_examples(tmp_path):
    root = Path(__file__).resolve().parents[1]
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(root), "--no-deps", "-q", "-w", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("gradcode-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        metadata = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "gradcode/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "License-Expression: MIT" in metadata and "Classifier: Typing :: Typed" in metadata
    shipped = {Path(n).name for n in names if n.startswith("gradcode/examples/")}
    assert {p.name for p in EXAMPLES.glob("*.toml")} <= shipped
