"""Figures (matplotlib, PNG and SVG): a comparison's running-time and generalization figures (the
paper's) and worker-arrival heatmap; simulated round times; advice; a decoding-error study."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..simulate import Simulation
from ..study import Point as StudyPoint
from ..study import Study
from .advise import Advice
from .tables import Comparison

COLORS = {
    "naive": "#444444",
    "ignore": "#d62728",
    "frc": "#1f77b4",
    "cyclic": "#2ca02c",
    "cyclic-mds": "#9467bd",
}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "figure.dpi": 110,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "font.size": 10,
        }
    )
    return plt


def _save(fig, path: str | Path) -> list[Path]:
    """Write PATH.png and PATH.svg (the suffix of `path` is dropped); return both paths."""
    stem = Path(path).with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for p in out:
        fig.savefig(p, bbox_inches="tight")
    return out


def _plain_log(axis) -> None:
    """Plain-number tick labels (20, 50, 100 rather than 2×10¹) on a log-scaled axis."""
    from matplotlib.ticker import LogFormatter

    class Plain(LogFormatter):
        def _num_to_string(self, x, vmin, vmax):
            return np.format_float_positional(float(f"{x:.6g}"), trim="-")

    axis.set_major_formatter(Plain())
    axis.set_minor_formatter(Plain(labelOnlyBase=False))


def _integer_ticks(axis) -> None:
    """Ticks on whole numbers only (rounds, s, stragglers, workers)."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


PALETTE = ("#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f", "#1a55a3", "#98df8a")


def _color(scheme: str, schemes: list[str]) -> str:
    """The scheme's fixed colour, or the next unused palette colour in the comparison's order."""
    if scheme in COLORS:
        return COLORS[scheme]
    others = [x for x in schemes if x not in COLORS]
    return PALETTE[others.index(scheme) % len(PALETTE)]


def _exact(c: Comparison, scheme: str) -> bool:
    """Approximate schemes (ignore, approximate codes) are drawn dashed."""
    row = next((r for r in c.summary if r["scheme"] == scheme), {})
    return bool(row.get("exact", True))


def round_times(c: Comparison, ax) -> None:
    """Box plot of round times per scheme, mean marked (the paper's running-time figure)."""
    data = [1e3 * c.series(s, "wall_s")[1:] for s in c.schemes]
    box = ax.boxplot(
        data,
        showmeans=True,
        showfliers=True,
        patch_artist=True,
        widths=0.6,
        meanprops={"marker": "D", "markerfacecolor": "white", "markeredgecolor": "black"},
    )
    for patch, scheme in zip(box["boxes"], c.schemes, strict=True):
        patch.set_facecolor(_color(scheme, c.schemes))
        patch.set_alpha(0.6)
    crowded = sum(len(name) + 2 for name in c.schemes) > 60  # names would touch: slant them
    ax.set_xticks(
        range(1, len(c.schemes) + 1),
        c.schemes,
        rotation=30 if crowded else 0,
        ha="right" if crowded else "center",
        rotation_mode="anchor",
    )
    ax.set_ylabel("time per round (ms)")
    ax.set_yscale("log")
    _plain_log(ax.yaxis)
    ax.set_title("Round time (box: quartiles, ◇: mean)")


def metric_vs_time(c: Comparison, ax, column: str, label: str) -> None:
    for scheme in c.schemes:
        ax.plot(
            c.series(scheme, "time_s"),
            c.series(scheme, column),
            label=scheme,
            color=_color(scheme, c.schemes),
            ls="--" if not _exact(c, scheme) else "-",
            lw=1.6,
        )
    ax.set_xlabel("wall-clock time (s)")
    ax.set_ylabel(label)
    ax.legend(frameon=False)


