"""One registry helper for every named family (codes, models, delays, optimizers, data sets,
engines), in one wording: ``unknown model 'svm'; valid models: least-squares, logistic`` and
``unknown parameter(s) lam for model 'logistic'; valid parameters: l2`` (names sorted).

The registries stay plain dicts (a user may add an entry), read by reference. Lazy entries are
"module:attribute" strings imported on first use, so importing gradcode never imports torch or
mpi4py; a missing dependency (`require`) is one line saying how to install it. Parameters are read
one way, with `inspect.signature`: it covers classes, dataclasses (their init fields, no ClassVar)
and factory functions alike, where `dataclasses.fields` covers only dataclasses.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import KW_ONLY, dataclass, field
from types import ModuleType
from typing import Any

from .spec import parse_spec

Factory = Callable[..., Any]
_EMPTY = inspect.Parameter.empty


@dataclass(frozen=True, eq=False)
class Registry:
    """Factories of one `kind` by name: `entries` and `lazy` ones (the pip `extra` installs their
    dependencies); `injected` parameters (n, s, rng) are the library's, never the user's."""

    kind: str
    entries: Mapping[str, Factory]
    _: KW_ONLY
    lazy: Mapping[str, str] = field(default_factory=dict)
    extra: str = ""
    injected: tuple[str, ...] = ()
    plural: str = ""

    def __iter__(self) -> Iterator[str]:  # names; `in` uses it and imports nothing
        return iter([*self.entries, *self.lazy])

    def names(self) -> list[str]:
        return list(self)

    def factory(self, name: str) -> Factory:
        """The factory `name`, importing a lazy one; an unknown name lists the valid ones."""
        if name in self.entries:
            return self.entries[name]
        if name not in self.lazy:
            self.check(name)
        module, _, attr = self.lazy[name].partition(":")
        return getattr(require(module, self.extra, f"{self.kind} {name!r}"), attr)

    def check(self, spec: str) -> str:
        """The name of `spec` ("name" or "name:k=v;..."), checked without importing anything."""
        name = spec.partition(":")[0].strip()
        if name not in self:
            valid = ", ".join(sorted(self))
            raise ValueError(
                f"unknown {self.kind} {name!r}; valid {self.plural or self.kind + 's'}: {valid}"
            )
        return name

    def signature(self, name: str) -> dict[str, inspect.Parameter]:
        """All of factory `name`'s named parameters, injected ones included."""
        ps = inspect.signature(self.factory(name)).parameters.values()
        return {p.name: p for p in ps if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}

    def params(self, name: str) -> dict[str, Any]:
        """What a user may give `name`, with defaults (``inspect.Parameter.empty``: required)."""
        return {p: v.default for p, v in self.signature(name).items() if p not in self.injected}

    def parse(self, spec: str) -> tuple[str, dict[str, Any]]:
        """``NAME:KEY=VALUE;...`` -> (name, parameters); parameters annotated str stay text."""
        ps = self.signature(spec.partition(":")[0].strip()).values()
        text = {
            p.name for p in ps if p.annotation is str or "str" in str(p.annotation).split(" | ")
        }
        return parse_spec(spec, self.kind, text)

    def resolve(self, spec: str, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """(name, parameters) of a spec and keyword `params`, checked against the signature."""
        name, given = self.parse(spec)
        twice = ", ".join(sorted(set(given) & set(params)))
        if twice:
            raise ValueError(f"parameter(s) {twice} given both in {spec!r} and as keywords")
        given.update(params)
        valid = self.params(name)
        listing = f"valid parameters: {', '.join(sorted(valid)) or '(none)'}"
        unknown = ", ".join(sorted(set(given) - set(valid)))
        if unknown:
            raise ValueError(f"unknown parameter(s) {unknown} for {self.kind} {name!r}; {listing}")
        missing = ", ".join(p for p, d in valid.items() if d is _EMPTY and p not in given)
        if missing:
            raise ValueError(f"{self.kind} {name!r} needs parameter(s) {missing}; {listing}")
        return name, given

    def build(self, spec: str, /, *args: Any, **params: Any) -> Any:
        """Factory `spec` ("name" or "name:k=v;...") called with the library's positional `args`
        and the user's checked `params`."""
        name, params = self.resolve(spec, params)
        return self.factory(name)(*args, **params)


class MissingDependency(ImportError):
    """An optional dependency is not installed; `fix` says how to install it."""

    def __init__(self, what: str, fix: str, name: str = "") -> None:
        super().__init__(f"{what}: {fix}", name=name or None)
        self.what, self.fix = what, fix


def require(module: str, extra: str, what: str, package: str = "") -> ModuleType:
    """Import the optional `module`, or raise one ImportError line naming `what` needs it and the
    pip `extra` that installs it (`package`: its name on PyPI, by default the missing module's)."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        if (e.name or "").startswith("gradcode"):
            raise  # our own bug, not a missing dependency
        package = package or (e.name or module).partition(".")[0]
        raise MissingDependency(
            f"{what} needs {package}, which is not installed",
            f'pip install "gradcode[{extra}]"',
            name=package,
        ) from e
