"""The prepared-data cache: `gradcode cache info|clear` and the least-recently-used size cap."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from gradcode.cli import main
from gradcode.data import cache, load_dataset

MB = 2**20


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADCODE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GRADCODE_CACHE_MAX_MB", raising=False)
    return tmp_path / "cache"


def _entry(folder, name: str, kb: int, age_s: float) -> None:
    """An entry of about `kb` KB last used `age_s` seconds ago."""
    path = folder / f"{name}.npz"
    cache.save(path, {"x": np.zeros(kb * 128)}, {"name": name})
    t = path.stat().st_mtime - age_s
    os.utime(path, (t, t))


def test_info_and_clear(folder, capsys):
    load_dataset("gaussian", rows=50, d=3)
    load_dataset("gaussian", rows=60, d=3)
    assert main(["cache", "info", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["folder"] == str(folder) and report["entries"] == 2 and report["max_mb"] == 2048
    assert 0 < report["size_mb"] < 1
    (folder / ".gaussian-x.npz.123.tmp").write_bytes(b"left by a crash")
    (folder / "notes.txt").write_text("not the cache's")
    assert main(["cache", "clear"]) == 0
    assert capsys.readouterr().out.startswith(f"removed 2 entries (0.0 MB) from {folder}")
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    assert main(["cache", "info"]) == 0
    assert "entries  0" in capsys.readouterr().out


def test_writing_evicts_least_recently_used(folder, monkeypatch):
    monkeypatch.setenv("GRADCODE_CACHE_MAX_MB", "0.25")  # room for two 100 KB entries
    _entry(folder, "old", 100, age_s=300)
    _entry(folder, "used", 100, age_s=200)
    cache.load(folder / "used.npz")  # a load makes it the most recently used
    _entry(folder, "new", 100, age_s=0)
    assert sorted(p.stem for p in cache.entries(folder)) == ["new", "used"]
    assert cache.info(folder).bytes <= 0.25 * MB


def test_an_entry_over_the_cap_alone_is_kept(folder, monkeypatch):
    monkeypatch.setenv("GRADCODE_CACHE_MAX_MB", "0.05")
    _entry(folder, "a", 10, age_s=10)
    cache.save(folder / "big.npz", {"x": np.zeros(100 * 128)}, {})
    assert [p.stem for p in cache.entries(folder)] == ["big"]
    assert cache.load(folder / "big.npz")[0]["x"].shape == (100 * 128,)


def test_the_cap_default_and_bad_values(monkeypatch, capsys):
    monkeypatch.delenv("GRADCODE_CACHE_MAX_MB", raising=False)
    assert cache.max_bytes() == 2048 * MB
    for bad in ("lots", "-1", "nan", "inf"):
        monkeypatch.setenv("GRADCODE_CACHE_MAX_MB", bad)
        with pytest.raises(ValueError, match="GRADCODE_CACHE_MAX_MB must be a number of megabytes"):
            cache.max_bytes()
    assert main(["cache", "info"]) == 2
    assert "GRADCODE_CACHE_MAX_MB must be" in capsys.readouterr().err
