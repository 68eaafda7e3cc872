"""One run's options: a frozen value with one set of defaults, checked in one place.

`gc.train(config=...)` and its keywords, the `compare` config (a RunConfig plus schemes and data,
experiments/config.py) and both command lines (one argument table, cli/options.py) fill it."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from numbers import Integral, Real
from typing import Any

from ..delays import DELAY_REGISTRY, DelayModel, parse_delay
from ..links import Link, parse_link
from ..models import MODEL_REGISTRY, Model
from ..optim import OPTIMIZER_REGISTRY, Optimizer, Schedule
from ..registry import Registry
from .checkpoint import CHECKPOINT_SECONDS
from .engines import ENGINES
from .faults import Fault, parse_fault

MESSAGE_DTYPES = ("float64", "float32")


@dataclass(frozen=True)
class RunConfig:
    """How a run trains: everything but the code (scheme, n, s), the data and the callbacks.

    One set of defaults, the same from Python, `gradcode train` and `gradcode compare`:
    logistic regression with l2=1e-4 (both command lines' value: it keeps the minimiser finite on
    separable data), the paper's Nesterov-accelerated GD with lr=0.5 (`train`'s value: stable on
    the bundled data sets, where the old API's 0.1 crawled and compare's 1.0 suits only the
    paper's Amazon setup, whose example file sets it), 100 rounds, the local engine, no injected
    delays or faults, a 60 s round timeout, no deadline, float64 messages, no emulated work or
    links (`link`: bytes/s or `links.parse_link` text, emulated per message), the
    loss recorded every round, parameters not recorded, a checkpoint about every
    30 s (with an output folder), seed 0.

    `model`, `optimizer` and `delay` are registry specs ("least-squares", "adam:beta1=0.8",
    "fixed:workers=0;delay=0.2") or built values; `l2` and `lr` apply to a model and an optimizer
    given by spec (a built one carries its own; a spec's own l2 or lr wins over the default).
    `faults` are `Fault` values or "WORKER@ROUND[:KIND]" text (corrupt faults:
    "WORKER@ROUND:corrupt=MODEL", `parse_fault`). `seed` drives a code given by
    name, the synthetic data and the delays. `eval_every`: rounds between recorded training losses
    (decoded from the messages, which carry them: no pass over the data; 0: none). `checkpoint_every`: rounds between checkpoints (None: about every
    30 s). `quarantine`: corrupt rounds after which a worker is treated as dead (0: never).
    """

    model: str | Model = "logistic"
    l2: float = 1e-4
    optimizer: str | Optimizer = "nesterov"
    lr: float | Schedule = 0.5
    rounds: int = 100
    engine: str = "local"
    delay: str | DelayModel = "none"
    faults: tuple[Fault, ...] = ()
    round_timeout: float = 60.0
    deadline: float | None = None
    message_dtype: str = "float64"
    row_time: float = 0.0
    link: str | float | Link | None = None
    eval_every: int = 1
    record_params: bool = False
    checkpoint_every: int | None = None
    seed: int = 0
    quarantine: int = 3

    def __post_init__(self) -> None:
        """Every option checked; a message names the option, the bad value and what is allowed."""
        if self.delay is None:  # the keyword API's old spelling of no delays
            object.__setattr__(self, "delay", "none")
        faults = (self.faults,) if isinstance(self.faults, (str, Fault)) else self.faults
        object.__setattr__(self, "faults", tuple(_fault(f) for f in faults))
        for name, registry in (
            ("model", MODEL_REGISTRY),
            ("optimizer", OPTIMIZER_REGISTRY),
            ("delay", DELAY_REGISTRY),
            ("engine", ENGINES),
        ):
            value = getattr(self, name)
            if isinstance(value, str):
                registry.check(value)
            elif name == "engine":
                raise ValueError(
                    f"engine must be a name, one of {', '.join(ENGINES)}, got {value!r}"
                )
        if not _number(self.l2, 0):
            raise ValueError(f"l2 must be a finite number >= 0, got l2={self.l2!r}")
        if not (callable(self.lr) or (_number(self.lr, 0) and self.lr > 0)):
            raise ValueError(f"lr must be a finite number > 0 or a schedule, got lr={self.lr!r}")
        if not _integer(self.rounds, 1):
            raise ValueError(f"rounds must be an integer >= 1, got rounds={self.rounds!r}")
        if not (_number(self.round_timeout, 0) and self.round_timeout > 0):
            raise ValueError(f"round_timeout must be > 0 seconds, got {self.round_timeout!r}")
        if self.deadline is not None and not (_number(self.deadline, 0) and self.deadline > 0):
            raise ValueError(
                f"deadline must be a number of seconds > 0 or None, got {self.deadline!r}"
            )
        if self.message_dtype not in MESSAGE_DTYPES:
            raise ValueError(
                f"message_dtype must be one of {', '.join(MESSAGE_DTYPES)}, "
                f"got {self.message_dtype!r}"
            )
        if not _number(self.row_time, 0):
            raise ValueError(f"row_time must be a number of seconds >= 0, got {self.row_time!r}")
        parse_link(self.link)  # checked here, built by build_link
        if not _integer(self.eval_every, 0):
            raise ValueError(
                f"eval_every must be an integer >= 0 (0: never), got eval_every={self.eval_every!r}"
            )
        if not isinstance(self.record_params, bool):
            raise ValueError(f"record_params must be True or False, got {self.record_params!r}")
        if self.checkpoint_every is not None and not _integer(self.checkpoint_every, 1):
            raise ValueError(
                f"checkpoint_every must be a number of rounds >= 1 or None (about every "
                f"{CHECKPOINT_SECONDS:g} s), got {self.checkpoint_every!r}"
            )
        if not _integer(self.quarantine, 0):
            raise ValueError(
                f"quarantine must be a number of corrupt rounds >= 0 after which a worker is "
                f"treated as dead (0: never), got quarantine={self.quarantine!r}"
            )
        if not _integer(self.seed, 0):
            raise ValueError(f"seed must be an integer >= 0, got seed={self.seed!r}")

    @classmethod
    def of(cls, config: RunConfig | None = None, **options: Any) -> RunConfig:
        """`config` (default: the defaults) with `options` replacing its fields."""
        names = [f.name for f in fields(RunConfig)]
        unknown = sorted(set(options) - set(names))
        if unknown:
            raise TypeError(
                f"unknown run option(s) {', '.join(unknown)}; valid options: {', '.join(names)}"
            )
        base = cls() if config is None else config.run
        return replace(base, **options) if options else base

    @property
    def run(self) -> RunConfig:
        """The RunConfig fields alone (of a subclass such as CompareConfig)."""
        if type(self) is RunConfig:
            return self
        return RunConfig(**{f.name: getattr(self, f.name) for f in fields(RunConfig)})

    def to_dict(self) -> dict[str, Any]:
        """The fields as TOML/JSON values (sequences as lists, faults as text), None ones left out."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["faults"] = [f.spec() for f in self.faults]
        if isinstance(self.link, Link):
            values["link"] = self.link.spec()
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in values.items() if v is not None
        }

    def build_model(self) -> Model:
        if not isinstance(self.model, str):
            return self.model
        return MODEL_REGISTRY.build(self.model, **self._unless_in(MODEL_REGISTRY, "l2"))

    def build_optimizer(self) -> Optimizer:
        if not isinstance(self.optimizer, str):
            return self.optimizer
        return OPTIMIZER_REGISTRY.build(self.optimizer, **self._unless_in(OPTIMIZER_REGISTRY, "lr"))

    def build_link(self) -> Link | None:
        """The emulated uplinks (`links.Link`), or None: messages cost no time."""
        return parse_link(self.link)

    def build_delay(self) -> DelayModel:
        if not isinstance(self.delay, str):
            return self.delay
        return parse_delay(self.delay, seed=self.seed)

    def _unless_in(self, registry: Registry, key: str) -> dict[str, Any]:
        """{key: this option}, unless the model's or optimizer's spec sets `key` itself and the
        option is the default (then the spec's value is used)."""
        spec = self.model if key == "l2" else self.optimizer
        value = getattr(self, key)
        default = next(f.default for f in fields(RunConfig) if f.name == key)
        return {} if value == default and key in registry.parse(spec)[1] else {key: value}


def _fault(f: Fault | str) -> Fault:
    if isinstance(f, Fault):
        return f
    if isinstance(f, str):
        return parse_fault(f)
    raise ValueError(f"faults must be Fault values or WORKER@ROUND[:KIND] text, got {f!r}")


def _number(x: object, low: float) -> bool:
    """A real number (not a bool) in [low, inf)."""
    return isinstance(x, Real) and not isinstance(x, bool) and low <= x < math.inf


def _integer(x: object, low: int) -> bool:
    return isinstance(x, Integral) and not isinstance(x, bool) and x >= low
