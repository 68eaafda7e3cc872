"""The report's summary table: one header and one number format per column (ms with one
decimal, speedups `1.00x`, losses to 4 significant digits, AUC and accuracy to 4 decimals)."""

from __future__ import annotations

import html
import math
from collections.abc import Callable

ZERO_ERROR = 1e-20  # a decoding error below this is floating-point rounding: shown as 0
MISSING = "—"

HEADERS = {
    "scheme": "scheme",
    "s": "s",
    "exact": "exact",
    "load": "load",
    "mean_ms": "mean round (ms)",
    "median_ms": "median (ms)",
    "p95_ms": "p95 (ms)",
    "speedup_vs_naive": "speedup vs naive",
    "mean_error": "decoding error",
    "final_train_loss": "train loss",
    "final_test_loss": "test loss",
    "final_test_auc": "test AUC",
    "final_test_acc": "test accuracy",
    "target_auc": "target AUC",
    "time_to_target_s": "time to target (s)",
    "dead_workers": "dead workers",
}
NOTES = {  # what a column means, under the table when it is shown
    "load": "load: partitions per worker (mean; the most one worker holds in brackets where "
    "workers differ).",
    "speedup_vs_naive": "speedup: naive's mean round time over the scheme's.",
    "mean_error": "decoding error: ‖aᵀB − 1ᵀ‖²/k averaged over rounds, 0 below 10⁻²⁰ (rounding).",
}


def _number(spec: str, suffix: str = "") -> Callable[[float], str]:
    return lambda v: f"{v:{spec}}{suffix}"


def _yes_no(v) -> str:
    return "yes" if v else "no"


def _integer(v) -> str:
    return str(int(v)) if isinstance(v, (int, float)) and float(v).is_integer() else str(v)


def _error(v: float) -> str:
    return "0" if abs(v) < ZERO_ERROR else f"{v:.3g}"


FORMATS: dict[str, Callable] = {
    "s": _integer,
    "exact": _yes_no,
    "mean_ms": _number(".1f"),
    "median_ms": _number(".1f"),
    "p95_ms": _number(".1f"),
    "speedup_vs_naive": _number(".2f", "x"),
    "mean_error": _error,
    "final_train_loss": _number("#.4g"),
    "final_test_loss": _number("#.4g"),
    "final_test_auc": _number(".4f"),
    "final_test_acc": _number(".4f"),
    "target_auc": _number(".4f"),
    "time_to_target_s": _number(".2f"),
}


def _missing(v) -> bool:
    return v is None or v == "" or (isinstance(v, float) and math.isnan(v))


def load(row: dict) -> str:
    """The mean load, and the largest where workers differ: `2 (max 6)`."""
    most, mean = row.get("load"), row.get("mean_load", math.nan)
    if _missing(most):
        return MISSING
    if _missing(mean) or math.isclose(float(mean), float(most)):
        return _integer(most)
    return f"{float(mean):.3g} (max {_integer(most)})"


def cell(row: dict, column: str) -> str:
    """The text of `row[column]` in the report (HTML-escaped; missing: an em dash)."""
    if column == "load":
        return load(row)
    v = row.get(column)
    if _missing(v):
        return MISSING
    if isinstance(v, bool) or column not in FORMATS:
        return html.escape(_yes_no(v) if isinstance(v, bool) else str(v))
    return html.escape(FORMATS[column](v))


def columns(rows: list[dict], order: tuple[str, ...]) -> list[str]:
    """The columns of `order` with a value in some row; one shared target AUC goes to the
    header of the time-to-target column instead of a column of its own."""
    shown = [k for k in order if any(cell(r, k) != MISSING for r in rows)]
    if len({cell(r, "target_auc") for r in rows}) == 1 and "target_auc" in shown:
        shown.remove("target_auc")
    return shown


def header(rows: list[dict], column: str) -> str:
    targets = {cell(r, "target_auc") for r in rows}
    if column == "time_to_target_s" and len(targets) == 1 and MISSING not in targets:
        return f"time to AUC {targets.pop()} (s)"
    return html.escape(HEADERS.get(column, column))
