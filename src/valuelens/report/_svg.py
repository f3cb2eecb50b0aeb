"""Pixel geometry of the report's inline SVG figures, drawn by `templates/charts.html.j2`.

Each `*_layout` function turns a figure spec (`_figures`) into rectangles, labels and ticks;
the Jinja macros only place them (autoescaped, so names from run files are safe).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from valuelens.metrics import format_number
from valuelens.report._figures import (
    FONT_PX,
    Bars,
    ColorScale,
    DotPlot,
    Heatmap,
    StackedBars,
)


def text_px(text: str, size: float = FONT_PX) -> float:
    """Rough rendered width of a label in a sans-serif font (for margins only)."""
    return 0.58 * size * len(text)


def nice_step(vmax: float, max_ticks: int = 5) -> float:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) giving at most `max_ticks` steps."""
    if not math.isfinite(vmax) or vmax <= 0:
        return 0.25
    power = 10 ** math.floor(math.log10(vmax / max_ticks))
    return float(next(m * power for m in (1, 2, 2.5, 5, 10) if vmax / (m * power) <= max_ticks))


def nice_max(vmax: float) -> float:
    """`vmax` rounded up to the next tick step."""
    step = nice_step(vmax)
    return max(step, math.ceil(vmax / step - 1e-9) * step) if math.isfinite(vmax) else 1.0


def nice_ticks(vmax: float) -> list[float]:
    """Ticks from 0 to `vmax` at a round step."""
    step = nice_step(vmax)
    return [i * step for i in range(round(vmax / step) + 1) if i * step <= vmax + 1e-9]


def _fmt(x: float, digits: int = 3) -> str:
    return format_number(x, f".{digits}f", missing="n/a")


@dataclass(frozen=True)
class Cell:
    """A coloured rectangle with its hover text."""

    x: float
    y: float
    w: float
    h: float
    fill: str
    title: str


@dataclass(frozen=True)
class Label:
    """A text label at (x, y); `title` is the hover text, `anchor` the SVG text-anchor."""

    x: float
    y: float
    text: str
    title: str = ""
    anchor: str = "end"


BAND_FONT_PX = 9.5
# Heatmap cells grow for small grids (a 1 x 6 run should not be a stamp in a wide card), up to
# a size where a cell still reads as a cell; a value-type label is never cut short.
_TARGET_W, _TARGET_H = 720.0, 300.0
_MIN_CELL_W, _MAX_CELL_W, _MAX_AUTO_CELL_W = 17.0, 56.0, 96.0
_MIN_CELL_H, _MAX_CELL_H = 18.0, 34.0
_MAX_WIDE_W = 1100.0
_BAND_H = 16.0
_ROTATED_BAND_H = 8.0
_BAND_ANGLE = 60.0


@dataclass(frozen=True)
class HeatmapLayout:
    """Pixel geometry of a heatmap.

    `band_angle` is 0 when every value-type label fits inside its band, else the labels stand
    rotated above the bands (read upwards at that angle), always in full.
    """

    width: float
    height: float
    cells: list[Cell]
    row_labels: list[Label]
    col_labels: list[Label]
    bands: list[Cell]
    band_labels: list[Label]
    col_angle: float
    band_angle: float = 0.0


def _group_runs(groups: list[str]) -> list[tuple[str, int, int]]:
    """Consecutive runs of equal groups as (name, first column, number of columns)."""
    runs: list[tuple[str, int, int]] = []
    for j, name in enumerate(groups):
        if runs and runs[-1][0] == name:
            runs[-1] = (name, runs[-1][1], runs[-1][2] + 1)
        else:
            runs.append((name, j, 1))
    return runs


def _band_label_fits(name: str, n_cols: int, cell_w: float) -> bool:
    return text_px(name, BAND_FONT_PX) + 6 <= n_cols * cell_w - 1


def _auto_cell_w(n_cols: int, runs: list[tuple[str, int, int]]) -> float:
    """Wide enough to fill a card for a few columns and, where it stays compact, for the labels."""
    target = min(_MAX_CELL_W, max(_MIN_CELL_W, _TARGET_W / max(n_cols, 1)))
    need = max(((text_px(name, BAND_FONT_PX) + 8) / count for name, _, count in runs), default=0)
    if target < need <= _MAX_AUTO_CELL_W and n_cols * need <= _MAX_WIDE_W:
        return need
    return target


