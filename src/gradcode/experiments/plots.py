"""Figures of a comparison (matplotlib, PNG and SVG): the paper's running-time and generalization
figures, and a worker-arrival heatmap showing who straggled when."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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


PALETTE = ("#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f", "#1a55a3", "#98df8a")


def _color(scheme: str, schemes: list[str]) -> str:
    """The scheme's fixed colour, or the next unused palette colour in the comparison's order."""
    if scheme in COLORS:
        return COLORS[scheme]
    others = [x for x in schemes if x not in COLORS]
    return PALETTE[others.index(scheme) % len(PALETTE)]


def _title(c: Comparison) -> str:
    cfg = c.config
    return f"n={cfg.n}, s={cfg.s}, {cfg.dataset}, delays: {cfg.delay}"


def _exact(c: Comparison, scheme: str) -> bool:
    """Approximate schemes (ignore, approximate codes) are drawn dashed."""
    row = next(r for r in c.summary if r["scheme"] == scheme)
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
    ax.set_xticks(range(1, len(c.schemes) + 1), c.schemes)
    ax.set_ylabel("time per round (ms)")
    ax.set_yscale("log")
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
    for scheme in schemes:
        rows = [r for r in c.workers if r["scheme"] == scheme]
        n, R = max(r["worker"] for r in rows) + 1, max(r["round"] for r in rows)
        grid = np.full((n, R), np.nan)
        for r in rows:
            grid[r["worker"], r["round"] - 1] = 1e3 * r["arrival_s"]
        grids.append(grid)
    finite = np.concatenate([g[np.isfinite(g)] for g in grids]) if grids else np.array([1.0])
    norm = mpl.colors.LogNorm(vmin=max(finite.min(), 1e-2), vmax=max(finite.max(), 1e-1))
    cmap = mpl.colormaps["viridis"].with_extremes(bad="#dddddd")
    axes = fig.subplots(len(schemes), 1, sharex=True, squeeze=False)[:, 0]
    for ax, scheme, grid in zip(axes, schemes, grids, strict=True):
        im = ax.imshow(
            np.ma.masked_invalid(grid), aspect="auto", cmap=cmap, norm=norm, interpolation="nearest"
        )
        ax.set_ylabel(f"{scheme}\nworker", fontsize=9)
        ax.grid(False)
    axes[-1].set_xlabel("round")
    fig.colorbar(im, ax=list(axes), label="reply time after broadcast (ms); gray: no reply")


def draw(c: Comparison, out: str | Path) -> list[Path]:
    """Write every figure as PNG and SVG into `out`; return the paths."""
    plt = _plt()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []

    def save(fig, name: str) -> None:
        fig.suptitle(_title(c), fontsize=9, y=0.995)
        for ext in ("png", "svg"):
            path = out / f"{name}.{ext}"
            fig.savefig(path, bbox_inches="tight")
            paths.append(path)
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.4, 4))
    round_times(c, ax)
    save(fig, "round_time")
    fig, ax = plt.subplots(figsize=(6.4, 4))
    metric_vs_time(c, ax, "test_auc", "test AUC")
    ax.set_title("Generalization: test AUC against wall-clock time")
    save(fig, "auc_vs_time")
    if c.rounds and "test_acc" in c.rounds[0]:  # folders saved before the column existed lack it
        fig, ax = plt.subplots(figsize=(6.4, 4))
        metric_vs_time(c, ax, "test_acc", "test accuracy")
        ax.set_title("Generalization: test accuracy against wall-clock time")
        save(fig, "acc_vs_time")
    fig, ax = plt.subplots(figsize=(6.4, 4))
    metric_vs_time(c, ax, "test_loss", "test loss")
    ax.set_title("Test loss against wall-clock time")
    save(fig, "loss_vs_time")
    fig = plt.figure(figsize=(7.5, 1.4 + 1.3 * len(c.schemes)))
    arrivals(c, fig)
    save(fig, "arrivals")
    return paths
