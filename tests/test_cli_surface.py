"""One surface across subcommands: flag names, defaults in --help, --version, --json, tables that
keep their names whole, progress and the warning of a target met at the start."""

import argparse
import json
import os
import subprocess
import sys

import pytest

import gradcode as gc
from gradcode.cli import main, parser
from gradcode.cli.parsing import DefaultsFormatter
from gradcode.codes.verify import verify
from gradcode.delays import parse_delay
from gradcode.spec import split_specs

pytestmark = pytest.mark.timeout(180)

SMALL = ["-n", "4", "-s", "1", "--dataset", "gaussian", "--dataset-params", '{"rows": 300, "d": 4}']


def subcommands() -> dict[str, argparse.ArgumentParser]:
    """Every (sub)command's parser by its name ("codes show" included)."""
    found = {}

    def walk(p: argparse.ArgumentParser, name: str) -> None:
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if name:
            found[name] = p
        for action in subs:
            for child, q in action.choices.items():
                walk(q, f"{name} {child}".strip())

    walk(parser(), "")
    return found


def test_every_help_shows_the_defaults():
    for name, p in subcommands().items():
        formatter = DefaultsFormatter(prog=p.prog)
        for a in p._actions:
            if a.help == argparse.SUPPRESS or a.default in (None, "", argparse.SUPPRESS):
                continue
            if a.default is False or a.nargs == 0 or not a.option_strings:
                continue
            assert "default" in formatter._get_help_string(a), (name, a.option_strings)
        assert p.format_help(), name


def test_help_texts(capsys):
    for args, shown, hidden in [
        (["train", "--help"], ["number of workers (default: 6)", "{local,mpi}", "--dataset"], []),
        (["advise", "--help"], ["-s S_VALUES", "(default: 0-8)"], ["--s ", "--scheme "]),
        (
            ["simulate", "--help"],
            ["--schemes", "(default: naive,frc,cyclic)", "(default: 0.0)"],
            ["--scheme "],
        ),
        (["compare", "--help"], ["--json", "(default: runs/compare)", "{local,mpi}"], []),
        (["codes", "show", "--help"], ["(default: 1000)", "--json"], []),
    ]:
        assert main(args) == 0
        text = " ".join(capsys.readouterr().out.split())
        for part in shown:
            assert part in text, (args, part)
        for part in hidden:  # old spellings are accepted, not shown
            assert part not in text, (args, part)


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"gradcode {gc.__version__}"


def test_old_flag_names_still_work(capsys):
    delay = ["--delay", "exponential:mean=0.01", "--rounds", "20", "--json"]
    runs = []
    for args in (
        ["advise", "-n", "4", "--schemes", "naive,cyclic", "-s", "0-1", *delay],
        ["advise", "-n", "4", "--scheme", "naive,cyclic", "--s", "0-1", *delay],
        ["simulate", "-n", "4", "--schemes", "naive,cyclic", *delay],
        ["simulate", "-n", "4", "--scheme", "naive,cyclic", *delay],
    ):
        assert main(args) == 0
        runs.append(json.loads(capsys.readouterr().out))
    assert runs[0] == runs[1] and runs[2] == runs[3]
    assert [r["scheme"] for r in runs[2]["simulations"]] == ["naive", "cyclic"]


def test_every_table_command_prints_json(tmp_path, capsys):
    delay = ["--delay", "exponential:mean=0.01", "--rounds", "20"]
    commands = [
        ["codes", "show", "cyclic", "-n", "5", "-s", "1"],
        ["simulate", "-n", "4", *delay],
        ["advise", "-n", "4", "-s", "0-1", *delay],
        ["study", "-n", "6", "--loads", "2", "--samples", "3", "--out", str(tmp_path / "st")],
        ["compare", *SMALL, "--schemes", "naive,cyclic", "--rounds", "3", "--quiet"]
        + ["--out", str(tmp_path / "cmp")],
        ["demo", "--rounds", "2", "--out", str(tmp_path / "demo")],
    ]
    for args in commands:
        assert main([*args, "--json"]) == 0, args
        report = json.loads(capsys.readouterr().out)  # stdout is the JSON alone
        assert report, args
    assert [r["scheme"] for r in report["compare"]["summary"]][:2] == ["naive", "ignore"]


def test_tables_keep_names_whole_when_piped():
    names = "naive,cyclic,cyclic-mds,partial-cyclic:P=3"
    env = {**os.environ, "COLUMNS": "80"}
    p = subprocess.run(
        [sys.executable, "-m", "gradcode", "simulate", "-n", "4", "--schemes", names]
        + ["--delay", "exponential:mean=0.01", "--rounds", "20"],
        capture_output=True,
        text=True,
        timeout=100,
        env=env,
    )
    assert p.returncode == 0, p.stderr
    assert "…" not in p.stdout
    for name in names.split(","):
        assert f" {name} " in p.stdout, name


def test_target_met_at_the_start_is_said(tmp_path, capsys):
    args = ["compare", *SMALL, "--schemes", "naive,cyclic", "--rounds", "3", "--quiet"]
    assert main([*args, "--target-auc", "0.01", "--out", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert out.count("0 (at start)") == 2
    assert "warning: the starting model already has test AUC >= 0.01" in " ".join(err.split())


def test_verification_reports_progress():
    seen = []
    v = verify(gc.make_code("cyclic", 6, 2), on_set=lambda done, total: seen.append((done, total)))
    assert seen == [(i, 15) for i in range(1, 16)] and v.ok


def test_shell_safe_spec_form():
    assert parse_delay("fixed:workers=0,1,delay=0.2") == parse_delay("fixed:workers=0,1;delay=0.2")
    assert split_specs("naive,fixed:workers=0,1,delay=0.2,cyclic") == [
        "naive",
        "fixed:workers=0,1,delay=0.2",
        "cyclic",
    ]


def test_train_takes_a_dataset_like_compare(tmp_path, capsys):
    args = ["train", "--scheme", "frc", *SMALL, "--rounds", "2", "--quiet", "--out", str(tmp_path)]
    assert main(args) == 0
    assert json.loads((tmp_path / "result.json").read_text())["status"] == "ok"
    assert main(["train", "--dataset-params", '{"rows": 10}', "--out", str(tmp_path)]) == 2
    assert "--dataset-params needs --dataset NAME" in capsys.readouterr().err
