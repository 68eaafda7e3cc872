"""One self-contained HTML report of a comparison or of one run (finished or not): config,
summary table, figures (inlined)."""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

from . import plots
from .tables import SUMMARY_COLUMNS, Comparison, load_folder

HEADERS = {
    "scheme": "scheme",
    "s": "s",
    "exact": "exact",
    "load": "load",
    "mean_ms": "mean round (ms)",
    "median_ms": "median (ms)",
    "p95_ms": "p95 (ms)",
    "speedup_vs_naive": "speedup vs naive",
    "mean_error": "mean decoding error",
    "final_train_loss": "train loss",
    "final_test_loss": "test loss",
    "final_test_auc": "test AUC",
    "final_test_acc": "test accuracy",
    "target_auc": "target AUC",
    "time_to_target_s": "time to target (s)",
    "dead_workers": "dead workers",
}
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
STYLE = """body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222;padding:0 1em}
table{border-collapse:collapse;font-size:14px}td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}figure{margin:2em 0}
img{max-width:100%}figcaption{color:#555;font-size:14px}pre{background:#f6f6f6;padding:1em;font-size:13px}"""


def fmt(v) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "—"
        return f"{v:.4g}"
    return html.escape(str(v))


def summary_table(c: Comparison) -> str:
    """The summary's columns that hold a value for some scheme."""
    columns = [k for k in SUMMARY_COLUMNS if any(fmt(r.get(k, math.nan)) != "—" for r in c.summary)]
    head = "".join(f"<th>{HEADERS[k]}</th>" for k in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{fmt(row.get(k, math.nan))}</td>" for k in columns) + "</tr>"
        for row in c.summary
    )
    return f"<table><tr>{head}</tr>{body}</table>"


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
<h2>Summary</h2>{summary_table(c)}
<h2>Figures</h2>{"".join(figures)}
<h2>Configuration</h2><pre>{html.escape(config)}</pre>
</body></html>
"""
    path = out / "report.html"
    path.write_text(page)
    return path
