"""A warning for specs the shell may have cut short at an unquoted ``;``.

``--delay fixed:workers=0;delay=0.05`` unquoted runs ``gradcode ... --delay fixed:workers=0`` and
then ``delay=0.05`` as a second shell command: gradcode never sees the rest. That can only have
happened when the spec is the last argument and shows one parameter and no ``;``, and it matters
only when the spec leaves parameters at their defaults; then we warn, and point to the
shell-safe ``,`` form."""

from __future__ import annotations

import sys

from ..codes import _SCHEMES
from ..delays import DELAY_REGISTRY
from ..models import MODEL_REGISTRY
from ..optim import OPTIMIZER_REGISTRY
from ..registry import Registry
from ..runtime.mpi_launch import in_mpi_world
from ..spec import split_specs

SPEC_FLAGS: dict[str, Registry] = {
    "--delay": DELAY_REGISTRY,
    "--model": MODEL_REGISTRY,
    "--optimizer": OPTIMIZER_REGISTRY,
    "--scheme": _SCHEMES,
    "--schemes": _SCHEMES,
}
SET_ELSEWHERE = {"seed", "l2", "lr"}  # filled from their own flags


def last_spec(argv: list[str]) -> tuple[str, str] | None:
    """(flag, spec) when the command line ends with a spec-valued flag's value."""
    if not argv:
        return None
    flag, eq, value = argv[-1].partition("=")
    if not (eq and flag in SPEC_FLAGS):
        if len(argv) < 2 or argv[-2] not in SPEC_FLAGS:
            return None
        flag, value = argv[-2], argv[-1]
    return flag, split_specs(value)[-1]


def defaulted(flag: str, spec: str) -> list[str]:
    """The parameters `spec` leaves at their defaults, when it gives exactly one and no `;`
    (a spec cut at its first unquoted `;` shows one parameter; a quoted one shows its `;`)."""
    registry = SPEC_FLAGS[flag]
    try:
        name, given = registry.parse(spec)
        params = registry.params(name)
    except (ValueError, ImportError):  # a bad spec is reported by the command itself
        return []
    if len(given) != 1 or ";" in spec or not set(given) <= set(params):
        return []
    return sorted(set(params) - set(given) - SET_ELSEWHERE)


def warn_shell_split(argv: list[str]) -> None:
    """Warn on stderr when the last argument is a spec the shell could have split at a `;`."""
    found = None if in_mpi_world() else last_spec(argv)  # ranks: the launcher warned already
    if found is None:
        return
    flag, spec = found
    left = defaulted(flag, spec)
    if left:
        sys.stderr.write(
            f"gradcode: warning: {flag} {spec} leaves {', '.join(left)} at "
            f"{'its default' if len(left) == 1 else 'their defaults'}; if you "
            "typed more after an unquoted ';', the shell cut it off: quote the "
            f"spec or separate parameters with ',' ({spec},{left[0]}=...)\n"
        )
