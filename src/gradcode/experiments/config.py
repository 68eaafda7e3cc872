"""A comparison's configuration: one frozen value, from defaults, a TOML file and overrides."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_SCHEMES = ("naive", "ignore", "frc", "cyclic", "cyclic-mds")


@dataclass(frozen=True)
class CompareConfig:
    """Everything a comparison depends on; every scheme shares all of it but its code."""

    schemes: tuple[str, ...] = DEFAULT_SCHEMES
    n: int = 10
    s: int = 1
    dataset: str = "amazon-synthetic"
    dataset_params: dict[str, Any] = field(default_factory=dict)
    model: str = "logistic"
    l2: float = 1e-4
    optimizer: str = "nesterov"
    lr: float = 1.0
    rounds: int = 60
    engine: str = "local"
    delay: str = "slowdown:fraction=0.2;factor_low=3;factor_high=8;base=0.02"
    seed: int = 0
    round_timeout: float = 60.0
    deadline: float | None = None  # seconds: then step with the best approximation that arrived
    message_dtype: str = "float64"
    row_time: float = 0.0  # emulated seconds of work per data row (see gradcode.train)
    target_auc: float | None = None  # default: 99% of naive's final test AUC

    def __post_init__(self) -> None:
        if not self.schemes:
            raise ValueError("schemes must name at least one scheme")
        if not (isinstance(self.rounds, int) and self.rounds >= 1):
            raise ValueError(f"rounds must be an integer >= 1, got rounds={self.rounds!r}")
        if self.target_auc is not None and not 0 < self.target_auc <= 1:
            raise ValueError(f"target_auc must be in (0, 1], got {self.target_auc!r}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["schemes"] = list(self.schemes)
        return {k: v for k, v in d.items() if v is not None}

    def to_toml(self) -> str:
        lines = []
        params = self.to_dict().pop("dataset_params")
        for k, v in self.to_dict().items():
            if k != "dataset_params":
                lines.append(f"{k} = {_toml_value(v)}")
        if params:
            lines += ["", "[dataset_params]"] + [
                f"{k} = {_toml_value(v)}" for k, v in params.items()
            ]
        return "\n".join(lines) + "\n"


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
        path = Path(path)
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
    if "schemes" in values:
        values["schemes"] = tuple(values["schemes"])
    return replace(CompareConfig(), **values)
