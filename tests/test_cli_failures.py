"""Every expected failure of the CLI is one line `gradcode: error: WHAT (WHAT TO DO)`, exit 2 for
bad input and 1 for a run that could not be carried out; tracebacks only on request."""

import importlib
import subprocess
import sys

import pytest

from gradcode.cli import main

pytestmark = pytest.mark.timeout(120)

QUICK = ["--rounds", "1", "--rows", "60", "--features", "3", "--quiet"]


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def without(monkeypatch):
    """Pretend the named top-level packages (and gradcode's torch module) are not installed."""
    real = importlib.import_module

    def block(*packages: str) -> None:
        def fake(name: str, package: str | None = None):
            top = "torch" if name == "gradcode.models.torch" else name.partition(".")[0]
            if top in packages:
                raise ModuleNotFoundError(f"No module named {top!r}", name=top)
            return real(name, package)

        monkeypatch.setattr(importlib, "import_module", fake)

    return block


def test_missing_torch(without, tmp_path, capsys):
    without("torch")
    assert main(["train", "--model", "torch-mlp", *QUICK, "--out", str(tmp_path)]) == 1
    assert one_line(capsys) == (
        "gradcode: error: model 'torch-mlp' needs torch, which is not installed "
        '(pip install "gradcode[torch]")'
    )


