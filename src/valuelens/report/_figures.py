"""Figures of the report, described once and drawn twice: inline SVG and matplotlib.

The HTML page gets inline SVG; `--figures` gets PNG and SVG files for papers.

A figure is a small frozen spec (`Heatmap`, `Bars`, `StackedBars`, `DotPlot`, `RankingGrid`);
`*_layout` functions turn a spec into pixel geometry that the Jinja macros in
`templates/charts.html.j2` draw (autoescaped, so names from run files are safe), and
`write_figures` draws the same specs with matplotlib.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FONT_PX = 11
MISSING_FILL = "#e4e4e7"
SERIES_COLORS = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#7f7f7f",
    "#F0E442",
)
BAR_FILL = "#3b6ea5"
AGREE_NEG_FILL = "#c8553d"
DISAGREE_POS_FILL = "#4a90c2"


@dataclass(frozen=True)
class ColorScale:
    """A piecewise-linear colour scale over [vmin, vmax] with a word for each end."""

    key: str
    stops: tuple[tuple[float, str], ...]
    vmin: float
    vmax: float
    low_label: str
    high_label: str

    def color(self, x: float) -> str:
        """Hex colour of a value; NaN gets the 'no data' grey."""
        if x is None or not math.isfinite(x):
            return MISSING_FILL
        span = self.vmax - self.vmin or 1.0
        t = min(1.0, max(0.0, (x - self.vmin) / span))
        for (p0, c0), (p1, c1) in zip(self.stops, self.stops[1:], strict=False):
            if t <= p1:
                return _mix(c0, c1, (t - p0) / ((p1 - p0) or 1.0))
        return self.stops[-1][1]

    def ticks(self) -> list[float]:
        """Three legend ticks: both ends and the middle."""
        return [self.vmin, (self.vmin + self.vmax) / 2, self.vmax]


def _mix(a: str, b: str, t: float) -> str:
    ca = [int(a[i : i + 2], 16) for i in (1, 3, 5)]
    cb = [int(b[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(ca, cb, strict=True))


def polarity_scale(low: str, high: str, key: str = "polarity") -> ColorScale:
    """Diverging blue-white-red scale on 0..1 (0 = agree / positive, 1 = disagree / negative)."""
    stops = (
        (0.0, "#2166ac"),
        (0.25, "#92c5de"),
        (0.5, "#f7f7f7"),
        (0.75, "#f4a582"),
        (1.0, "#b2182b"),
    )
    return ColorScale(key, stops, 0.0, 1.0, low, high)


def distance_scale(vmax: float, key: str = "distance") -> ColorScale:
    """Sequential white-to-purple scale on 0..vmax for gaps (darker = larger gap)."""
    stops = (
        (0.0, "#fcfbfd"),
        (0.25, "#dadaeb"),
        (0.5, "#9e9ac8"),
        (0.75, "#6a51a3"),
        (1.0, "#3f007d"),
    )
    top = max(0.1, math.ceil(vmax * 10 - 1e-9) / 10) if math.isfinite(vmax) else 1.0
    return ColorScale(key, stops, 0.0, min(1.0, top), "no gap", "large gap")


def rate_scale(key: str = "rate") -> ColorScale:
    """Sequential scale on 0..1 for alignment rates (darker = better aligned)."""
    stops = ((0.0, "#f7fcf5"), (0.5, "#74c476"), (1.0, "#00441b"))
    return ColorScale(key, stops, 0.0, 1.0, "less aligned", "more aligned")


# --------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class Heatmap:
    """A rows x columns matrix coloured by `scale` (e.g. country x value distances)."""

    key: str
    title: str
    row_names: list[str]
    row_labels: list[str]
    col_names: list[str]
    matrix: np.ndarray
    scale: ColorScale
    measure: str
    col_groups: list[str] = field(default_factory=list)
    col_axis: str = "value"
    rotate_cols: bool = True


@dataclass(frozen=True)
class Bars:
    """Horizontal bars, one per label, optionally with a confidence interval."""

    key: str
    title: str
    labels: list[str]
    names: list[str]
    values: list[float]
    measure: str
    vmax: float = 1.0
    lo: list[float] | None = None
    hi: list[float] | None = None
    color: str = BAR_FILL


@dataclass(frozen=True)
class StackedBars:
    """Horizontal stacked bars (e.g. misaligned pairs split by direction)."""

    key: str
    title: str
    labels: list[str]
    names: list[str]
    segments: list[tuple[str, str, list[float]]]  # (name, colour, values)
    measure: str


@dataclass(frozen=True)
class DotPlot:
    """One row per label and one coloured dot per series (runs compared per country)."""

    key: str
    title: str
    labels: list[str]
    names: list[str]
    series: list[tuple[str, str, list[float]]]  # (name, colour, values)
    measure: str
    vmin: float = 0.0
    vmax: float = 1.0


@dataclass(frozen=True)
class RankingGrid:
    """Small multiples: for each group (a country or topic), its top-k and bottom-k values."""

    key: str
    title: str
    groups: list[tuple[str, Bars, Bars]]  # (group label, largest gaps, smallest gaps)


Figure = Heatmap | Bars | StackedBars | DotPlot | RankingGrid


# --------------------------------------------------------------------------- SVG layout


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
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


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


# --------------------------------------------------------------------------- matplotlib


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