def heatmap_layout(
    spec: Heatmap, cell_w: float | None = None, cell_h: float | None = None
) -> HeatmapLayout:
    """Place cells, row labels, rotated column labels and the value-type band on top.

    Args:
        spec: the figure.
        cell_w: cell width in pixels; by default it grows for few columns (see `_auto_cell_w`).
        cell_h: cell height in pixels; by default it grows for few rows.
    """
    n_rows, n_cols = spec.matrix.shape
    runs = _group_runs(spec.col_groups)
    w = cell_w if cell_w is not None else _auto_cell_w(n_cols, runs)
    h = (
        cell_h
        if cell_h is not None
        else min(_MAX_CELL_H, max(_MIN_CELL_H, _TARGET_H / max(n_rows, 1)))
    )
    rotated = not all(_band_label_fits(name, count, w) for name, _, count in runs)
    longest_band = max((text_px(name, BAND_FONT_PX) for name, _, _ in runs), default=0.0)
    band_angle = _BAND_ANGLE if rotated else 0.0
    band_h = (_ROTATED_BAND_H if rotated else _BAND_H) if runs else 0.0
    band_top = longest_band * math.sin(math.radians(band_angle)) + 6 if rotated else 0.0
    top = band_top + band_h + 6
    angle = 60.0 if spec.rotate_cols else 0.0
    col_px = [text_px(c) for c in spec.col_names]
    gutter = max(48.0, max((text_px(t) for t in spec.row_labels), default=0) + 12)
    if spec.rotate_cols:  # the first columns' slanted labels reach left of the cells
        cos = math.cos(math.radians(angle))
        gutter = max(gutter, *(px * cos - (j + 0.6) * w + 4 for j, px in enumerate(col_px)))
    bottom = (
        (max(col_px, default=0) * math.sin(math.radians(angle)) + 14) if spec.rotate_cols else 22
    )
    right = longest_band * math.cos(math.radians(band_angle)) if rotated else 0.0
    width = gutter + n_cols * w + 8 + right
    height = top + n_rows * h + bottom
    cells = []
    for i, (row, row_name) in enumerate(zip(spec.matrix, spec.row_names, strict=True)):
        for j, value in enumerate(row):
            title = f"{row_name} · {spec.col_names[j]}\n{spec.measure}: {_fmt(float(value))}"
            cells.append(
                Cell(
                    gutter + j * w, top + i * h, w - 1, h - 1, spec.scale.color(float(value)), title
                )
            )
    row_labels = [
        Label(gutter - 6, top + i * h + h * 0.5 + 4, label, name)
        for i, (label, name) in enumerate(zip(spec.row_labels, spec.row_names, strict=True))
    ]
    y0 = top + n_rows * h + 6
    col_labels = [
        Label(gutter + j * w + w * 0.6, y0, name, name) for j, name in enumerate(spec.col_names)
    ]
    bands, band_labels = _group_bands(runs, gutter, w, band_top, band_h, rotated)
    return HeatmapLayout(
        width, height, cells, row_labels, col_labels, bands, band_labels, -angle, -band_angle
    )


def _group_bands(
    runs: list[tuple[str, int, int]],
    x0: float,
    cell_w: float,
    y: float,
    band_h: float,
    rotated: bool,
) -> tuple[list[Cell], list[Label]]:
    """One shaded band per run of a value type, with its full name inside or rotated above."""
    bands: list[Cell] = []
    labels: list[Label] = []
    for k, (name, start, count) in enumerate(runs):
        x, w = x0 + start * cell_w, count * cell_w - 1
        fill = "#e7ebf0" if k % 2 == 0 else "#cfd6df"
        bands.append(Cell(x, y, w, band_h, fill, name))
        if rotated:
            labels.append(Label(x + w / 2, y - 3, name, name, "start"))
        else:
            labels.append(Label(x + w / 2, y + band_h * 0.72, name, name, "middle"))
    return bands, labels


@dataclass(frozen=True)
class BarRow:
    """One bar with its label, value text and optional interval."""

    y: float
    label: Label
    x: float
    w: float
    fill: str
    value_text: Label
    title: str
    ci: tuple[float, float] | None = None


@dataclass(frozen=True)
class BarsLayout:
    """Pixel geometry of a horizontal bar chart."""

    width: float
    height: float
    row_h: float
    bar_h: float
    rows: list[BarRow]
    axis_x0: float
    ticks: list[Label]


def bars_layout(spec: Bars, plot_w: float = 300.0, row_h: float = 20.0) -> BarsLayout:
    """Place one bar per label, scaled to [0, vmax], with value text after the bar."""
    gutter = max(40.0, max((text_px(t) for t in spec.labels), default=0) + 12)
    scale = plot_w / (spec.vmax or 1.0)
    rows = []
    for i, (label, name, value) in enumerate(
        zip(spec.labels, spec.names, spec.values, strict=True)
    ):
        v = value if math.isfinite(value) else 0.0
        y = 4 + i * row_h
        ci = None
        title = f"{name}: {spec.measure} {_fmt(value)}"
        if spec.lo is not None and spec.hi is not None and math.isfinite(spec.lo[i]):
            ci = (gutter + spec.lo[i] * scale, gutter + spec.hi[i] * scale)
            title += f" (95% CI {_fmt(spec.lo[i])} to {_fmt(spec.hi[i])})"
        end = max(gutter + v * scale, ci[1] if ci else 0.0)
        rows.append(
            BarRow(
                y,
                Label(gutter - 6, y + row_h * 0.62, label, name),
                gutter,
                max(0.0, v * scale),
                spec.color,
                Label(end + 4, y + row_h * 0.62, _fmt(value), anchor="start"),
                title,
                ci,
            )
        )
    height = 4 + len(rows) * row_h + 18
    ticks = [
        Label(gutter + t * scale, height - 4, _fmt(t, 2), anchor="middle")
        for t in nice_ticks(spec.vmax)
    ]
    return BarsLayout(gutter + plot_w + 46, height, row_h, row_h * 0.7, rows, gutter, ticks)


