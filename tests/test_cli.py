"""The thin CLI: exit codes, messages and files."""

import json
import subprocess
import sys

import pytest

import gradcode as gc
from gradcode.cli import main

pytestmark = pytest.mark.timeout(120)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gradcode", *args], capture_output=True, text=True, timeout=100
    )


def test_codes_show_json_verifies_every_set():
    p = run("codes", "show", "cyclic", "-n", "6", "-s", "2", "--json")
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["supports"][5] == [0, 1, 5]
    assert report["load"] == {"max": 3, "mean": 3.0, "lower_bound": 3}
    v = report["verification"]
    assert v["sets"] == 15 and v["exhaustive"] and v["failures"] == 0
    assert v["worst_residual"] < 1e-12


def test_codes_show_text_and_float32_warning():
    p = run("codes", "show", "cyclic", "-n", "48", "-s", "4", "--samples", "300")
    assert p.returncode == 0, p.stderr
    assert "verification over 300 straggler sets of size s (sampled)" in p.stdout
    assert "warning: float32 messages are unsafe" in p.stdout


def test_codes_show_exits_non_zero_when_verification_fails(monkeypatch, capsys):
    strict = gc.make_code("cyclic", 6, 1, tol=1e-300)  # no float64 decode meets this
    monkeypatch.setattr("gradcode.cli.codes.make_code", lambda *a, **k: strict)
    assert main(["codes", "show", "cyclic", "-n", "6", "-s", "1"]) == 1
    assert "FAILED" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["codes", "show", "frc", "-n", "10", "-s", "2"], "frc needs s+1 to divide n"),
        (
            ["codes", "show", "bogus", "-n", "4"],
            "valid schemes: adaptive, approx-frc, ",
        ),
        (["train", "--scheme", "cyclic", "-n", "3", "-s", "3"], "s must satisfy 0 <= s < n"),
        (["train", "--delay", "slow:x=1"], "unknown delay 'slow'"),
        (["train", "--fault", "3"], "fault must look like WORKER@ROUND"),
    ],
)
def test_bad_input_is_one_clear_line(args, message):
    p = run(*args)
    assert p.returncode == 2
    assert message in p.stderr and "Traceback" not in p.stderr


def test_train_writes_results(tmp_path):
    p = run(
        "train",
        "--scheme",
        "frc",
        "-n",
        "4",
        "-s",
        "1",
        "--rows",
        "400",
        "--features",
        "5",
        "--rounds",
        "3",
        "--out",
        str(tmp_path),
        "--quiet",
    )
    assert p.returncode == 0, p.stderr
    assert "3 rounds: median" in p.stderr
    assert json.loads((tmp_path / "result.json").read_text())["status"] == "ok"


def test_train_with_too_many_dead_exits_non_zero_and_keeps_results(tmp_path):
    p = run(
        "train",
        "--scheme",
        "cyclic",
        "-n",
        "4",
        "-s",
        "1",
        "--rows",
        "400",
        "--features",
        "5",
        "--rounds",
        "6",
        "--fault",
        "1@2",
        "--fault",
        "2@2",
        "--out",
        str(tmp_path),
        "--quiet",
    )
    assert p.returncode == 1
    assert "training failed: round 2: cannot decode: workers [1, 2] are dead" in p.stderr
    assert json.loads((tmp_path / "result.json").read_text())["rounds_completed"] == 2


def test_advise_lists_every_scheme_family(capsys):
    import re

    args = ["advise", "-n", "6", "--delay", "exponential:mean=0.01", "--s", "0-3"]
    assert main([*args, "--rounds", "20"]) == 0
    out = capsys.readouterr().out
    for name in gc.SCHEMES:  # a row of the table, or "not available for n=6: NAME: why"
        assert re.search(rf"(^|[\s│]){re.escape(name)}([\s│:]|$)", out, re.M), name
    assert "not available for n=6: bibd" in out
    assert main([*args, "--rounds", "20", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    listed = {p["scheme"] for p in report["points"]} | {x.split(":")[0] for x in report["skipped"]}
    assert listed == set(gc.SCHEMES)
