"""The report as a reader sees it: one format per column, exact codes' rounding shown as 0, no
Python booleans, version, dates and command line, a comparison's and a train folder's; figures
with plain-number ticks on ms axes and whole numbers on integer axes."""

import math
import re
from html.parser import HTMLParser

import numpy as np
import pytest

import gradcode as gc
from gradcode.cli import main
from gradcode.delays import ExponentialDelay
from gradcode.experiments import cells, compare, load_config, load_folder, write_report
from gradcode.experiments.advise import advise
from gradcode.experiments.plots import _plt, advice_axes, arrivals, round_times, study_axes
from gradcode.study import study

pytestmark = pytest.mark.timeout(180)
DATE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC")


class Table(HTMLParser):
    """The first table of a page as {header: [cell, ...]}."""

    def __init__(self, page: str):
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self._done = False
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if self._done:
            return
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._done = True

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    @property
    def columns(self) -> dict[str, list[str]]:
        head, *body = self.rows
        return {h: [row[i] for row in body] for i, h in enumerate(head)}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp")
    config = load_config(
        None,
        schemes=["naive", "cyclic", "ignore", "sgc:load=2"],
        n=4,
        s=1,
        dataset="gaussian",
        dataset_params={"rows": 400, "d": 6},
        rounds=4,
        lr=0.5,
        delay="fixed:workers=2;delay=0.03",
    )
    return compare(config, out=out), out


def _matches(pattern: str, values: list[str]) -> bool:
    return all(re.fullmatch(pattern, v) for v in values)


def test_comparison_cells_have_one_format_per_column(saved):
    c, out = saved
    page = write_report(out).read_text()
    table = Table(page)
    cols = table.columns
    assert cols["scheme"] == ["naive", "cyclic", "ignore", "sgc:load=2"]
    assert not any(v in ("True", "False") for row in table.rows for v in row)
    assert cols["exact"] == ["yes", "yes", "no", "no"]
    for name in ("mean round (ms)", "median (ms)", "p95 (ms)"):
        assert _matches(r"\d+\.\d", cols[name])
    assert (
        _matches(r"\d+\.\d\dx", cols["speedup vs naive"]) and cols["speedup vs naive"][0] == "1.00x"
    )
    assert _matches(r"0\.\d{4}", cols["test AUC"] + cols["test accuracy"])
    assert _matches(r"0\.\d{4}", cols["train loss"] + cols["test loss"])  # 4 significant digits
    errors = dict(zip(cols["scheme"], cols["decoding error"], strict=True))
    assert errors["naive"] == errors["cyclic"] == "0"  # exact: rounding only, shown as 0
    assert float(errors["ignore"]) > 0
    assert cols["load"][:3] == ["1", "2", "1"]
    assert re.fullmatch(r"2 \(max 3\)", cols["load"][3])  # mean 2, one worker holds 3
    (target,) = [h for h in cols if h.startswith("time to AUC")]  # the target: in the header
    assert "target AUC" not in cols and _matches(r"\d+\.\d\d|—", cols[target])
    assert f"gradcode {gc.__version__}" in page and len(DATE.findall(page)) == 2
    assert f"gradcode compare --config {out / 'config.toml'}" in page
    assert 'class="scroll"' in page  # wide tables scroll inside the page


def test_report_names_each_schemes_slowest_workers(saved):
    c, out = saved
    page = write_report(out).read_text()
    section = page[page.index("<h2>Stragglers</h2>") : page.index("<h2>Figures</h2>")]
    for name in ("naive", "cyclic", "ignore", "sgc:load=2"):
        assert f"<h3>{name}</h3>" in section
    tables = section.split("<table>")[1:]
    assert len(tables) == 4
    workers = [Table(f"<table>{table}").columns["worker"] for table in tables]
    assert all(sorted(w) == ["0", "1", "2", "3"] for w in workers)
    assert workers[0][0] == "2"  # naive waits for worker 2, delayed every round: the slowest
    assert "binomial" in section and "Persistent stragglers:" in section
    assert section.count("oracle bound T* ≈") == 4


def test_exact_codes_rounding_is_zero_and_others_keep_their_error():
    row = {"scheme": "cyclic", "exact": True, "mean_error": 4.558e-28, "load": 5, "mean_load": 2.0}
    assert cells.cell(row, "mean_error") == "0"
    assert cells.cell({**row, "mean_error": 0.0123}, "mean_error") == "0.0123"
    assert cells.cell(row, "exact") == "yes" and cells.cell(row, "load") == "2 (max 5)"
    assert cells.cell({"load": 2, "mean_load": 2.0}, "load") == "2"
    assert cells.cell({"final_test_loss": 0.211}, "final_test_loss") == "0.2110"
    assert cells.cell({"mean_ms": math.nan}, "mean_ms") == cells.MISSING


def test_report_of_a_train_folder(tmp_path):
    out = tmp_path / "run"
    argv = ["-n", "4", "--rounds", "3", "--rows", "300", "--features", "5", "--out", str(out)]
    assert main(["train", "--scheme", "cyclic", *argv, "--quiet"]) == 0
    page = write_report(out).read_text()
    cols = Table(page).columns
    assert cols["scheme"] == ["cyclic"] and cols["exact"] == ["yes"]
    assert cols["decoding error"] == ["0"] and "test AUC" not in cols
    assert f"gradcode {gc.__version__}" in page and len(DATE.findall(page)) == 2
    assert "gradcode train -n 4 --rounds 3" in page.replace("--scheme cyclic ", "")
    X, y = np.random.default_rng(0).normal(size=(200, 4)), np.arange(200) % 2
    gc.train("naive", X, y, n=2, rounds=2, out=tmp_path / "py")
    assert "made from Python" in write_report(tmp_path / "py").read_text()


def _labels(axis) -> list[str]:
    ticks = axis.get_majorticklabels() + axis.get_minorticklabels()
    return [t.get_text() for t in ticks if t.get_text()]


def _plain(axis) -> bool:
    """Every tick label a plain number (no 10^k mathtext, no exponent)."""
    labels = _labels(axis)
    return bool(labels) and all(re.fullmatch(r"\d+(\.\d+)?", t) for t in labels)


def _whole(ax) -> bool:
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    return bool(ticks) and all(float(t).is_integer() for t in ticks)


def test_ms_axes_have_plain_ticks_and_rounds_whole_ones(saved):
    plt = _plt()
    c = load_folder(saved[1])
    fig, ax = plt.subplots()
    round_times(c, ax)
    fig.canvas.draw()
    assert _plain(ax.yaxis)
    fig2 = plt.figure(figsize=(6, 6))
    arrivals(c, fig2)
    fig2.canvas.draw()
    *heatmaps, bar = fig2.axes
    assert _whole(heatmaps[-1]) and _plain(bar.yaxis)
    plt.close("all")


def test_advice_and_study_figures():
    plt = _plt()
    fig, ax = plt.subplots()
    advice = advise(
        6, ExponentialDelay(mean=0.02, seed=0), schemes=["naive", "cyclic", "frc"], rounds=200
    )
    advice_axes(advice, ax)
    fig.canvas.draw()
    assert _plain(ax.yaxis) and _whole(ax)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("least mean:") for t in labels) and "oracle bound T*" in labels
    result = study(8, [2], [0, 1, 2, 3], samples=10, seed=0, schemes=["frc", "expander"])
    fig, axes = plt.subplots(1, 2)
    study_axes(result, axes)
    fig.canvas.draw()
    assert all(_whole(a) for a in axes)  # stragglers and load: whole numbers
    plt.close("all")
