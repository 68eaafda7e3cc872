"""One run configuration: one set of defaults for the API and both command lines, checked once."""

from dataclasses import fields

import numpy as np
import pytest

import gradcode as gc
from gradcode.cli import parser
from gradcode.cli.compare import config_from
from gradcode.cli.options import RUN_OPTIONS, run_options
from gradcode.data import gaussian_mixture
from gradcode.experiments import CompareConfig, load_config
from gradcode.runtime import Fault, RunConfig


def test_one_default_set_for_the_api_and_both_command_lines():
    api = RunConfig.of()  # what gc.train builds when given no options
    train = RunConfig.of(**run_options(parser().parse_args(["train"])))
    compare = config_from(parser().parse_args(["compare"])).run
    assert api == train == compare == RunConfig()
    assert (api.lr, api.l2, api.rounds, api.delay) == (0.5, 1e-4, 100, "none")


def test_keywords_override_a_config():
    base = RunConfig(lr=0.3, rounds=7)
    config = RunConfig.of(base, rounds=9, faults=["1@2"])
    assert (config.lr, config.rounds, config.faults) == (0.3, 9, (Fault(1, 2, "kill"),))
    assert RunConfig.of(CompareConfig(lr=0.2)) == RunConfig(lr=0.2)
    with pytest.raises(TypeError, match="unknown run option\\(s\\) lrr; valid options: model"):
        RunConfig.of(lrr=0.1)


def test_train_takes_a_config_or_keywords():
    X, y = gaussian_mixture(200, 4, seed=1)
    code = gc.make_code("cyclic", 4, 1)
    config = RunConfig(optimizer="gd", lr=0.3, rounds=3, record_params=True)
    a = gc.train(code, X, y, config=config)
    b = gc.train(code, X, y, optimizer="gd", lr=0.3, rounds=3, record_params=True)
    c = gc.train(code, X, y, config=RunConfig(lr=0.9), optimizer="gd", lr=0.3, rounds=3)
    assert len(a.rounds) == 3 and a.config["rounds"] == 3
    np.testing.assert_allclose(a.theta, b.theta, rtol=0, atol=1e-12)  # arrival order: rounding
    np.testing.assert_allclose(a.theta, c.theta, rtol=0, atol=1e-12)


def test_a_coded_scheme_by_name_needs_s():
    X, y = gaussian_mixture(120, 3, seed=0)
    with pytest.raises(ValueError, match="scheme 'cyclic' given by name: pass s"):
        gc.train("cyclic", X, y, n=6)
    with pytest.raises(ValueError, match="pass s"):
        gc.train("partial-cyclic:P=4", X, y, n=6)
    assert len(gc.train("naive", X, y, n=3, rounds=2).rounds) == 2  # tolerates none: no s


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lr": -1}, "lr must be a finite number > 0 or a schedule, got lr=-1"),
        ({"lr": float("nan")}, "lr must be a finite number > 0"),
        ({"l2": -1e-3}, "l2 must be a finite number >= 0, got l2=-0.001"),
        ({"rounds": 0}, "rounds must be an integer >= 1, got rounds=0"),
        ({"rounds": 2.5}, "rounds must be an integer >= 1, got rounds=2.5"),
        ({"message_dtype": "int8"}, "message_dtype must be one of float64, float32, got 'int8'"),
        ({"round_timeout": 0}, "round_timeout must be > 0 seconds, got 0"),
        ({"deadline": -1}, "deadline must be a number of seconds > 0 or None, got -1"),
        ({"row_time": -1}, "row_time must be a number of seconds >= 0, got -1"),
        ({"eval_every": -1}, "eval_every must be an integer >= 0 \\(0: never\\)"),
        ({"checkpoint_every": 0}, "checkpoint_every must be a number of rounds >= 1 or None"),
        ({"record_params": "yes"}, "record_params must be True or False, got 'yes'"),
        ({"seed": -1}, "seed must be an integer >= 0, got seed=-1"),
        ({"engine": "spark"}, "unknown engine 'spark'; valid engines: local, mpi"),
        ({"model": "svm"}, "unknown model 'svm'; valid models: least-squares, logistic"),
        ({"optimizer": "sgdx"}, "unknown optimizer 'sgdx'; valid optimizers: adam, gd"),
        ({"delay": "slow:x=1"}, "unknown delay 'slow'; valid delays: bimodal"),
        ({"faults": ["3"]}, "fault must look like WORKER@ROUND"),
    ],
)
def test_a_bad_option_is_one_clear_error(options, message):
    with pytest.raises(ValueError, match=message):
        RunConfig(**options)


def test_a_spec_sets_its_own_l2_and_lr():
    config = RunConfig(model="logistic:l2=0.01", optimizer="gd:lr=0.2")
    assert config.build_model().l2 == 0.01 and config.build_optimizer().lr == 0.2
    with pytest.raises(ValueError, match="l2 given both"):
        RunConfig(model="logistic:l2=0.01", l2=0.5).build_model()


def test_the_argument_table_covers_every_run_option():
    table = [o.field for o in RUN_OPTIONS]
    assert sorted(table) == sorted(f.name for f in fields(RunConfig))  # a new field needs a flag
    assert len(set(o.flag for o in RUN_OPTIONS)) == len(RUN_OPTIONS)
    argv = ["train", "--lr", "0.3", "--fault", "1@2", "--fault", "2@3:hang", "--record-params"]
    argv += ["--deadline", "0.5", "--checkpoint-every", "4", "--message-dtype", "float32"]
    got = RunConfig.of(**run_options(parser().parse_args(argv)))
    assert got == RunConfig(
        lr=0.3,
        faults=("1@2", "2@3:hang"),
        record_params=True,
        deadline=0.5,
        checkpoint_every=4,
        message_dtype="float32",
    )


def test_train_help_shows_every_default(capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for o in RUN_OPTIONS:
        assert o.flag in text
    assert "learning rate (default: 0.5)" in text and "(default: about every 30 s)" in text


def test_compare_config_is_a_run_config_plus_schemes_and_data(tmp_path):
    config = load_config(None, schemes=["naive", "frc"], n=4, faults=["1@2"], lr=0.2)
    assert isinstance(config, RunConfig) and config.run == RunConfig(faults=("1@2",), lr=0.2)
    path = tmp_path / "c.toml"
    path.write_text(config.to_toml())
    assert load_config(path) == config
    with pytest.raises(ValueError, match="rounds must be an integer >= 1"):
        load_config(None, rounds=0)
    with pytest.raises(ValueError, match="a comparison's model must be a spec"):
        CompareConfig(model=gc.make_code)  # not text: cannot be written as TOML
    with pytest.raises(ValueError, match="leave eval_every and record_params unset"):
        load_config(None, eval_every=5)
    assert "record_params" not in config.to_toml()
