"""The example configurations shipped with the package (``gradcode examples``).

``gradcode compare --config NAME`` reads the example NAME (``paper_n10_s1``); a clone's old path
``examples/NAME.toml`` still finds it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent


def names() -> list[str]:
    """The shipped examples' names, sorted (file stems: ``paper_n10_s1``, ...)."""
    return sorted(p.stem for p in HERE.glob("*.toml"))


def path(name: str) -> Path:
    """The file of the example `name` (with or without ``.toml``)."""
    stem = name.removesuffix(".toml")
    if stem not in names():
        raise ValueError(f"unknown example {name!r}; valid examples: {', '.join(names())}")
    return HERE / f"{stem}.toml"


def about(name: str) -> str:
    """The example's first comment line: what it sets up."""
    first = path(name).read_text().partition("\n")[0]
    return first.removeprefix("#").strip()


def find_config(config: str | Path) -> Path:
    """`config` itself when it is a file, else the shipped example it names: a bare name
    (``paper_n10_s1``) or a clone's ``examples/NAME.toml``. Anything else is returned as given."""
    config = Path(config)
    bare = config.parent == Path(".") or config.parent.name == "examples"
    if not config.is_file() and bare and config.stem in names() and config.suffix in ("", ".toml"):
        return path(config.stem)
    return config


def copy(dest: str | Path, which: list[str] | None = None) -> list[Path]:
    """Copy the examples `which` (default: all) into the folder `dest` (created); never
    overwrites a file there. Returns the written paths."""
    dest = Path(dest)
    targets = [dest / path(name).name for name in (names() if which is None else which)]
    if clash := [str(t) for t in targets if t.exists()]:
        raise ValueError(f"not overwriting {', '.join(clash)}: copy into another folder")
    dest.mkdir(parents=True, exist_ok=True)
    for target in targets:
        shutil.copyfile(path(target.stem), target)
    return targets
