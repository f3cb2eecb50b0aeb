"""The report's figures as PNG (matplotlib) and SVG (the page's own drawing) for `report --figures`."""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from jinja2 import Template

from valuelens._rundir import write_text_atomic
from valuelens.report._charts import Chart, chart_for
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
from valuelens.report._svg import text_px

Progress = Callable[[int, int, str], None]
"""Called as (figures done, figures in all, key of the figure just written)."""


def print_progress(done: int, total: int, key: str) -> None:
    """Progress of `write_figures` on stderr, one line per figure."""
    print(f"figure {done}/{total}: {key}", file=sys.stderr, flush=True)


def write_figures(
    figures: Sequence[tuple[str, Figure]],
    out_dir: Path,
    progress: Progress | None = print_progress,
) -> list[Path]:
    """Write each (sub-folder, figure) as PNG and SVG under `out_dir`.

    The SVG file is the page's own drawing (`templates/figure.svg.j2`, no matplotlib); the PNG
    is drawn with matplotlib (Agg) once, with margins computed from the labels rather than
    measured by a second drawing (`bbox_inches="tight"` drew each figure twice per file, which
    made the 33 figures of two full runs take minutes).

    Args:
        figures: (folder, figure spec) pairs, as `build_page(...).figures` lists them.
        out_dir: the folder to write into (created as needed).
        progress: called as each figure is done (default: a line on stderr); None for silence.

    Returns:
        the written files, PNG and SVG for each figure.
    """
    written: list[Path] = []
    for done, (folder, figure) in enumerate(figures):
        target = out_dir / folder
        target.mkdir(parents=True, exist_ok=True)
        written += _write_one(figure, target)
        _report(progress, done + 1, len(figures), figure.key)
    return written


def _report(progress: Progress | None, done: int, total: int, key: str) -> None:
    if progress is not None:
        progress(done, total, key)


_RC: dict[str, Any] = {
    "font.size": 8,
    "svg.fonttype": "none",
    "figure.dpi": 100,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


@functools.cache
def _svg_template() -> Template:
    from valuelens.report._sections import report_environment

    return report_environment().get_template("figure.svg.j2")


def _write_one(figure: Figure, target: Path) -> list[Path]:
    """Draw one figure into `target` as `<key>.png` and `<key>.svg`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    png, svg_path = target / f"{figure.key}.png", target / f"{figure.key}.svg"
    with plt.rc_context(_RC):  # type: ignore[arg-type]
        drawn = _draw(figure)
        drawn.savefig(png, dpi=200)
    plt.close(drawn)
    chart = chart_for(figure)
    if chart is None:
        raise ValueError(f"no SVG drawing for figure {figure.key!r}")
    write_text_atomic(svg_path, _svg_template().render(doc=_svg_document(chart)))
    return [png, svg_path]


def _svg_document(chart: Chart) -> dict[str, object]:
    """Size and header (title, legend or series) of a figure's standalone SVG."""
    legend = chart.legend
    legend_x = text_px(legend.low) + 4 if legend else 0.0
    series = []
    x = 4.0
    for name, color in chart.series:
        series.append({"x": x, "name": name, "color": color})
        x += text_px(name) + 26
    header_w = max(
        text_px(chart.spec.title, 13) + 8,
        legend_x + 230 + text_px(legend.high) + 8 if legend else 0.0,
        x,
    )
    top = 64.0 if legend else (44.0 if series else 24.0)
    return {
        "chart": chart,
        "legend": legend,
        "legend_x": legend_x,
        "series": series,
        "top": top,
        "width": max(chart.layout.width, header_w),
        "height": top + chart.layout.height,
    }


def _label_in(labels: Sequence[str], points: float) -> float:
    """Inches the longest of `labels` takes at a font size (a sans-serif estimate)."""
    return max((len(t) for t in labels), default=0) * points * 0.6 / 72


def _fit(  # type: ignore[no-untyped-def]
    fig, plot_w: float, plot_h: float, *, left: float, bottom: float, right: float = 0.2
) -> None:
    """Size the figure around a plot area (inches) with margins computed, not measured.

    Measuring the labels (`bbox_inches="tight"`, `tight_layout`) costs a full extra drawing.
    """
    top = 0.4
    width, height = plot_w + left + right, plot_h + bottom + top
    fig.set_size_inches(width, height)
    fig.subplots_adjust(
        left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height
    )


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
    fig, ax = plt.subplots()
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
    bottom = _label_in(spec.col_names, 6) if spec.rotate_cols else 0.15
    _fit(
        fig,
        max(2.5, 0.16 * n_cols),
        max(1.0, 0.22 * n_rows),
        left=_label_in(spec.row_labels, 7) + 0.2,
        bottom=bottom + 0.2,
        right=1.0,
    )
    return fig


def _draw_bars(spec: Bars, ax=None):  # type: ignore[no-untyped-def]
    import matplotlib.pyplot as plt

    fig = None
    if ax is None:
        fig, ax = plt.subplots()
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
    if fig is None:
        return ax.figure
    _fit(fig, 3.6, 0.22 * len(spec.labels) + 0.2, left=_label_in(spec.labels, 8) + 0.2, bottom=0.5)
    return fig


def _draw_stacked(spec: StackedBars):  # type: ignore[no-untyped-def]
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
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
    _fit(fig, 4.0, 0.22 * len(spec.labels) + 0.3, left=_label_in(spec.labels, 8) + 0.2, bottom=0.5)
    return fig


def _draw_dots(spec: DotPlot):  # type: ignore[no-untyped-def]
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
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
    _fit(fig, 4.0, 0.24 * len(spec.labels) + 0.3, left=_label_in(spec.labels, 8) + 0.2, bottom=0.5)
    return fig


def _draw_ranking_grid(spec: RankingGrid):  # type: ignore[no-untyped-def]
    import matplotlib.pyplot as plt

    n = len(spec.groups)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    k = max((len(top.values) + len(bottom.values) for _, top, bottom in spec.groups), default=1)
    fig, axes = plt.subplots(rows, cols, squeeze=False)
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
    names = [n for _, top, bottom in spec.groups for n in top.labels + bottom.labels]
    label_w, plot_w, plot_h = _label_in(names, 5) + 0.15, 1.9, 0.16 * k + 0.2
    width = cols * (plot_w + label_w) + 0.2
    height = rows * (plot_h + 0.55) + 0.35
    fig.set_size_inches(width, height)
    fig.subplots_adjust(
        left=label_w / width,
        right=1 - 0.2 / width,
        bottom=0.3 / height,
        top=1 - 0.6 / height,
        wspace=label_w / plot_w,
        hspace=0.55 / plot_h,
    )
    return fig
