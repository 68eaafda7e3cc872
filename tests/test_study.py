"""`gradcode.study` and `gradcode study`: error against stragglers and load, beside the bounds."""

import csv
import math

import numpy as np
import pytest

import gradcode as gc
from gradcode.cli import main
from gradcode.study import random_masks, study


def test_points_are_the_mean_errors_over_the_seeded_sets():
    result = study(12, [2, 3], [0, 2, 5], samples=30, seed=4, schemes=["expander", "frc"])
    assert {(p.scheme, p.load) for p in result.points} == {
        ("expander", 2), ("expander", 3), ("frc", 2), ("frc", 3)
    }  # fmt: skip
    p = next(p for p in result.points if (p.scheme, p.load, p.stragglers) == ("expander", 3, 5))
    code = gc.make_code("expander", 12, 0, seed=4, load=3)
    masks = random_masks(12, 5, 30, np.random.default_rng([4, 5]))
    errors = [code.error(code.decoder.solve(m)) for m in masks]
    assert (p.mean, p.max) == pytest.approx((np.mean(errors), np.max(errors)), rel=1e-12)
    assert p.bound_kind == "worst case" and p.max <= p.bound
    frc = [p for p in result.points if p.scheme == "frc" and p.load == 3]
    assert [p.s for p in frc] == [2, 2, 2]
    assert [p.mean < 1e-20 for p in frc] == [True, True, False]  # exact up to s, then not
    assert math.isnan(frc[2].bound) and frc[1].bound == 0.0
    again = study(12, [2, 3], [0, 2, 5], samples=30, seed=4, schemes=["expander", "frc"])
    assert again.points == result.points


def test_measured_errors_lie_within_the_bounds():
    samples = 200
    result = study(13, [2, 4], [1, 3, 6], samples=samples, seed=0,
                   schemes=["expander", "approx-frc", "bibd", "sgc"])  # fmt: skip
    assert ("bibd", 4) in {(p.scheme, p.load) for p in result.points}  # PG(2,3)
    assert result.skipped == [
        "bibd load=2: bibd: no supported block design for n=13, load=2; with load=2: n in none; "
        "with n=13: load in [4]"
    ]
    for p in result.points:
        se = p.std / math.sqrt(samples)
        if p.bound_kind == "worst case":
            assert p.max <= p.bound + 1e-12, p
        elif p.bound_kind == "every set":
            assert p.max == pytest.approx(p.bound, rel=1e-9) and p.std < 1e-9, p
        elif p.scheme == "approx-frc":  # the expectation, with equality
            assert abs(p.mean - p.bound) <= 4 * se + 1e-12, p
        else:
            assert p.bound_kind == "expectation" and p.mean <= p.bound + 4 * se, p


def test_bad_input():
    with pytest.raises(ValueError, match="unknown scheme.*nope"):
        study(8, [2], [1], schemes=["nope"])
    with pytest.raises(ValueError, match="stragglers must be integers in 0..n=8, got \\[9\\]"):
        study(8, [2], [9])
    with pytest.raises(ValueError, match="samples must be an integer >= 1, got samples=0"):
        study(8, [2], [1], samples=0)


def test_cli_writes_csv_and_figure(tmp_path, capsys):
    out = tmp_path / "study"
    args = ["study", "-n", "8", "--loads", "2-3", "--stragglers", "0,2,4", "--samples", "10"]
    assert main([*args, "--schemes", "expander,sgc,frc", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "expander" in printed.out and "skipped frc load=3" in printed.err
    with (tmp_path / "study.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == (2 + 2 + 1) * 3  # frc needs load | n
    assert {r["bound_kind"] for r in rows} == {"worst case", "expectation", "exact up to s"}
    for suffix in (".png", ".svg"):
        assert (tmp_path / f"study{suffix}").stat().st_size > 1000
    assert main(["study", "-n", "8", "--loads", "two"]) == 2  # bad input: one line, exit 2
    assert "--loads must look like" in capsys.readouterr().err
