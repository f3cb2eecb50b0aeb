"""The report's figures drawn with matplotlib, as PNG and SVG files (`valuelens report --figures`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from valuelens.report._figures import (
    MISSING_FILL,
    Bars,
    ColorScale,
    DotPlot,
    Figure,
    Heatmap,
    RankingGrid,
    StackedBars,
)


def write_figures(figures: Sequence[tuple[str, Figure]], out_dir: Path) -> list[Path]:
    """Draw each (sub-folder, figure) with matplotlib as PNG and SVG under `out_dir`.

    Returns:
        the written files, PNG and SVG for each figure.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[Path] = []
    with plt.rc_context(
        {
            "font.size": 8,
            "svg.fonttype": "none",
            "figure.dpi": 100,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        for folder, figure in figures:
            target = out_dir / folder
            target.mkdir(parents=True, exist_ok=True)
            fig = _draw(figure)
            for suffix in ("png", "svg"):
                path = target / f"{figure.key}.{suffix}"
                fig.savefig(path, dpi=200 if suffix == "png" else None, bbox_inches="tight")
                written.append(path)
            plt.close(fig)
    return written


def _cmap(scale: ColorScale):  # type: ignore[no-untyped-def]
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list(scale.key, list(scale.stops)).with_extremes(
        bad=MISSING_FILL
    )


def _draw(figure: Figure):  # type: ignore[no-untyped-def]
    if isinstance(figure, Heatmap):
        return _draw_heatmap(figure)
    if isinstance(figure, Bars):
        return _draw_bars(figure)
    if isinstance(figure, StackedBars):
        return _draw_stacked(figure)
    if isinstance(figure, DotPlot):
        return _draw_dots(figure)
    return _draw_ranking_grid(figure)


def _draw_heatmap(spec: Heatmap):  # type: ignore[no-untyped-def]
    import matplotlib.pyplot as plt

    n_rows, n_cols = spec.matrix.shape
    fig, ax = plt.subplots(figsize=(max(4.0, 0.16 * n_cols + 2.2), max(2.0, 0.22 * n_rows + 2.4)))
    image = ax.imshow(
        np.ma.masked_invalid(spec.matrix),
        cmap=_cmap(spec.scale),
        aspect="auto",
        vmin=spec.scale.vmin,
        vmax=spec.scale.vmax,
        interpolation="nearest",
    )
    ax.set_xticks(range(n_cols), spec.col_names, rotation=90 if spec.rotate_cols else 0, fontsize=6)
    ax.set_yticks(range(n_rows), spec.row_labels, fontsize=7)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(spec.title, loc="left")
    bar = fig.colorbar(image, ax=ax, fraction=0.025, pad=0.01)
    bar.set_label(
        f"{spec.measure} (0 = {spec.scale.low_label}, {spec.scale.vmax:g} = "
        f"{spec.scale.high_label})",
        fontsize=6,
    )
    return fig


def _draw_bars(spec: Bars, ax=None):  # type: ignore[no-untyped-def]
    import matplotlib.pyplot as plt

    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.0, max(1.5, 0.22 * len(spec.labels) + 0.8)))
    y = np.arange(len(spec.labels))
    values = np.nan_to_num(np.asarray(spec.values, dtype=float))
    xerr = None
    if spec.lo is not None and spec.hi is not None:
        lo, hi = np.asarray(spec.lo, dtype=float), np.asarray(spec.hi, dtype=float)
        xerr = np.nan_to_num(np.vstack([values - lo, hi - values]).clip(min=0))
    ax.barh(y, values, color=spec.color, xerr=xerr, error_kw={"elinewidth": 0.8, "capsize": 2})
    ax.set_yticks(y, spec.labels)
    ax.invert_yaxis()
    ax.set_xlim(0, spec.vmax)
    ax.set_xlabel(spec.measure)
    ax.set_title(spec.title, loc="left")
    return fig if fig is not None else ax.figure


def _draw_stacked(spec: StackedBars):  # type: ignore[no-untyped-def]
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, max(1.5, 0.22 * len(spec.labels) + 1.0)))
    y = np.arange(len(spec.labels))
    left = np.zeros(len(spec.labels))
    for name, color, values in spec.segments:
        ax.barh(y, values, left=left, color=color, label=name)
        left += np.asarray(values, dtype=float)
    ax.set_yticks(y, spec.labels)
    ax.invert_yaxis()
    ax.set_xlabel(spec.measure)
    ax.set_title(spec.title, loc="left")
    ax.legend(frameon=False, fontsize=6, loc="lower right")
    return fig


def _draw_dots(spec: DotPlot):  # type: ignore[no-untyped-def]
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, max(1.5, 0.24 * len(spec.labels) + 1.0)))
    y = np.arange(len(spec.labels))
    for name, color, values in spec.series:
        ax.scatter(values, y, color=color, label=name, s=18, zorder=3)
    ax.set_yticks(y, spec.labels)
    ax.invert_yaxis()
    ax.set_xlim(spec.vmin, spec.vmax)
    ax.grid(axis="x", linewidth=0.4, alpha=0.6)
    ax.set_xlabel(spec.measure)
    ax.set_title(spec.title, loc="left")
    ax.legend(frameon=False, fontsize=6, loc="best")
    return fig


def _draw_ranking_grid(spec: RankingGrid):  # type: ignore[no-untyped-def]
    import matplotlib.pyplot as plt

    n = len(spec.groups)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    k = max((len(top.values) + len(bottom.values) for _, top, bottom in spec.groups), default=1)
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.2 * cols, (0.16 * k + 0.9) * rows), squeeze=False
    )
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    for ax, (label, top, bottom) in zip(axes.ravel(), spec.groups, strict=False):
        names = top.labels + bottom.labels
        values = top.values + bottom.values
        colors = [top.color] * len(top.values) + [bottom.color] * len(bottom.values)
        y = np.arange(len(names))
        ax.barh(y, values, color=colors)
        ax.axhline(len(top.values) - 0.5, color="#9aa3ad", linewidth=0.6, linestyle="--")
        ax.set_yticks(y, names, fontsize=5)
        ax.invert_yaxis()
        ax.set_xlim(0, top.vmax)
        ax.tick_params(axis="x", labelsize=5)
        ax.set_title(label, fontsize=7, loc="left")
    fig.suptitle(spec.title, x=0.01, ha="left")
    fig.tight_layout()
    return fig
