"""Comparisons end to end on the local engine: identical conditions, tables, figures, report."""

import numpy as np
import pytest

from gradcode.cli import main
from gradcode.experiments import compare, load_comparison, load_config, write_report
from gradcode.experiments.plots import draw

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp")
    config = load_config(
        None,
        schemes=["naive", "cyclic", "ignore"],
        n=4,
        s=1,
        dataset="gaussian",
        dataset_params={"rows": 600, "d": 8},
        rounds=6,
        lr=0.5,
        delay="fixed:workers=2;delay=0.05",
    )
    return compare(config, out=out), out


def test_exact_codes_follow_naive_and_skip_the_straggler(saved):
    c, _ = saved
    naive, cyclic, ignore = (c.series(s, "test_auc") for s in ("naive", "cyclic", "ignore"))
    assert len(naive) == 7  # the initial parameters and 6 rounds
    assert np.allclose(cyclic, naive, rtol=0, atol=1e-12)
    assert np.allclose(
        c.series("cyclic", "train_loss"), c.series("naive", "train_loss"), atol=1e-12
    )
    assert not np.allclose(
        c.series("ignore", "train_loss"), c.series("naive", "train_loss"), atol=1e-9
    )
    summary = {r["scheme"]: r for r in c.summary}
    assert summary["naive"]["median_ms"] >= 50  # waits for the 50 ms straggler every round
    assert summary["cyclic"]["median_ms"] < 50
    assert summary["cyclic"]["speedup_vs_naive"] > 1
    assert ignore[0] == naive[0]


def test_saved_folder_round_trips_and_redraws(saved, tmp_path):
    c, out = saved
    back = load_comparison(out)
    assert back.config == c.config
    assert back.schemes == ["naive", "cyclic", "ignore"]
    assert np.allclose(back.series("cyclic", "test_auc"), c.series("cyclic", "test_auc"))
    paths = draw(back, tmp_path)
    assert {p.name for p in paths} >= {
        "round_time.png",
        "auc_vs_time.svg",
        "arrivals.png",
        "loss_vs_time.png",
        "acc_vs_time.png",
    }
    assert all(p.stat().st_size > 1000 for p in paths)
    workers = [r for r in back.workers if r["scheme"] == "cyclic" and r["worker"] == 2]
    assert len(workers) == 6 and not any(r["used"] for r in workers[1:])


def test_report_is_self_contained(saved):
    _, out = saved
    page = write_report(out).read_text()
    assert page.count("data:image/png;base64,") == 5  # round time, AUC, accuracy, loss, arrivals
    assert "<td>cyclic</td>" in page and "speedup vs naive" in page


def test_cli_plot_and_report(saved, capsys):
    _, out = saved
    assert main(["plot", str(out)]) == 0
    assert "round_time.png" in capsys.readouterr().out
    assert main(["report", str(out)]) == 0


def test_config_file_then_overrides(tmp_path):
    path = tmp_path / "c.toml"
    # rounds = 60: the old default of a comparison, now set in the file (the default is 100)
    path.write_text('n = 12\ns = 2\ndelay = "none"\nrounds = 60\n[dataset_params]\nrows = 100\n')
    config = load_config(path, s=3, rounds=None)
    assert (config.n, config.s, config.delay, config.rounds) == (12, 3, "none", 60)
    assert config.dataset_params == {"rows": 100}
    back = tmp_path / "back.toml"
    back.write_text(config.to_toml())
    assert load_config(back) == config


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nn = 3\n", "unknown config key\\(s\\) nn; valid keys: "),
        ("n = \n", "is not valid TOML"),
        ("rounds = 0\n", "rounds must be an integer >= 1"),
    ],
)
def test_config_errors(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_config(path)


def test_bad_folder_and_bad_scheme(tmp_path, capsys):
    assert main(["plot", str(tmp_path)]) == 2
    assert "is not a comparison folder: missing config.toml" in capsys.readouterr().err
    with pytest.raises(ValueError, match="frc needs s\\+1 to divide n"):
        compare(load_config(None, schemes=["frc"], n=5, s=1, dataset="gaussian"))
