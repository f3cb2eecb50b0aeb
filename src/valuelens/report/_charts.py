"""Chart views shared by the report's sections: a figure spec with its SVG layout.

Each section builds `Chart`s and registers their figures with a `Keep` so that `--figures` writes
the same figures as PNG and SVG.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np
import pandas as pd

from valuelens.report import _figures as fig
from valuelens.report import _svg as svg
from valuelens.report._format import axis_labels
from valuelens.taxonomy import Taxonomy

PLURAL = {"country": "Countries", "topic": "Topics", "scenario": "Scenarios"}


@dataclass
class Chart:
    """A figure with its SVG layout and legend, as the chart macros expect."""

    kind: str
    spec: fig.Figure
    layout: Layout
    legend: svg.LegendLayout | None = None
    series: list[tuple[str, str]] = field(default_factory=list)  # (name, colour) for HTML legends


Layout: TypeAlias = (
    "svg.BarsLayout | svg.HeatmapLayout | svg.StackedLayout | svg.DotLayout | GridLayout"
)
"""The pixel geometry of any chart the macros draw."""

Keep = Callable[[Chart], Chart]
"""Registers a chart's figure for `--figures` and returns the chart."""


def keeper(figures: list[tuple[str, fig.Figure]], folder: str) -> Keep:
    """A `Keep` that registers figures under one run's folder."""

    def keep(chart: Chart) -> Chart:
        figures.append((folder, chart.spec))
        return chart

    return keep


def rate_bars(
    key: str, axis: str, names: Sequence[str], labels: Sequence[str], rates: Sequence[float]
) -> Chart:
    """Alignment rates by `axis` as bars, highest first (missing rates last)."""
    order = sorted(range(len(names)), key=lambda i: -rates[i] if math.isfinite(rates[i]) else 1)
    spec = fig.Bars(
        key,
        f"Alignment rate by {axis}",
        [labels[i] for i in order],
        [names[i] for i in order],
        [rates[i] for i in order],
        "alignment rate (F1)",
    )
    return Chart("bars", spec, svg.bars_layout(spec))


def _matrix(
    table: pd.DataFrame, axis: str, column: str, rows: list[str], cols: list[str]
) -> np.ndarray:
    wide = table.groupby([axis, "value"])[column].mean().unstack()
    return wide.reindex(index=rows, columns=cols).to_numpy(dtype=float)


def value_heatmaps(
    table: pd.DataFrame,
    axis: str,
    key: str,
    measures: Iterable[tuple[str, str, str, fig.ColorScale]],
    rows: list[str],
    cols: list[str],
    taxonomy: Taxonomy,
    keep: Keep,
) -> list[Chart]:
    """An `axis` × value heatmap per measure (column, title, description, scale) in `table`."""
    groups = [taxonomy.value_type(v) for v in cols]
    charts = []
    for column, title, measure, scale in measures:
        if column not in table.columns:
            continue
        spec = fig.Heatmap(
            f"{key}_{axis}_{column}",
            f"{title}: {axis} × value",
            rows,
            axis_labels(taxonomy, axis, rows),
            cols,
            _matrix(table, axis, column, rows, cols),
            scale,
            measure,
            groups if any(groups) else [],
        )
        legend = svg.legend_layout(spec.scale, missing=bool(np.isnan(spec.matrix).any()))
        charts.append(keep(Chart("heatmap", spec, svg.heatmap_layout(spec), legend)))
    return charts


def distance_ranking(
    table: pd.DataFrame, axis: str, key: str, title: str, taxonomy: Taxonomy
) -> Chart:
    """The names on `axis` as bars of their mean distance, largest first."""
    means = table.groupby(axis, sort=False)["distance"].mean().sort_values(ascending=False)
    names = [str(n) for n in means.index]
    spec = fig.Bars(
        key,
        title,
        axis_labels(taxonomy, axis, names),
        names,
        [float(v) for v in means],
        "mean distance",
        vmax=nice_max(float(means.max())),  # no rows: NaN, hence 1
        color="#6a51a3",
    )
    return Chart("bars", spec, svg.bars_layout(spec))


@dataclass(frozen=True)
class Panel:
    """One small multiple of a ranking grid: its label and its two bar charts, at (x, y)."""

    x: float
    y: float
    label: str
    top: Chart
    bottom: Chart


@dataclass(frozen=True)
class GridLayout:
    """Pixel geometry of a ranking grid (small multiples, four to a row)."""

    width: float
    height: float
    panels: list[Panel]


def ranking_grid_layout(spec: fig.RankingGrid, columns: int = 4) -> GridLayout:
    """Small multiples of the largest and smallest gaps, each pair of bar charts in a panel."""
    charts = [
        (
            label,
            Chart("bars", top, svg.bars_layout(top, plot_w=150.0)),
            Chart("bars", bottom, svg.bars_layout(bottom, plot_w=150.0)),
        )
        for label, top, bottom in spec.groups
    ]
    panel_w = max((max(t.layout.width, b.layout.width) for _, t, b in charts), default=0.0) + 16
    panel_h = max((16 + t.layout.height + b.layout.height for _, t, b in charts), default=0.0) + 12
    panels = [
        Panel((i % columns) * panel_w, (i // columns) * panel_h, label, top, bottom)
        for i, (label, top, bottom) in enumerate(charts)
    ]
    n_cols = min(columns, len(panels))
    return GridLayout(n_cols * panel_w, math.ceil(len(panels) / columns) * panel_h, panels)


def chart_for(spec: fig.Figure) -> Chart | None:
    """The chart (layout, legend, series) of a figure spec, for the standalone SVG files."""
    if isinstance(spec, fig.Heatmap):
        legend = svg.legend_layout(spec.scale, missing=bool(np.isnan(spec.matrix).any()))
        return Chart("heatmap", spec, svg.heatmap_layout(spec), legend)
    if isinstance(spec, fig.Bars):
        return Chart("bars", spec, svg.bars_layout(spec))
    if isinstance(spec, fig.StackedBars):
        series = [(name, color) for name, color, _ in spec.segments]
        return Chart("stacked", spec, svg.stacked_layout(spec), series=series)
    if isinstance(spec, fig.DotPlot):
        series = [(name, color) for name, color, _ in spec.series]
        return Chart("dots", spec, svg.dot_layout(spec), series=series)
    if isinstance(spec, fig.RankingGrid):
        return Chart("grid", spec, ranking_grid_layout(spec))
    return None


def nice_max(x: float) -> float:
    """A round axis maximum for `x` (1 when `x` is not a positive number)."""
    return svg.nice_max(x) if math.isfinite(x) and x > 0 else 1.0