def arrivals(c: Comparison, fig) -> None:
    """Per scheme, worker x round: arrival time after the broadcast; gray = no reply that round."""
    import matplotlib as mpl

    schemes = c.schemes
    grids = []
    for scheme in schemes:  # column t: round t
        records = c.results[scheme].rounds
        grid = np.full((max((r.arrival_s.size for r in records), default=1), len(records)), np.nan)
        for t, r in enumerate(records):
            grid[: r.arrival_s.size, t] = 1e3 * r.arrival_s
        grids.append(grid)
    finite = np.concatenate([g[np.isfinite(g)] for g in grids])
    finite = finite if finite.size else np.ones(1)
    norm = mpl.colors.LogNorm(vmin=max(finite.min(), 1e-2), vmax=max(finite.max(), 1e-1))
    cmap = mpl.colormaps["viridis"].with_extremes(bad="#dddddd")
    inch = 1 / fig.get_figheight()  # the title and the round axis: fixed room, not a fraction
    grid_kw = {"top": 1 - 0.45 * inch, "bottom": 0.55 * inch}
    axes = fig.subplots(len(schemes), 1, sharex=True, squeeze=False, gridspec_kw=grid_kw)[:, 0]
    for ax, scheme, grid in zip(axes, schemes, grids, strict=True):
        im = ax.imshow(
            np.ma.masked_invalid(grid), aspect="auto", cmap=cmap, norm=norm, interpolation="nearest"
        )
        ax.set_ylabel(f"{scheme}\nworker", fontsize=9)
        ax.grid(False)
    axes[-1].set_xlabel("round")
    _integer_ticks(axes[-1].xaxis)
    label = "reply time after broadcast (ms); gray: no reply" if len(schemes) > 2 else "reply (ms)"
    bar = fig.colorbar(im, ax=list(axes), label=label)  # the label fits the figure's height
    _plain_log(bar.ax.yaxis)


TIME_FIGURES = {  # figure: its (column, label, title) options, the first that some scheme has
    "auc_vs_time": [("test_auc", "test AUC", "Generalization: test AUC against wall-clock time")],
    "acc_vs_time": [
        ("test_acc", "test accuracy", "Generalization: test accuracy against wall-clock time")
    ],
    "loss_vs_time": [  # a run's folder has no test rows: its training objective
        ("test_loss", "test loss", "Test loss against wall-clock time"),
        ("loss", "training loss", "Training objective against wall-clock time"),
    ],
}


def draw(c: Comparison, out: str | Path) -> list[Path]:
    """Write every figure as PNG and SVG into `out`; return the paths."""
    plt = _plt()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []

    def save(fig, name: str) -> None:
        fig.suptitle(c.title, fontsize=9, y=0.995)
        paths.extend(_save(fig, out / name))
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.4, 4))
    round_times(c, ax)
    save(fig, "round_time")
    for name, options in TIME_FIGURES.items():
        for column, label, title in options:
            if c.has(column):
                fig, ax = plt.subplots(figsize=(6.4, 4))
                metric_vs_time(c, ax, column, label)
                ax.set_title(title)
                save(fig, name)
                break
    fig = plt.figure(figsize=(7.5, 1.4 + 1.3 * len(c.schemes)))
    arrivals(c, fig)
    save(fig, "arrivals")
    return paths


def plot_round_times(sims: Sequence[Simulation], path: str | Path) -> list[Path]:
    """Histogram and empirical CDF of round times per scheme; writes PATH.png and PATH.svg."""
    plt = _plt()
    fig, (hist, cdf) = plt.subplots(1, 2, figsize=(10, 3.8))
    finite = [s.round_s[np.isfinite(s.round_s)] * 1e3 for s in sims]
    values = np.concatenate([f for f in finite if f.size] or [np.zeros(1)])
    bins = np.linspace(values.min(), np.quantile(values, 0.995), 60)
    for sim, ms in zip(sims, finite, strict=True):
        label = f"{sim.scheme} s={sim.s}"
        hist.hist(ms, bins=bins, histtype="step", density=True, label=label)
        cdf.plot(np.sort(ms), np.arange(1, ms.size + 1) / sim.round_s.size, label=label)
    hist.set(xlabel="round time (ms)", ylabel="density", title="round-time distribution")
    cdf.set(xlabel="round time (ms)", ylabel="P(round <= t)", title="empirical CDF")
    for ax in (hist, cdf):
        ax.grid(alpha=0.3)
        ax.ticklabel_format(axis="x", style="plain", useOffset=False)  # ms as plain numbers
    cdf.legend(fontsize=8)
    fig.suptitle(f"n={sims[0].n}, delays {sims[0].delays}", fontsize=9)
    out = _save(fig, path)
    plt.close(fig)
    return out


MARKERS = ("o", "s", "^", "v", "D", "P")


