"""What made a report's results: gradcode's version, when the runs started and the report was
written, and the command line (a run's `command.json`; a comparison reruns from its config)."""

from __future__ import annotations

import html
import json
import shlex
from datetime import datetime, timezone
from pathlib import Path

from ..runtime.journal import TIMESTAMP
from .tables import Comparison

COMMAND = "command.json"  # written by `gradcode train` into its folder
WHEN = "%Y-%m-%d %H:%M UTC"


def _utc(stamp: str) -> str:
    """A journal's `2026-12-01T22:48:14+0000` as `2026-12-01 22:48 UTC` (else unchanged)."""
    try:
        return datetime.strptime(stamp, TIMESTAMP).astimezone(timezone.utc).strftime(WHEN)
    except ValueError:
        return stamp


def started(out: Path) -> str | None:
    """When the first run of the folder started (its journals' first segment), or None."""
    times = []
    for path in [out / "result.json", *sorted(out.glob("runs/*/result.json"))]:
        try:
            segments = json.loads(path.read_text()).get("segments", [])
        except (OSError, ValueError):
            continue
        times += [str(seg["started"]) for seg in segments if seg.get("started")]
    return min(times) if times else None


def command(out: Path, c: Comparison) -> str | None:
    """The command line that made a run's folder, or that reruns a comparison."""
    if c.config is not None:
        return f"gradcode compare --config {shlex.quote(str(out / 'config.toml'))}"
    try:
        argv = json.loads((out / COMMAND).read_text())
    except (OSError, ValueError):
        return None  # a run started from Python: gc.train(..., out=DIR)
    return "gradcode train " + shlex.join(map(str, argv))


def provenance(out: Path, c: Comparison) -> str:
    """HTML: version and dates in a line, then the command line in a code block."""
    from .. import __version__

    parts = [f"gradcode {html.escape(__version__)}"]
    if (first := started(out)) is not None:
        parts.append(f"runs started {html.escape(_utc(first))}")
    parts.append(f"report written {datetime.now(timezone.utc).strftime(WHEN)}")
    line = command(out, c)
    if line is None:
        return f'<p class="meta">{" · ".join(parts)} · made from Python (no command line saved)</p>'
    what = "Rerun with" if c.config is not None else "Made by"
    return f'<p class="meta">{" · ".join(parts)}. {what}:</p><pre>{html.escape(line)}</pre>'
