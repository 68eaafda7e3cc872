"""Parse ``NAME[:KEY=VALUE[;KEY=VALUE...]]`` specs (delay models, code parameters).

A value is a number, a comma-separated tuple of numbers, or (for keys in `text`) plain text.
Parameters are separated by ``;`` or, shell-safe, by ``,``: ``fixed:workers=0,1,delay=0.2`` is
``fixed:workers=0,1;delay=0.2`` (a part with ``=`` starts a parameter, one without continues
the previous value).
"""

from __future__ import annotations

Value = float | int | str | tuple[float | int, ...]


def parse_spec(spec: str, what: str, text: set[str] = frozenset()) -> tuple[str, dict[str, Value]]:
    """Split a spec into its name and keyword arguments; `what` names the kind in errors."""
    name, _, rest = spec.strip().partition(":")
    kw: dict[str, Value] = {}
    for item in _items(rest):
        key, eq, value = (s.strip() for s in item.partition("="))
        if not (key and eq and value):
            raise ValueError(f"bad item {item!r} in {what} spec {spec!r}; expected KEY=VALUE")
        if key in kw:
            raise ValueError(f"parameter {key!r} given twice in {what} spec {spec!r}")
        if key in text:
            kw[key] = value
            continue
        numbers = tuple(_number(v.strip(), what, spec) for v in value.split(","))
        kw[key] = numbers if "," in value else numbers[0]
    return name.strip(), kw


def _items(rest: str) -> list[str]:
    """The ``KEY=VALUE`` items of a spec's parameters, split at ``;`` and at ``,`` before a key."""
    items: list[str] = []
    for part in filter(None, (p.strip() for p in rest.replace(";", ",;").split(","))):
        if part.startswith(";") or "=" in part or not items:
            items.append(part.lstrip(";").strip())
        else:
            items[-1] += "," + part
    return [item for item in items if item]


def format_spec(name: str, kw: dict[str, Value]) -> str:
    """The inverse of `parse_spec`: ``name:k=v;k=v`` (just ``name`` without parameters)."""
    items = [f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in kw.items()]
    return f"{name}:{';'.join(items)}" if items else name


def split_specs(text: str) -> list[str]:
    """Comma-separated specs; after a spec with parameters, a number continues its tuple and a
    ``KEY=VALUE`` is its next parameter ("naive,hetero:speeds=1,2,2,cyclic" -> naive,
    hetero:speeds=1,2,2, cyclic; "frc,partial-cyclic:P=4,seed=1" -> frc, partial-cyclic:P=4,seed=1)."""
    out: list[str] = []
    for token in (t.strip() for t in text.split(",")):
        follows = token[:1].isdigit() or token[:1] in ".-" or ("=" in token and ":" not in token)
        if out and follows and "=" in out[-1]:
            out[-1] += "," + token
        else:
            out.append(token)
    return out


def int_ranges(text: str, option: str) -> list[int]:
    """'0-4' or '0,1,3' (or both, '0-2,5') -> the sorted distinct integers; `option` names the
    command-line option in the error."""
    values: list[int] = []
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            lo, dash, hi = part.partition("-")
            values += range(int(lo), int(hi) + 1) if dash else [int(lo)]
    except ValueError:
        raise ValueError(f"{option} must look like '0-4' or '0,1,3', got {text!r}") from None
    return sorted(set(values))


def _number(text: str, what: str, spec: str) -> float | int:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"bad value {text!r} in {what} spec {spec!r}; expected a number") from None
