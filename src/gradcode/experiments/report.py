"""One self-contained HTML report of a comparison or of one run (finished or not): config,
summary table, figures (inlined)."""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

import numpy as np

from . import cells, plots, stragglers
from .provenance import provenance
from .tables import SUMMARY_COLUMNS, Comparison, _code_of, load_folder

FIGURES = [
    ("round_time", "Time per round. Coded schemes do not wait for the s slowest workers."),
    (
        "auc_vs_time",
        "Test AUC against wall-clock time. Exact codes follow naive's trajectory, faster.",
    ),
    ("acc_vs_time", "Test accuracy (score > 0 predicts 1) against wall-clock time."),
    ("loss_vs_time", "Loss (test loss; a run's: the training objective) against wall-clock time."),
    (
        "arrivals",
        "Who straggled when: each worker's reply time per round; gray = no reply used or received.",
    ),
]
STYLE = """body{font-family:system-ui,sans-serif;max-width:1160px;margin:2em auto;color:#222;padding:0 1em}
.meta{color:#555;font-size:14px}.scroll{overflow-x:auto;max-width:100%;background:
linear-gradient(to left,#fff 30%,#fff0) right/40px 100% no-repeat local,
radial-gradient(farthest-side at 100% 50%,#0003,#0000) right/12px 100% no-repeat scroll}
table{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums}
td,th{padding:4px 7px;border-bottom:1px solid #ddd;text-align:right}td{white-space:nowrap}
th{background:#f4f4f4;vertical-align:bottom;font-weight:600}
td:first-child,th:first-child{text-align:left;position:sticky;left:0;background:#fff}
th:first-child{background:#f4f4f4}img{max-width:100%}figure{margin:0}
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:2em 1.5em}
.figures figure:last-child{grid-column:1/-1}
figcaption,.note{color:#555;font-size:13px}
pre{background:#f6f6f6;padding:1em;font-size:13px;overflow-x:auto;white-space:pre-wrap}"""
ORDER = tuple(k for k in SUMMARY_COLUMNS if k != "mean_load")  # mean_load: in the load cell


def summary_table(c: Comparison) -> str:
    """The summary's columns that hold a value for some scheme, each in its format; scrolls
    sideways (the scheme column kept in view) where the page is narrower than the table."""
    rows = c.summary
    shown = cells.columns(rows, ORDER)
    head = "".join(f"<th>{cells.header(rows, k)}</th>" for k in shown)
    body = "".join(
        "<tr>" + "".join(f"<td>{cells.cell(r, k)}</td>" for k in shown) + "</tr>" for r in rows
    )
    table = f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>'
    notes = " ".join(cells.NOTES[k] for k in shown if k in cells.NOTES)
    return f'{table}<p class="note">{html.escape(notes)}</p>'


def stragglers_section(out: Path, c: Comparison, top: int = 5) -> str:
    """Per scheme, its `top` slowest workers by straggling rate (`stragglers.attribute`), and
    the persistent ones."""
    parts = []
    results = stragglers.with_dead(out, c.results)
    for name, result in results.items():
        try:
            a = stragglers.attribute(result)
        except ValueError:  # no rounds, or a single worker: nothing to attribute
            continue
        head = "".join(f"<th>{h}</th>" for h in stragglers.HEADERS)
        body = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape(v)}</td>" for v in stragglers.formatted(r))
            + "</tr>"
            for r in a.rows()[:top]
        )
        named = ", ".join(map(str, a.persistent)) or "none"
        parts.append(
            f'<h3>{html.escape(name)}</h3><p class="note">{html.escape(stragglers.title(a))}; '
            f"the {min(top, a.n)} slowest of {a.n} workers. Persistent stragglers: "
            f"<b>{html.escape(named)}</b>.{_bound(result)}</p>"
            f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>'
        )
    if not parts:
        return ""
    note = f'<p class="note">{html.escape(stragglers.NOTE)}</p>'
    return "<h2>Stragglers</h2>" + "".join(parts) + note


def _bound(result) -> str:
    """The run's mean round time beside T* estimated from its recorded speeds."""
    code = _code_of(result)
    T = math.nan if code is None else stragglers.recorded_bound(result, code)
    if not math.isfinite(T):
        return ""
    mean = float(np.mean(result.wall_s))
    return (
        f" Mean round {1e3 * mean:.1f} ms; oracle bound T* ≈ {1e3 * T:.1f} ms from the recorded "
        f"speeds ({mean / T:.2f}x): total work over the workers' total speed, each worker's "
        "work over its arrival (the round's wall time where it did not arrive); a lower bound "
        "on any exact code's mean where reply times scale with the load."
    )


def describe(c: Comparison) -> tuple[str, str, str]:
    """(heading, paragraph, configuration text) of a comparison or of a run."""
    if c.config is None:
        result = next(iter(c.results.values()))
        cfg = result.config
        text = (
            f"<code>{html.escape(result.scheme)}</code> on n={cfg.get('n')} workers, "
            f"s={cfg.get('s')}: {len(result.rounds)} of {cfg.get('rounds')} rounds of "
            f"{html.escape(str(cfg.get('optimizer')))}, engine "
            f"<code>{html.escape(str(cfg.get('engine')))}</code>, stragglers "
            f"<code>{html.escape(str(cfg.get('delay')))}</code>; status "
            f"<b>{html.escape(result.status)}</b>"
            + (f" ({html.escape(result.error)})" if result.error else "")
            + ". No test data: no AUC or accuracy."
        )
        return "gradcode run", text, json.dumps(cfg, indent=2, default=str)
    cfg = c.config
    text = f"""{len(c.schemes)} schemes, n={cfg.n} workers, s={cfg.s}, {cfg.rounds} rounds of {html.escape(cfg.optimizer)}
on <code>{html.escape(cfg.dataset)}</code>, engine <code>{html.escape(cfg.engine)}</code>,
stragglers <code>{html.escape(cfg.delay)}</code>. Every scheme saw the same data, partitions, seed and straggler draws;
metrics were evaluated after each run, outside the timed path."""
    return "gradcode comparison", text, cfg.to_toml()


def write_report(out: str | Path) -> Path:
    """Redraw the figures of the comparison or run saved in `out`; write `out/report.html`."""
    out = Path(out)
    c = load_folder(out)
    plots.draw(c, out)
    figures = []
    for name, caption in FIGURES:
        if not (out / f"{name}.png").is_file():  # AUC and accuracy: not for a run
            continue
        data = base64.b64encode((out / f"{name}.png").read_bytes()).decode()
        figures.append(
            f'<figure><img alt="{name}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    heading, text, config = describe(c)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{heading}</title>
<style>{STYLE}</style></head><body>
<h1>{heading}</h1>
<p>{text}</p>
{provenance(out, c)}
<h2>Summary</h2>{summary_table(c)}
{stragglers_section(out, c)}
<h2>Figures</h2><div class="figures">{"".join(figures)}</div>
<h2>Configuration</h2><pre>{html.escape(config)}</pre>
</body></html>
"""
    path = out / "report.html"
    path.write_text(page)
    return path