def advice_axes(advice: Advice, ax) -> None:
    """Expected (solid) and p95 (dotted) round time against s per scheme, the picks starred, the
    oracle bound T* dashed; the legend (the picks' labels in it) beside the axes."""
    schemes = list(dict.fromkeys(p.scheme for p in advice.points))
    for i, scheme in enumerate(schemes):
        pts = sorted((p for p in advice.points if p.scheme == scheme), key=lambda p: p.s)
        s = [p.s for p in pts]
        label = scheme if pts[0].exact else f"{scheme} (inexact)"
        ms = np.array([[p.mean, p.p95] for p in pts]) * 1e3
        ms[~np.isfinite(ms)] = np.nan  # undecodable configurations leave a gap
        style = {"color": _color(scheme, schemes), "marker": MARKERS[i % len(MARKERS)], "ms": 5}
        ax.plot(s, ms[:, 0], "-", label=label, **style)
        ax.plot(s, ms[:, 1], ":", color=style["color"])
    if math.isfinite(advice.bound) and advice.bound > 0:  # no exact code's mean below it
        ax.axhline(1e3 * advice.bound, color="k", ls="--", lw=0.8, label="oracle bound T*")
    picks = ((advice.best_mean, "least mean", advice.best_mean.mean, "k"),)
    picks += ((advice.best_p95, "least p95", advice.best_p95.p95, "#777777"),)
    for best, label, y, color in picks:  # labelled in the legend: no text over the lines
        ax.plot(
            [best.s],
            [1e3 * y],
            "*",
            ms=16,
            mfc="none",
            color=color,
            ls="none",
            zorder=5,
            label=f"{label}: {best.scheme} s={best.s}",
        )
    ax.set(
        xlabel="s (stragglers tolerated)",
        ylabel="round time (ms)",
        title=f"n={advice.n}: expected (solid) and p95 (dotted) round time",
    )
    ax.set_yscale("log")
    _plain_log(ax.yaxis)
    _integer_ticks(ax.xaxis)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1))


def plot_advice(advice: Advice, path: str | Path) -> list[Path]:
    """`advice_axes` in a figure; writes PATH.png and PATH.svg."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    advice_axes(advice, ax)
    out = _save(fig, path)
    plt.close(fig)
    return out


def plot_study(result: Study, path: str | Path, at: int | None = None) -> list[Path]:
    """`study_axes` in a figure, one panel per load and one against load; writes PATH.png and
    PATH.svg."""
    plt = _plt()
    panels = len({p.load for p in result.points}) + 1
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 4), sharey=True)
    study_axes(result, axes, at)
    fig.suptitle(f"n={result.n}, {result.samples} random straggler sets per point", fontsize=9)
    out = _save(fig, path)
    plt.close(fig)
    return out


def study_axes(result: Study, axes, at: int | None = None) -> None:
    """Error against stragglers, one panel per load (bounds dashed, the optimal uncoded error t/n
    dotted), and error against load at `at` stragglers (default: the t nearest n/4) in the last
    of `axes`; whole numbers on every x axis."""
    loads = sorted({p.load for p in result.points})
    ts = sorted({p.stragglers for p in result.points})
    at = min(ts, key=lambda t: abs(t - result.n / 4)) if at is None else at
    colors = {s: f"C{i}" for i, s in enumerate(dict.fromkeys(p.scheme for p in result.points))}
    for ax, load in zip(axes, loads, strict=False):
        for scheme, color in colors.items():
            pts = [p for p in result.points if p.scheme == scheme and p.load == load]
            if not pts:
                continue
            t = [p.stragglers for p in pts]
            label = f"{scheme} (exact up to s={pts[0].s})" if pts[0].exact else scheme
            ax.plot(t, [p.mean for p in pts], color=color, label=label, **_study_style(pts[0]))
            if not pts[0].exact and any(np.isfinite(p.bound) for p in pts):
                ax.plot(t, [p.bound for p in pts], "--", color=color, lw=1)
        ax.plot(ts, [t / result.n for t in ts], ":", color="grey", label="uncoded (t/n)")
        ax.set(title=f"load {load}", xlabel="stragglers t")
        _integer_ticks(ax.xaxis)
    axes[0].set_ylabel("error ||aᵀB - 1ᵀ||² / k  (mean; bound dashed)")
    ax = axes[-1]
    for scheme, color in colors.items():
        pts = sorted(
            (p for p in result.points if p.scheme == scheme and p.stragglers == at),
            key=lambda p: p.load,
        )
        if pts:
            x = [p.load for p in pts]
            ax.plot(x, [p.mean for p in pts], color=color, **_study_style(pts[0]))
            if not pts[0].exact:
                ax.plot(x, [p.bound for p in pts], "--", color=color, lw=1)
    ax.set(title=f"t = {at} stragglers", xlabel="load (partitions per worker)", xticks=loads)
    for ax in axes:
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=7)


def _study_style(p: StudyPoint) -> dict:
    """Exact codes: open squares; approximate codes: dots."""
    if p.exact:
        return {"marker": "s", "ms": 6, "mfc": "none", "lw": 1}
    return {"marker": "o", "ms": 3, "lw": 1.5}
