"""One result format: a comparison's, a run's and a simulation's folders read alike by trace
replay (`TraceDelay`, `advise --trace`), plots, reports and calibration; round t = step t."""

import csv
import json
import math
import shutil
import subprocess
import sys

import numpy as np
import pytest

import gradcode as gc
from gradcode.cli import main
from gradcode.delays import ExponentialDelay, TraceDelay
from gradcode.experiments import compare, load_comparison, load_config, load_folder
from gradcode.simulate import Simulation, calibrate, simulate

pytestmark = pytest.mark.timeout(180)
ROUNDS = 5


@pytest.fixture(scope="module")
def cmp(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp")
    config = load_config(
        None,
        schemes=["naive", "cyclic"],
        n=4,
        s=1,
        dataset="gaussian",
        dataset_params={"rows": 400, "d": 6},
        rounds=ROUNDS,
        lr=0.5,
        delay="fixed:workers=2;delay=0.03",
    )
    return compare(config, out=out), out


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    X, y = np.random.default_rng(0).normal(size=(300, 5)), np.arange(300) % 2
    return gc.train("naive", X, y, n=4, rounds=6, out=out), out


def _csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_comparison_tables_are_the_runs_journals_concatenated(cmp):
    c, out = cmp
    rounds, workers = _csv(out / "rounds.csv"), _csv(out / "workers.csv")
    for i, name in enumerate(c.schemes):
        own = [r for r in rounds if r["scheme"] == name]
        assert [int(r["round"]) for r in own] == list(range(ROUNDS))  # the starting model: no row
        journal = _csv(out / "runs" / f"{i:02d}-{name}" / "workers.csv")
        assert [w for w in workers if w["scheme"] == name] == journal
        ran = _csv(out / "runs" / f"{i:02d}-{name}" / "rounds.csv")
        assert [r["wall_s"] for r in own] == [r["wall_s"] for r in ran]
    initial = _csv(out / "initial.csv")
    assert [r["scheme"] for r in initial] == ["naive", "cyclic"]
    assert float(initial[0]["test_auc"]) == c.series("naive", "test_auc")[0]
    back = load_comparison(out)
    assert np.array_equal(back.series("cyclic", "loss"), c.series("cyclic", "loss"))


def test_trace_of_a_comparison_picks_one_scheme(cmp):
    c, out = cmp
    with pytest.raises(ValueError, match=r"holds 2 schemes \(naive, cyclic\): pick one"):
        TraceDelay(path=str(out))
    with pytest.raises(ValueError, match="has no scheme 'frc'; schemes: naive, cyclic"):
        TraceDelay(path=str(out / "workers.csv"), scheme="frc")
    for name in c.schemes:
        trace = TraceDelay(path=str(out), scheme=name)
        recorded = np.array([r.arrival_s for r in c.results[name].rounds])
        assert trace.rounds == ROUNDS
        np.testing.assert_array_equal(trace.times, np.where(np.isnan(recorded), np.inf, recorded))
    assert np.isfinite(TraceDelay(path=str(out), scheme="naive").times).all()


def _advise(capsys, *args) -> dict:
    argv = ["advise", *map(str, args), "--schemes", "naive", "--s", "0", "--json"]
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_advise_replays_a_comparison_scheme_and_a_run(cmp, run, capsys):
    c, out = cmp
    report = _advise(capsys, "--trace", out, "--trace-scheme", "naive")
    naive = np.array([r.arrival_s for r in c.results["naive"].rounds])
    assert report["rounds"] == ROUNDS
    (point,) = report["points"]
    assert point["mean"] == pytest.approx(naive.max(axis=1).mean())  # not inf, not merged
    assert main(["advise", "--trace", str(out), "--schemes", "naive", "--s", "0"]) == 2
    assert "--trace-scheme NAME" in capsys.readouterr().err
    result, folder = run
    report = _advise(capsys, "--trace", folder)
    recorded = np.array([r.arrival_s for r in result.rounds])
    assert report["rounds"] == 6 and math.isfinite(report["points"][0]["mean"])
    assert report["points"][0]["mean"] == pytest.approx(recorded.max(axis=1).mean())


def _figures(folder):
    return {p.name for p in folder.glob("*.png")}


def test_plot_and_report_of_a_run(run, tmp_path, capsys):
    _, folder = run
    out = tmp_path / "run"
    shutil.copytree(folder, out)
    assert main(["plot", str(out)]) == 0
    assert _figures(out) == {"round_time.png", "loss_vs_time.png", "arrivals.png"}  # no AUC
    assert main(["report", str(out)]) == 0
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3
    assert "gradcode run" in page and "<b>ok</b>" in page and "test AUC" not in page


def test_plot_and_report_of_a_killed_run(run, tmp_path):
    _, folder = run
    out = tmp_path / "killed"
    shutil.copytree(folder, out)
    rounds = out / "rounds.csv"
    rounds.write_text(rounds.read_text()[:-9])  # the master died writing round 5
    meta = json.loads((out / "result.json").read_text())
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    meta.update(status="running", pid=gone.pid)
    (out / "result.json").write_text(json.dumps(meta))
    c = load_folder(out)
    (result,) = c.results.values()
    assert result.status == "died" and [r.round for r in result.rounds] == [0, 1, 2, 3, 4]
    assert TraceDelay(path=str(out)).rounds == 5  # workers rows of the cut round: dropped
    assert main(["plot", str(out)]) == 0 and main(["report", str(out)]) == 0
    assert "<b>died</b>" in (out / "report.html").read_text()
    assert "arrivals.png" in _figures(out)


def test_a_simulation_saves_reads_and_replays_as_a_run(tmp_path):
    code = gc.make_code("cyclic", 4, 1)
    sim = simulate(code, ExponentialDelay(mean=0.01, seed=1), 30, keep_arrivals=True, overhead=1e-3)
    sim.save(tmp_path)
    back = Simulation.read(tmp_path)
    np.testing.assert_array_equal(back.round_s, sim.round_s)
    assert (back.scheme, back.n, back.s, back.load, back.delays) == (
        "cyclic",
        4,
        1,
        2,
        sim.delays,
    )
    result = gc.load_result(tmp_path)
    assert [r.round for r in result.rounds] == list(range(30))
    assert all(len(r.survivors) >= 3 for r in result.rounds)  # cyclic decodes from n - s
    replay = simulate(code, TraceDelay(path=str(tmp_path)), overhead=1e-3)
    np.testing.assert_allclose(replay.round_s, sim.round_s, rtol=0, atol=1e-15)


def test_calibrate_reads_a_run_folder(run):
    result, folder = run
    code = gc.make_code("naive", 4, 0)
    assert calibrate(code, folder) == calibrate(code, result.rounds)
