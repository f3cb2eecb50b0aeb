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


@dataclass(frozen=True)
class HeatmapLayout:
    """Pixel geometry of a heatmap."""

    width: float
    height: float
    cells: list[Cell]
    row_labels: list[Label]
    col_labels: list[Label]
    bands: list[Cell]
    band_labels: list[Label]
    col_angle: float


def heatmap_layout(spec: Heatmap, cell_w: float = 17.0, cell_h: float = 18.0) -> HeatmapLayout:
    """Place cells, row labels, rotated column labels and the value-type band on top."""
    gutter = max(48.0, max((text_px(t) for t in spec.row_labels), default=0) + 12)
    band_h = 16.0 if spec.col_groups else 0.0
    top = band_h + 6
    angle = 60.0 if spec.rotate_cols else 0.0
    longest = max((text_px(c) for c in spec.col_names), default=0)
    bottom = (longest * math.sin(math.radians(angle)) + 14) if spec.rotate_cols else 22
    n_rows, n_cols = spec.matrix.shape
    width = gutter + n_cols * cell_w + 8
    height = top + n_rows * cell_h + bottom
    cells = []
    for i, (row, row_name) in enumerate(zip(spec.matrix, spec.row_names, strict=True)):
        for j, value in enumerate(row):
            title = f"{row_name} · {spec.col_names[j]}\n{spec.measure}: {_fmt(float(value))}"
            cells.append(
                Cell(
                    gutter + j * cell_w,
                    top + i * cell_h,
                    cell_w - 1,
                    cell_h - 1,
                    spec.scale.color(float(value)),
                    title,
                )
            )
    row_labels = [
        Label(gutter - 6, top + i * cell_h + cell_h * 0.68, label, name)
        for i, (label, name) in enumerate(zip(spec.row_labels, spec.row_names, strict=True))
    ]
    y0 = top + n_rows * cell_h + 6
    col_labels = [
        Label(gutter + j * cell_w + cell_w * 0.6, y0, name, name)
        for j, name in enumerate(spec.col_names)
    ]
    bands, band_labels = _group_bands(spec.col_groups, gutter, cell_w, band_h)
    return HeatmapLayout(width, height, cells, row_labels, col_labels, bands, band_labels, -angle)


def _group_bands(
    groups: list[str], x0: float, cell_w: float, band_h: float
) -> tuple[list[Cell], list[Label]]:
    bands: list[Cell] = []
    labels: list[Label] = []
    start = 0
    for j in range(1, len(groups) + 1):
        if j < len(groups) and groups[j] == groups[start]:
            continue
        x, w = x0 + start * cell_w, (j - start) * cell_w - 1
        fill = "#e7ebf0" if len(bands) % 2 == 0 else "#cfd6df"
        bands.append(Cell(x, 0, w, band_h, fill, groups[start]))
        fits = max(1, int((w - 4) / (0.58 * 9.5)))
        text = (
            groups[start] if len(groups[start]) <= fits else groups[start][: max(1, fits - 1)] + "…"
        )
        labels.append(Label(x + w / 2, band_h * 0.72, text, groups[start], "middle"))
        start = j
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
