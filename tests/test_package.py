"""The installable package: lazy imports, py.typed and examples in the wheel, the public API's types."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from gradcode import examples
from gradcode.cli import main
from gradcode.experiments import load_config

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


# ---- examples -----------------------------------------------------------------------------------


def test_examples_lists_prints_and_copies(tmp_path, capsys):
    assert main(["examples"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == examples.names()
    assert "paper_n10_s1" in examples.names() and len(examples.names()) >= 8
    assert main(["examples", "paper_n10_s1"]) == 0
    assert capsys.readouterr().out == (EXAMPLES / "paper_n10_s1.toml").read_text()
    assert main(["examples", "--json"]) == 0
    assert {e["name"] for e in json.loads(capsys.readouterr().out)} == set(examples.names())
    assert main(["examples", "--copy", str(tmp_path / "all")]) == 0
    assert sorted(p.stem for p in (tmp_path / "all").iterdir()) == examples.names()
    assert main(["examples", "torch_digits", "--copy", str(tmp_path / "one")]) == 0
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["torch_digits.toml"]


def test_examples_errors_are_one_line(tmp_path, capsys):
    assert main(["examples", "nope"]) == 2
    assert "unknown example 'nope'; valid examples: approx_n24" in capsys.readouterr().err
    (tmp_path / "paper_n10_s1.toml").write_text("mine")
    assert main(["examples", "--copy", str(tmp_path)]) == 2
    assert "not overwriting" in capsys.readouterr().err
    assert (tmp_path / "paper_n10_s1.toml").read_text() == "mine"


def test_every_example_loads_by_name_and_by_clone_path(tmp_path, monkeypatch):
    for name in examples.names():
        assert load_config(name) == load_config(EXAMPLES / f"{name}.toml")
    monkeypatch.chdir(tmp_path)  # no examples/ folder here: the clone's path finds the shipped one
    assert load_config("examples/paper_n10_s1.toml").n == 10
    assert load_config("paper_n12_s2.toml").n == 12
    (tmp_path / "paper_n10_s1.toml").write_text("n = 7\n")  # a file of that name wins
    assert load_config("paper_n10_s1.toml").n == 7
    with pytest.raises(ValueError, match="config file nope does not exist"):
        load_config("nope")


def test_compare_takes_an_example_by_name(tmp_path, monkeypatch):
    from gradcode.cli import parser
    from gradcode.cli.compare import config_from

    monkeypatch.chdir(tmp_path)  # no file of that name here: the shipped example is found
    args = parser().parse_args(["compare", "--config", "paper_persistent", "--rounds", "3"])
    config = config_from(args)
    assert (config.n, config.s, config.lr, config.rounds) == (10, 1, 10.0, 3)
    assert config.delay.startswith("fixed:workers=9")
