"""A comparison's configuration: a RunConfig plus schemes and data, from defaults, a TOML file and
overrides."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..examples import find_config
from ..runtime.config import RunConfig
from ..spec import split_specs

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_SCHEMES = ("naive", "ignore", "frc", "cyclic", "cyclic-mds")
# The paper's EC2 measurement: about 20% of the workers 3-8x slower each round; `base` = 20 ms per
# round outside the CPU, so 10+ worker processes sharing 2 cores still straggle like a cluster.
EC2_DELAY = "slowdown:fraction=0.2;factor_low=3;factor_high=8;base=0.02"


@dataclass(frozen=True)
class CompareConfig(RunConfig):
    """A comparison: the run options every scheme shares (RunConfig's fields and defaults), the
    schemes, n and s (naive always runs with s=0), the data set and the AUC to time.

    `compare` evaluates every round's parameters after each run: it always records them and
    never evaluates the loss on the master, so `record_params` and `eval_every` stay unset (and
    out of its TOML). `model`, `optimizer` and `delay` are specs (text), so the config can be
    written as TOML."""

    schemes: tuple[str, ...] = DEFAULT_SCHEMES
    n: int = 10
    s: int = 1
    dataset: str = "amazon-synthetic"
    dataset_params: dict[str, Any] = field(default_factory=dict)
    target_auc: float | None = None  # default: 99% of naive's final test AUC

    def __post_init__(self) -> None:
        super().__post_init__()
        schemes = split_specs(self.schemes) if isinstance(self.schemes, str) else self.schemes
        if not isinstance(schemes, (list, tuple)) or not all(isinstance(x, str) for x in schemes):
            raise ValueError(
                f"schemes must be a list of scheme names (or one comma-separated string), "
                f"got schemes={self.schemes!r}"
            )
        object.__setattr__(self, "schemes", tuple(schemes))
        for name in ("n", "s"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be an integer, got {name}={value!r}")
        if not isinstance(self.dataset, str):
            raise ValueError(f"dataset must be a data set name (text), got {self.dataset!r}")
        if not isinstance(self.dataset_params, dict):
            raise ValueError(
                "dataset_params must be a table of the data set's parameters ([dataset_params] "
                f"in TOML), got {self.dataset_params!r}"
            )
        if not self.schemes:
            raise ValueError("schemes must name at least one scheme")
        for name in ("model", "optimizer", "delay"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(
                    f"a comparison's {name} must be a spec (text), got {getattr(self, name)!r}"
                )
        if (self.eval_every, self.record_params) != (RunConfig.eval_every, RunConfig.record_params):
            raise ValueError(
                "a comparison records every round's parameters and evaluates them after the run: "
                f"leave eval_every and record_params unset, got eval_every={self.eval_every!r}, "
                f"record_params={self.record_params!r}"
            )
        auc = self.target_auc
        if auc is not None and not (_real(auc) and 0 < auc <= 1):
            raise ValueError(f"target_auc must be in (0, 1], got {self.target_auc!r}")

    def to_toml(self) -> str:
        values = self.to_dict()
        params = values.pop("dataset_params")
        del values["eval_every"], values["record_params"]  # compare sets them itself
        lines = [f"{k} = {_toml_value(v)}" for k, v in values.items()]
        if params:
            lines += ["", "[dataset_params]"] + [
                f"{k} = {_toml_value(v)}" for k, v in params.items()
            ]
        return "\n".join(lines) + "\n"


def _real(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(v)


def load_config(path: str | Path | None = None, **overrides: Any) -> CompareConfig:
    """Defaults, then the TOML file's keys, then the overrides that are not None."""
    values: dict[str, Any] = {}
    if path is not None:
        path = find_config(path)  # a file, or a shipped example's name
        if not path.is_file():
            raise ValueError(f"config file {path} does not exist")
        try:
            values = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"config file {path} is not valid TOML: {e}") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    valid = {f.name for f in fields(CompareConfig)}
    unknown = sorted(set(values) - valid)
    if unknown:
        raise ValueError(
            f"unknown config key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(valid))}"
        )
    return CompareConfig(**values)
