"""Every named family answers through one Registry, in one wording."""

from __future__ import annotations

import re
import sys

import pytest

import gradcode as gc
from gradcode.data import load_dataset
from gradcode.delays import FixedStragglers, make_delay, parse_delay
from gradcode.models import make_model
from gradcode.optim import make_optimizer, make_schedule
from gradcode.registry import Registry
from gradcode.runtime.engines import ENGINES, make_engine

SCHEMES = (
    "adaptive, approx-frc, async, backup, bibd, binary, budget, comm-cyclic, cyclic, cyclic-mds, "
    "expander, frc, hetero, ignore, naive, partial-cyclic, partial-frc, sgc, stream"
)
DELAYS = "bimodal, empirical, exponential, fixed, markov, none, pareto, random, slowdown, trace"
DATASETS = "amazon, amazon-synthetic, breast-cancer, csv, digits, gaussian, svmlight"
UNKNOWN_NAMES = [
    (lambda: gc.make_code("foo", 4, 1), f"unknown scheme 'foo'; valid schemes: {SCHEMES}"),
    (
        lambda: make_model("foo"),
        "unknown model 'foo'; valid models: least-squares, logistic, torch-cnn, torch-mlp",
    ),
    (lambda: parse_delay("foo:delay=1"), f"unknown delay 'foo'; valid delays: {DELAYS}"),
    (
        lambda: make_optimizer("foo", lr=1.0),
        "unknown optimizer 'foo'; valid optimizers: adam, gd, momentum, nesterov, torch-adam, "
        "torch-sgd",
    ),
    (
        lambda: make_schedule("foo"),
        "unknown schedule 'foo'; valid schedules: constant, cosine, inverse-time, step",
    ),
    (lambda: load_dataset("foo"), f"unknown data set 'foo'; valid data sets: {DATASETS}"),
    (lambda: make_engine("foo", 2), "unknown engine 'foo'; valid engines: local, mpi"),
]
UNKNOWN_PARAMETERS = [
    (
        lambda: gc.make_code("partial-cyclic:Q=2", 4, 1),
        "unknown parameter(s) Q for scheme 'partial-cyclic'; valid parameters: P",
    ),
    (
        lambda: make_model("logistic", x=1.0, lam=1.0),
        "unknown parameter(s) lam, x for model 'logistic'; valid parameters: l2",
    ),
    (
        lambda: parse_delay("fixed:x=1"),
        "unknown parameter(s) x for delay 'fixed'; valid parameters: delay, factor, start, workers",
    ),
    (
        lambda: make_optimizer("momentum", lr=1.0, x=2.0),
        "unknown parameter(s) x for optimizer 'momentum'; valid parameters: beta, lr",
    ),
    (
        lambda: make_schedule("step", lr0=1.0, x=1),
        "unknown parameter(s) x for schedule 'step'; valid parameters: drop, every, lr0",
    ),
    (
        lambda: load_dataset("digits", x=1),
        "unknown parameter(s) x for data set 'digits'; valid parameters: positive, standardize",
    ),
    (
        lambda: make_engine("local:x=1", 2),
        "unknown parameter(s) x for engine 'local'; valid parameters: (none)",
    ),
]


@pytest.mark.parametrize(("call", "message"), UNKNOWN_NAMES + UNKNOWN_PARAMETERS)
def test_unknown_names_and_parameters_list_the_valid_ones(call, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        call()


def test_specs_and_keywords_build_alike():
    assert make_model("logistic:l2=0.5") == make_model("logistic", l2=0.5)
    assert make_optimizer("nesterov:momentum=0.5", lr=0.1) == make_optimizer(
        "nesterov", lr=0.1, momentum=0.5
    )
    assert make_delay("fixed:workers=1", delay=0.5) == FixedStragglers(workers=(1,), delay=0.5)
    with pytest.raises(ValueError, match="parameter.s. l2 given both in 'logistic:l2=1' and as"):
        make_model("logistic:l2=1", l2=2.0)
    with pytest.raises(ValueError, match=r"schedule 'cosine' needs parameter\(s\) total; valid"):
        make_schedule("cosine", lr0=1.0)


def test_registry_behaves_as_the_names_it_holds():
    entries = {"b": lambda *, x=1: x, "a": lambda: 0}
    reg = Registry("thing", entries, lazy={"z": "no_such_module:thing"})
    assert list(reg) == reg.names() == ["b", "a", "z"]
    assert "z" in reg and "y" not in reg and ", ".join(reg) == "b, a, z"
    entries["c"] = lambda: 3  # the dicts stay the registries: a new entry is seen at once
    assert reg.build("c") == 3 and reg.build("b:x=4") == 4 and reg.params("b") == {"x": 1}
    assert list(ENGINES) == ["local", "mpi"]


def _hint(call) -> str:
    with pytest.raises(ImportError) as info:
        call()
    text = str(info.value)
    assert "\n" not in text
    return text


def test_a_missing_dependency_is_one_line_that_says_how_to_install(monkeypatch):
    reg = Registry("thing", {}, lazy={"z": "no_such_module.sub:thing"}, extra="extra")
    assert _hint(lambda: reg.factory("z")) == (
        "thing 'z' needs no_such_module, which is not installed: pip install \"gradcode[extra]\""
    )
    for module in ("torch", "mpi4py"):
        monkeypatch.setitem(sys.modules, module, None)  # not installed
    mpi = [m for m in sys.modules if m.startswith("gradcode.runtime.engines.mpi")]  # + submodules
    for module in ("gradcode.models.torch", "gradcode.optim_torch", *mpi):
        monkeypatch.delitem(sys.modules, module, raising=False)
    assert _hint(lambda: make_model("torch-mlp")) == (
        "model 'torch-mlp' needs torch, which is not installed: pip install \"gradcode[torch]\""
    )
    assert _hint(lambda: make_optimizer("torch-adam", lr=0.1)) == (
        "optimizer 'torch-adam' needs torch, which is not installed: "
        'pip install "gradcode[torch]"'
    )
    assert _hint(lambda: make_engine("mpi", 2)) == (
        "engine 'mpi' needs mpi4py, which is not installed: pip install \"gradcode[mpi]\""
    )


def test_a_broken_import_of_ours_is_not_called_a_missing_dependency():
    reg = Registry("thing", {}, lazy={"z": "gradcode.no_such_module:thing"}, extra="extra")
    with pytest.raises(ModuleNotFoundError, match="gradcode.no_such_module"):
        reg.factory("z")