@dataclass(frozen=True)
class StackedLayout:
    """Pixel geometry of stacked horizontal bars."""

    width: float
    height: float
    bar_h: float
    labels: list[Label]
    segments: list[Cell]
    totals: list[Label]


def stacked_layout(spec: StackedBars, plot_w: float = 300.0, row_h: float = 20.0) -> StackedLayout:
    """Place each label's segments end to end, scaled to the largest total."""
    gutter = max(40.0, max((text_px(t) for t in spec.labels), default=0) + 12)
    totals = [sum(seg[2][i] for seg in spec.segments) for i in range(len(spec.labels))]
    scale = plot_w / (max(totals, default=0) or 1.0)
    labels, segments, total_labels = [], [], []
    for i, (label, name) in enumerate(zip(spec.labels, spec.names, strict=True)):
        y = 4 + i * row_h
        labels.append(Label(gutter - 6, y + row_h * 0.62, label, name))
        x = gutter
        for seg_name, color, values in spec.segments:
            w = values[i] * scale
            segments.append(
                Cell(x, y, w, row_h * 0.7, color, f"{name} · {seg_name}: {values[i]:g}")
            )
            x += w
        total_labels.append(Label(x + 4, y + row_h * 0.62, f"{totals[i]:g}", anchor="start"))
    return StackedLayout(
        gutter + plot_w + 50,
        8 + len(spec.labels) * row_h,
        row_h * 0.7,
        labels,
        segments,
        total_labels,
    )


@dataclass(frozen=True)
class Dot:
    """One marker of a dot plot."""

    x: float
    y: float
    fill: str
    title: str


@dataclass(frozen=True)
class DotLayout:
    """Pixel geometry of a dot plot."""

    width: float
    height: float
    x0: float
    x1: float
    labels: list[Label]
    dots: list[Dot]
    grid: list[Label]
    row_lines: list[float]


def dot_layout(spec: DotPlot, plot_w: float = 360.0, row_h: float = 20.0) -> DotLayout:
    """Place one dot per series on each label's row, on a shared [vmin, vmax] axis."""
    gutter = max(40.0, max((text_px(t) for t in spec.labels), default=0) + 12)
    span = (spec.vmax - spec.vmin) or 1.0

    def xpos(v: float) -> float:
        return gutter + (v - spec.vmin) / span * plot_w

    labels, dots, row_lines = [], [], []
    for i, (label, name) in enumerate(zip(spec.labels, spec.names, strict=True)):
        y = 6 + i * row_h + row_h / 2
        labels.append(Label(gutter - 6, y + 4, label, name))
        row_lines.append(y)
        for series_name, color, values in spec.series:
            if math.isfinite(values[i]):
                dots.append(
                    Dot(
                        xpos(values[i]),
                        y,
                        color,
                        f"{name} · {series_name}: {spec.measure} {_fmt(values[i])}",
                    )
                )
    height = 6 + len(spec.labels) * row_h + 22
    grid = [
        Label(
            xpos(spec.vmin + t * span), height - 4, _fmt(spec.vmin + t * span, 2), anchor="middle"
        )
        for t in (0.0, 0.25, 0.5, 0.75, 1.0)
    ]
    return DotLayout(
        gutter + plot_w + 20, height, gutter, gutter + plot_w, labels, dots, grid, row_lines
    )


@dataclass(frozen=True)
class LegendLayout:
    """A colour bar with tick values and the meaning of both ends."""

    key: str
    stops: list[tuple[str, str]]  # (offset %, colour)
    ticks: list[Label]
    low: str
    high: str
    missing: bool


def legend_layout(
    scale: ColorScale, *, missing: bool = False, width: float = 200.0
) -> LegendLayout:
    """Gradient stops and ticks for the legend macro (the bar spans x = 18..218)."""
    stops = [(f"{p * 100:.0f}%", c) for p, c in scale.stops]
    span = (scale.vmax - scale.vmin) or 1.0
    ticks = [
        Label(18 + (t - scale.vmin) / span * width, 30, _fmt(t, 2), anchor="middle")
        for t in scale.ticks()
    ]
    return LegendLayout(scale.key, stops, ticks, scale.low_label, scale.high_label, missing)