def test_missing_scikit_learn(without, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GRADCODE_CACHE", str(tmp_path / "cache"))  # no cached copy of digits
    without("sklearn")
    args = ["compare", "--dataset", "digits", "--schemes", "naive", "-n", "2", "--rounds", "1"]
    assert main([*args, "--out", str(tmp_path / "out"), "--quiet"]) == 1
    assert one_line(capsys) == (
        "gradcode: error: the bundled data sets needs scikit-learn, which is not installed "
        '(pip install "gradcode[datasets]")'
    )


def test_missing_mpiexec(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))  # no mpiexec beside it
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("GRADCODE_MPIEXEC", raising=False)
    assert main(["train", "--engine", "mpi", "-n", "2", "-s", "0", "--out", str(tmp_path)]) == 1
    assert one_line(capsys) == (
        "gradcode: error: engine 'mpi' needs mpiexec, which is not on PATH "
        '(pip install "gradcode[mpi]", whose mpich wheel brings one; or put your MPI\'s mpiexec '
        "on PATH, or set GRADCODE_MPIEXEC)"
    )


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (
            ["train", "--data", "{tmp}/missing.npz"],
            2,
            "--data {tmp}/missing.npz does not exist (give an .npz holding X and y)",
        ),
        (
            ["compare", "--config", "{tmp}/missing.toml"],
            2,
            "config file {tmp}/missing.toml does not exist (check the path)",
        ),
        (
            ["simulate", "-n", "3", "--trace", "{tmp}/missing.csv"],
            2,
            "trace file {tmp}/missing.csv does not exist (see `gradcode simulate --help`)",
        ),
        (
            ["train", "--out", "/proc/gradcode-out"],
            1,
            "cannot write the output folder /proc/gradcode-out: No such file or directory "
            "(give --out a folder you can write, on a disk with free space)",
        ),
        (
            ["compare", "--out", "/proc/gradcode-out"],
            1,
            "cannot write the output folder /proc/gradcode-out: No such file or directory "
            "(give --out a folder you can write, on a disk with free space)",
        ),
        (
            ["train", "--out", "{tmp}/file"],
            1,
            "output folder {tmp}/file is a file: give a folder (new or existing)",
        ),
        (
            ["study", "-n", "6", "--out", "/proc/gradcode-out/study"],
            1,
            "cannot write the output folder /proc/gradcode-out: No such file or directory "
            "(give --out a folder you can write, on a disk with free space)",
        ),
        (
            ["simulate", "-n", "4", "--plot", "/proc/gradcode-out/p"],
            1,
            "cannot write the output folder /proc/gradcode-out: No such file or directory "
            "(give --out a folder you can write, on a disk with free space)",
        ),
        (
            ["train", "-n", "four"],
            2,
            "argument -n: invalid int value: 'four' (see `gradcode train --help`)",
        ),
        (
            ["train", "--engine", "spark"],
            2,
            "argument --engine: invalid choice: 'spark' (choose from local, mpi) "
            if sys.version_info >= (3, 12)
            else "argument --engine: invalid choice: 'spark' (choose from 'local', 'mpi')",
        ),
        (
            ["codes", "show", "frc", "-n", "10", "-s", "2"],
            2,
            "frc needs s+1 to divide n, got n=10, s=2 (n % (s+1) = 1); use cyclic or cyclic-mds, "
            "which accept any n (see `gradcode codes show --help`)",
        ),
    ],
)
def test_one_line_and_exit_status(args, status, message, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert main([*args, *(QUICK if args[0] == "train" else [])]) == status
    assert one_line(capsys) == "gradcode: error: " + message.replace("{tmp}", str(tmp_path))


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('n = "4"', "n must be an integer, got n='4'"),
        ("rounds = 2.5", "rounds must be an integer >= 1, got rounds=2.5"),
        ('lr = "0.1"', "lr must be a finite number > 0 or a schedule, got lr='0.1'"),
        ("schemes = 3", "schemes must be a list of scheme names (or one comma-separated string)"),
        ('dataset_params = "rows=5"', "dataset_params must be a table of the data set's"),
        ("target_auc = true", "target_auc must be in (0, 1], got True"),
        ("delay = 0.2", "a comparison's delay must be a spec (text), got 0.2"),
    ],
)
def test_bad_config_types_name_the_key(toml, message, tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(toml + "\n")
    assert main(["compare", "--config", str(path), "--out", str(tmp_path / "out")]) == 2
    line = one_line(capsys)
    assert line.startswith("gradcode: error: " + message), line
    assert line.endswith(f"(fix {path} or the options given)")


def test_a_schemes_string_in_toml_is_that_list(tmp_path):
    from gradcode.experiments import load_config

    path = tmp_path / "c.toml"
    path.write_text('schemes = "naive,cyclic,partial-cyclic:P=3"\n')
    assert load_config(path).schemes == ("naive", "cyclic", "partial-cyclic:P=3")


def test_traceback_on_request(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADCODE_DEBUG", "0")
    with pytest.raises(ValueError, match="does not exist"):
        main(["train", "--data", str(tmp_path / "x.npz"), "--traceback"])
    monkeypatch.setenv("GRADCODE_DEBUG", "1")
    with pytest.raises(ValueError, match="does not exist"):
        main(["train", "--data", str(tmp_path / "x.npz")])


def test_subprocess_failures_are_one_line(tmp_path):
    """The same lines from `python -m gradcode`, with and without GRADCODE_DEBUG."""
    bad = tmp_path / "bad.toml"
    bad.write_text('s = "1"\n')
    for args, status, text in [
        (["compare", "--config", str(bad)], 2, "gradcode: error: s must be an integer, got s='1'"),
        (["train", "--out", "/proc/x", "--quiet"], 1, "gradcode: error: cannot write the output"),
        (["simulate", "-n", "2", "--delay", "fixed:bogus=1"], 2, "gradcode: error: unknown param"),
    ]:
        p = subprocess.run(
            [sys.executable, "-m", "gradcode", *args], capture_output=True, text=True, timeout=100
        )
        assert p.returncode == status, p.stderr
        assert p.stderr.startswith(text) and p.stderr.count("\n") == 1, p.stderr
        assert "Traceback" not in p.stderr
    p = subprocess.run(
        [sys.executable, "-m", "gradcode", "compare", "--config", str(bad)],
        capture_output=True,
        text=True,
        timeout=100,
        env={**__import__("os").environ, "GRADCODE_DEBUG": "1"},
    )
    assert p.returncode == 1 and "Traceback" in p.stderr


@pytest.mark.parametrize(
    ("delay", "warned"),
    [
        ("fixed:workers=0", True),  # what `--delay fixed:workers=0;delay=0.05` unquoted leaves
        ("fixed:workers=0;delay=0.05", False),  # quoted: it reached us whole
        ("fixed:workers=0,delay=0.05", False),  # the shell-safe form
        ("fixed:workers=0,1,delay=0.05,factor=1", False),
    ],
)
def test_warns_when_the_shell_could_have_cut_a_spec(delay, warned, capsys):
    assert main(["simulate", "-n", "4", "--rounds", "5", "--json", "--delay", delay]) == 0
    err = capsys.readouterr().err
    assert ("unquoted ';', the shell cut it off" in err) == warned, err
    if warned:
        assert err.startswith("gradcode: warning: --delay fixed:workers=0 leaves delay, factor")
