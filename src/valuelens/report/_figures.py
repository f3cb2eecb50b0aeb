"""Figures of the report, described once and drawn twice: inline SVG and matplotlib.

A figure is a small frozen spec (`Heatmap`, `Bars`, `StackedBars`, `DotPlot`, `RankingGrid`)
with its colour scale. `_svg` turns a spec into pixel geometry that the Jinja macros in
`templates/charts.html.j2` draw for the HTML page; `_draw` draws the same specs with matplotlib
as PNG and SVG files for papers (`--figures`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

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
