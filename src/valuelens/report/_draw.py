"""The report's figures as PNG (matplotlib) and SVG (the page's own drawing) for `report --figures`.

Two full runs give 33 figures; drawing them the plain matplotlib way took half a minute, most of
it in tick objects and in matplotlib's per-glyph text rendering. Here each figure is drawn once
with computed margins, labels are plain text artists (no ticks), every distinct label is
rasterized once per process (`_canvas_class`), figures can be drawn by a pool of processes
(`workers`), and a figure whose spec and drawing code are unchanged since the last
export (the manifest `figures-manifest.json` next to the figures) is not drawn again.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from contextvars import ContextVar
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.colors import Colormap
    from matplotlib.figure import Figure as MplFigure

Progress = Callable[[int, int, str], None]
"""Called as (figures done, figures in all, key of the figure just written or kept)."""

MANIFEST = "figures-manifest.json"
PNG_DPI = 200
_MANIFEST_VERSION = 1
_MIN_FOR_POOL = 6  # below this many figures to draw, starting processes costs more than it saves


@dataclass
class FigureExport:
    """What one `write_figures` call did: `drawn` figures were rendered, `unchanged` kept."""

    progress: Progress | None = None
    total: int = 0
    drawn: int = 0
    unchanged: int = 0
    seconds: float = 0.0


_ACTIVE: ContextVar[FigureExport | None] = ContextVar("valuelens_figure_export", default=None)


@contextlib.contextmanager
def figure_progress(progress: Progress | None) -> Iterator[FigureExport]:
    """Report the progress of every `write_figures` call inside the block to `progress`.

    This is how the CLI shows a progress bar for the figures `render_report` writes. The
    yielded `FigureExport` holds the counts of the last export when the block ends.
    """
    export = FigureExport(progress)
    token = _ACTIVE.set(export)
    try:
        yield export
    finally:
        _ACTIVE.reset(token)


def write_figures(
    figures: Sequence[tuple[str, Figure]],
    out_dir: Path,
    progress: Progress | None = None,
    *,
    workers: int = 1,
) -> list[Path]:
    """Write each (sub-folder, figure) as PNG and SVG under `out_dir`.

    The SVG file is the page's own drawing (`templates/figure.svg.j2`, no matplotlib); the PNG
    is drawn with matplotlib (Agg). A figure whose files are still those the manifest records
    for the same spec and drawing code is kept as it is, so a rerun on unchanged runs is instant.

    Args:
        figures: (folder, figure spec) pairs, as `build_page(...).figures` lists them.
        out_dir: the folder to write into (created as needed).
        progress: called after each figure, drawn or kept; by default the callback of an
            enclosing `figure_progress` block, if any.
        workers: processes that draw (Linux, six figures or more, no other thread running;
            else one). Default 1: on a shared 2-core machine a pool of two cost 50% more CPU
            and was slower (benchmarks/bench_figures.py); on idle cores it can be faster.

    Returns:
        the PNG and SVG file of each figure.
    """
    start = time.perf_counter()
    export = _ACTIVE.get() or FigureExport()
    report = progress if progress is not None else export.progress
    manifest = _read_manifest(out_dir)
    jobs = [(folder, figure, _fingerprint(figure)) for folder, figure in figures]
    todo = [job for job in jobs if not _is_current(manifest, out_dir, job[0], job[1].key, job[2])]
    _forget(manifest, out_dir, todo)  # a kill while drawing must not leave stale entries
    drawing = {id(job[1]) for job in todo}
    done = 0
    for _, figure, _ in jobs:
        if id(figure) not in drawing:
            done += 1
            _report(report, done, len(jobs), figure.key)
    for folder, figure, digest in _draw_all(todo, out_dir, workers):
        manifest[_entry(folder, figure.key)] = _record(out_dir, folder, figure.key, digest)
        done += 1
        _report(report, done, len(jobs), figure.key)
    if todo:
        _write_manifest(out_dir, manifest)
    export.total, export.drawn = len(jobs), len(todo)
    export.unchanged, export.seconds = len(jobs) - len(todo), time.perf_counter() - start
    return [out_dir / folder / f"{f.key}.{ext}" for folder, f, _ in jobs for ext in ("png", "svg")]


def _report(progress: Progress | None, done: int, total: int, key: str) -> None:
    if progress is not None:
        progress(done, total, key)


Job = tuple[str, Figure, str]


def _draw_all(todo: list[Job], out_dir: Path, workers: int) -> Iterator[Job]:
    """Draw each job's files, in a process pool when that pays; yields jobs as they finish."""
    count = min(workers, _cpus(), len(todo))
    context = _pool_context()
    if count < 2 or len(todo) < _MIN_FOR_POOL or context is None:
        for job in todo:
            write_one(job[1], out_dir / job[0])
            yield job
        return
    _warm_up()  # forked workers inherit what it loaded instead of loading it each
    heaviest_first = sorted(todo, key=lambda job: -_weight(job[1]))
    with _pool(count, context) as pool:
        futures = {pool.submit(write_one, job[1], out_dir / job[0]): job for job in heaviest_first}
        for future in as_completed(futures):
            future.result()
            yield futures[future]


def _warm_up() -> None:
    """Load matplotlib, the fonts and the SVG template by drawing a tiny figure."""
    _svg_template()
    plt = _load_matplotlib()
    with plt.rc_context(_RC):
        figure = _new_figure()
        figure.text(0.5, 0.5, "Warm-up")
        figure.canvas.draw()


def _cpus() -> int:
    """CPUs this process may run on (its affinity, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _pool_context() -> Any:
    """A fork context when forking is safe here (Linux, no other thread running), else None.

    Fork starts a worker in milliseconds with matplotlib already loaded; spawn would import it
    again in each worker, which costs about as much as the drawing saves.
    """
    if not sys.platform.startswith("linux"):  # macOS system libraries are not fork-safe
        return None
    if threading.active_count() > 1:  # a forked copy of a lock held by another thread hangs
        return None
    return multiprocessing.get_context("fork")


def _pool(count: int, context: Any) -> Executor:
    return ProcessPoolExecutor(max_workers=count, mp_context=context)


def _weight(figure: Figure) -> int:
    """Rough drawing cost: the number of labels."""
    if isinstance(figure, RankingGrid):
        return sum(len(top.labels) + len(bottom.labels) for _, top, bottom in figure.groups)
    if isinstance(figure, Heatmap):
        return len(figure.row_labels) + len(figure.col_names)
    return len(figure.labels)


# --- the manifest: which spec each figure's files were drawn from -------------------------------


def _entry(folder: str, key: str) -> str:
    return f"{folder}/{key}"


def _read_manifest(out_dir: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != _MANIFEST_VERSION:
        return {}
    entries = data.get("figures")
    return dict(entries) if isinstance(entries, dict) else {}


def _write_manifest(out_dir: Path, manifest: dict[str, dict[str, object]]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    document = {"version": _MANIFEST_VERSION, "figures": dict(sorted(manifest.items()))}
    write_text_atomic(out_dir / MANIFEST, json.dumps(document, indent=1) + "\n")


def _record(out_dir: Path, folder: str, key: str, digest: str) -> dict[str, object]:
    sizes = {ext: (out_dir / folder / f"{key}.{ext}").stat().st_size for ext in ("png", "svg")}
    return {"spec": digest, "png_bytes": sizes["png"], "svg_bytes": sizes["svg"]}


def _is_current(
    manifest: dict[str, dict[str, object]], out_dir: Path, folder: str, key: str, digest: str
) -> bool:
    """Whether the files on disk are those drawn from this spec (same digest, same sizes)."""
    entry = manifest.get(_entry(folder, key))
    if not entry or entry.get("spec") != digest:
        return False
    for ext in ("png", "svg"):
        try:
            if (out_dir / folder / f"{key}.{ext}").stat().st_size != entry.get(f"{ext}_bytes"):
                return False
        except OSError:
            return False
    return True


def _forget(manifest: dict[str, dict[str, object]], out_dir: Path, todo: list[Job]) -> None:
    stale = [_entry(folder, figure.key) for folder, figure, _ in todo]
    if any(name in manifest for name in stale):
        for name in stale:
            manifest.pop(name, None)
        _write_manifest(out_dir, manifest)


def _fingerprint(figure: Figure) -> str:
    """A digest of everything a figure's files depend on: its spec and the drawing code."""
    digest = hashlib.sha256(_code_version().encode())
    _feed(digest, figure)
    return digest.hexdigest()


def _feed(digest: Any, item: object) -> None:
    """Hash `item` by content: dataclasses by field, arrays by bytes, floats exactly."""
    if is_dataclass(item) and not isinstance(item, type):
        digest.update(f"<{type(item).__name__}".encode())
        for part in fields(item):
            digest.update(part.name.encode())
            _feed(digest, getattr(item, part.name))
    elif isinstance(item, np.ndarray):
        digest.update(f"<array {item.dtype.str} {item.shape}".encode())
        digest.update(np.ascontiguousarray(item).tobytes())
    elif isinstance(item, list | tuple):
        digest.update(f"<seq {len(item)}".encode())
        for part in item:
            _feed(digest, part)
    elif isinstance(item, float):
        digest.update(f"<f {item.hex()}".encode())
    else:
        digest.update(f"<{type(item).__name__} {item!r}".encode())


@functools.cache
def _code_version() -> str:
    """The drawing code's own fingerprint: these modules, the SVG templates, matplotlib."""
    import matplotlib

    from valuelens.report import _charts, _figures, _svg

    here = Path(__file__).resolve()
    templates = here.parent / "templates"
    sources = [
        here,
        Path(_charts.__file__),
        Path(_figures.__file__),
        Path(_svg.__file__),
        templates / "figure.svg.j2",
        templates / "charts.html.j2",
    ]
    digest = hashlib.sha256(f"matplotlib {matplotlib.__version__} dpi {PNG_DPI}".encode())
    for source in sources:
        digest.update(source.read_bytes())
    return digest.hexdigest()


# --- one figure: the SVG from the page's drawing, the PNG from matplotlib ----------------------


_RC: dict[str, Any] = {
    "font.size": 8,
    "svg.fonttype": "none",
    "figure.dpi": 100,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_LABEL_PAD = 3.5  # points between an axis and its labels, matplotlib's tick label padding


@functools.cache
def _svg_template() -> Template:
    from valuelens.report._sections import report_environment

    return report_environment().get_template("figure.svg.j2")


def write_one(figure: Figure, target: Path) -> list[Path]:
    """Draw one figure into `target` as `<key>.png` and `<key>.svg`."""
    chart = chart_for(figure)
    if chart is None:
        raise ValueError(f"no SVG drawing for figure {figure.key!r}")
    target.mkdir(parents=True, exist_ok=True)
    png, svg_path = target / f"{figure.key}.png", target / f"{figure.key}.svg"
    plt = _load_matplotlib()
    with plt.rc_context(_RC):
        drawn = _draw(figure)
        # zlib's fastest level: files about 2% larger, encoding about twice as fast
        drawn.savefig(png, dpi=PNG_DPI, pil_kwargs={"compress_level": 1})
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


@functools.cache
def _load_matplotlib() -> Any:
    """The pyplot module on the Agg backend (only its `rc_context` is used; figures bypass pyplot)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@functools.cache
def _canvas_class() -> Any:
    """An Agg canvas whose renderer rasterizes each distinct label once per process.

    matplotlib 3.11 lays out and renders text glyph by glyph in Python, which made labels most
    of the drawing time; the figures repeat the same 56 value names, countries and topics, so a
    label is shaped once (the whole string as one bitmap, as matplotlib < 3.11 drew it) and the
    bitmap is reused wherever and whenever it is drawn again.
    """
    from matplotlib.backends import backend_agg

    agg: Any = backend_agg
    bitmaps: dict[tuple[object, ...], tuple[np.ndarray, float, float, float]] = {}
    metrics: dict[tuple[object, ...], tuple[float, float, float]] = {}

    class CachedTextRenderer(agg.RendererAgg):  # type: ignore[misc]
        def get_text_width_height_descent(
            self, s: str, prop: Any, ismath: bool | str
        ) -> tuple[float, float, float]:
            if ismath:
                return super().get_text_width_height_descent(s, prop, ismath)  # type: ignore[no-any-return]
            key = (hash(prop), self.dpi, s)
            if key not in metrics:
                metrics[key] = super().get_text_width_height_descent(s, prop, ismath)
            return metrics[key]

        def draw_text(
            self, gc: Any, x: float, y: float, s: str, prop: Any, angle: float,
            ismath: bool | str = False, mtext: Any = None,
        ) -> None:  # fmt: skip
            if ismath:
                super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
                return
            antialiased = bool(gc.get_antialiased())
            key = (hash(prop), self.dpi, s, antialiased)
            if key not in bitmaps:
                try:
                    font = self._prepare_font(prop)
                    font.set_text(s, 0, flags=agg.get_hinting_flag())
                    font.draw_glyphs_to_bitmap(antialiased=antialiased)
                except AttributeError:  # a matplotlib whose internals moved: draw it plainly
                    super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
                    return
                x0, y0 = font.get_bitmap_offset()
                image = np.array(font.get_image(), copy=True)
                bitmaps[key] = (image, x0 / 64.0, y0 / 64.0, font.get_descent() / 64.0)
            image, x0, y0, descent = bitmaps[key]
            dx = descent * math.sin(math.radians(angle))
            dy = descent * math.cos(math.radians(angle))
            self._renderer.draw_text_image(
                image, round(x + x0 + dx), round(y + y0 + dy) + 1, angle, gc
            )

    class CachedTextCanvas(agg.FigureCanvasAgg):  # type: ignore[misc]
        def get_renderer(self) -> Any:
            size = (*self.figure.bbox.size, self.figure.dpi)
            if getattr(self, "_renderer_size", None) != size:
                self.renderer = CachedTextRenderer(*size)
                self._renderer_size = size
            return self.renderer

    return CachedTextCanvas


def _new_figure() -> MplFigure:
    """A matplotlib Figure on the caching canvas, outside pyplot (nothing to close)."""
    from matplotlib.figure import Figure as MplFigure

    figure = MplFigure()
    _canvas_class()(figure)
    return figure


def _label_in(labels: Sequence[str], points: float) -> float:
    """Inches the longest of `labels` takes at a font size (a sans-serif estimate)."""
    return max((len(t) for t in labels), default=0) * points * 0.6 / 72


def _fit(
    fig: MplFigure, plot_w: float, plot_h: float, *, left: float, bottom: float, right: float = 0.2
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


def _row_labels(
    fig: MplFigure, ax: Axes, labels: Sequence[str], fontsize: float | None = None
) -> None:
    """Labels left of the rows at y = 0, 1, ... as plain text (tick objects cost far more).

    The texts belong to the figure, not the axes: an axes clips its artists, and setting up
    that clip path for each label costs as much as drawing it.
    """
    from matplotlib.transforms import offset_copy

    ax.set_yticks([])
    where = offset_copy(ax.get_yaxis_transform(), fig=fig, x=-_LABEL_PAD, units="points")
    for row, label in enumerate(labels):
        fig.text(0, row, label, transform=where, ha="right", va="center", fontsize=fontsize)


def _col_labels(
    fig: MplFigure, ax: Axes, labels: Sequence[str], fontsize: float, rotation: float
) -> None:
    """Labels under the columns at x = 0, 1, ..., read bottom to top when rotated."""
    from matplotlib.transforms import offset_copy

    ax.set_xticks([])
    where = offset_copy(ax.get_xaxis_transform(), fig=fig, y=-_LABEL_PAD, units="points")
    for col, label in enumerate(labels):
        fig.text(
            col, 0, label, transform=where, ha="center", va="top", rotation=rotation,
            fontsize=fontsize,
        )  # fmt: skip


def _cmap(scale: ColorScale) -> Colormap:
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list(scale.key, list(scale.stops)).with_extremes(
        bad=MISSING_FILL
    )


def _draw(figure: Figure) -> MplFigure:
    if isinstance(figure, Heatmap):
        return _draw_heatmap(figure)
    if isinstance(figure, Bars):
        return _draw_bars(figure)
    if isinstance(figure, StackedBars):
        return _draw_stacked(figure)
    if isinstance(figure, DotPlot):
        return _draw_dots(figure)
    return _draw_ranking_grid(figure)


def _draw_heatmap(spec: Heatmap) -> MplFigure:
    n_rows, n_cols = spec.matrix.shape
    fig = _new_figure()
    ax = fig.add_subplot()
    image = ax.imshow(
        np.ma.masked_invalid(spec.matrix),
        cmap=_cmap(spec.scale),
        aspect="auto",
        vmin=spec.scale.vmin,
        vmax=spec.scale.vmax,
        interpolation="nearest",
    )
    _col_labels(fig, ax, spec.col_names, 6, 90 if spec.rotate_cols else 0)
    _row_labels(fig, ax, spec.row_labels, 7)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(spec.title, loc="left")
    bar = fig.colorbar(image, ax=ax, fraction=0.025, pad=0.01, ticks=spec.scale.ticks())
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


def _value_axis(ax: Axes, vmin: float, vmax: float, measure: str) -> None:
    """The x axis of bars and dots: 0 to `vmax` with at most five ticks."""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlim(vmin, vmax)
    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.set_xlabel(measure)


def bar_lengths(spec: Bars) -> tuple[np.ndarray, np.ndarray | None]:
    """The bars' lengths (0 for a missing value) and their error bars (below, above), if any."""
    values = np.nan_to_num(np.asarray(spec.values, dtype=float))
    xerr = None
    if spec.lo is not None and spec.hi is not None:
        lo, hi = np.asarray(spec.lo, dtype=float), np.asarray(spec.hi, dtype=float)
        xerr = np.nan_to_num(np.vstack([values - lo, hi - values]).clip(min=0))
    return values, xerr


def _draw_bars(spec: Bars) -> MplFigure:
    fig = _new_figure()
    ax = fig.add_subplot()
    y = np.arange(len(spec.labels))
    values, xerr = bar_lengths(spec)
    ax.barh(y, values, color=spec.color, xerr=xerr, error_kw={"elinewidth": 0.8, "capsize": 2})
    ax.invert_yaxis()
    _row_labels(fig, ax, spec.labels)
    _value_axis(ax, 0, spec.vmax, spec.measure)
    ax.set_title(spec.title, loc="left")
    _fit(fig, 3.6, 0.22 * len(spec.labels) + 0.2, left=_label_in(spec.labels, 8) + 0.2, bottom=0.5)
    return fig


def _draw_stacked(spec: StackedBars) -> MplFigure:
    fig = _new_figure()
    ax = fig.add_subplot()
    y = np.arange(len(spec.labels))
    left = np.zeros(len(spec.labels))
    for name, color, values in spec.segments:
        ax.barh(y, values, left=left, color=color, label=name)
        left += np.asarray(values, dtype=float)
    ax.invert_yaxis()
    _row_labels(fig, ax, spec.labels)
    ax.xaxis.set_major_locator(_max_ticks(5))
    ax.set_xlabel(spec.measure)
    ax.set_title(spec.title, loc="left")
    ax.legend(frameon=False, fontsize=6, loc="lower right")
    _fit(fig, 4.0, 0.22 * len(spec.labels) + 0.3, left=_label_in(spec.labels, 8) + 0.2, bottom=0.5)
    return fig


def _max_ticks(count: int) -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(count, integer=True)


def _draw_dots(spec: DotPlot) -> MplFigure:
    fig = _new_figure()
    ax = fig.add_subplot()
    y = np.arange(len(spec.labels))
    for name, color, values in spec.series:
        ax.scatter(values, y, color=color, label=name, s=18, zorder=3)
    ax.set_ylim(len(spec.labels) - 0.5, -0.5)
    _row_labels(fig, ax, spec.labels)
    _value_axis(ax, spec.vmin, spec.vmax, spec.measure)
    ax.grid(axis="x", linewidth=0.4, alpha=0.6)
    ax.set_title(spec.title, loc="left")
    ax.legend(frameon=False, fontsize=6, loc="best")
    _fit(fig, 4.0, 0.24 * len(spec.labels) + 0.3, left=_label_in(spec.labels, 8) + 0.2, bottom=0.5)
    return fig


def _draw_ranking_grid(spec: RankingGrid) -> MplFigure:
    """Small multiples drawn on one full-figure axes in inches (12 axes cost most of the time)."""
    from matplotlib.collections import LineCollection, PolyCollection

    n = len(spec.groups)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    k = max((len(top.values) + len(bottom.values) for _, top, bottom in spec.groups), default=1)
    names = [n for _, top, bottom in spec.groups for n in top.labels + bottom.labels]
    grid = _Grid(_label_in(names, 5) + 0.15, 1.9, 0.16 * k + 0.2, k)
    width = cols * (grid.plot_w + grid.label_w) + 0.2
    height = rows * (grid.plot_h + 0.55) + 0.35
    fig = _new_figure()
    fig.set_size_inches(width, height)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_axis_off()
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    boxes: list[np.ndarray] = []
    colors: list[str] = []
    lines: list[list[tuple[float, float]]] = []
    rules: list[list[tuple[float, float]]] = []
    for index, (label, top, bottom) in enumerate(spec.groups):
        x0 = grid.label_w + (index % cols) * (grid.plot_w + grid.label_w)
        y0 = 0.6 + (index // cols) * (grid.plot_h + 0.55)
        panel = _ranking_panel(fig, ax, grid, (x0, y0), label, top, bottom)
        boxes += panel[0]
        colors += panel[1]
        lines += [[(x0, y0), (x0, y0 + grid.plot_h), (x0 + grid.plot_w, y0 + grid.plot_h)]]
        rules += [[(x0, panel[2]), (x0 + grid.plot_w, panel[2])]]
    ax.add_collection(PolyCollection(boxes, facecolors=colors, linewidths=0))
    ax.add_collection(LineCollection(lines, colors="black", linewidths=0.8))
    ax.add_collection(LineCollection(rules, colors="#9aa3ad", linewidths=0.6, linestyles="--"))
    fig.suptitle(spec.title, x=0.01, ha="left")
    return fig


@dataclass(frozen=True)
class _Grid:
    """Inches of one ranking panel: label column, plot width and height, rows of bars."""

    label_w: float
    plot_w: float
    plot_h: float
    rows: int


def _ranking_panel(
    fig: MplFigure,
    ax: Axes,
    grid: _Grid,
    origin: tuple[float, float],
    label: str,
    top: Bars,
    bottom: Bars,
) -> tuple[list[np.ndarray], list[str], float]:
    """Texts of one panel (title, names, 0 / middle / top ticks); returns its bars and rule."""
    x0, y0 = origin
    text = functools.partial(fig.text, transform=ax.transData)
    pitch = grid.plot_h / grid.rows
    names = top.labels + bottom.labels
    values = np.nan_to_num(np.asarray(top.values + bottom.values, dtype=float))
    share = np.clip(values / (top.vmax or 1.0), 0.0, 1.0) * grid.plot_w
    boxes = []
    for row, name in enumerate(names):
        y = y0 + (row + 0.5) * pitch
        boxes.append(np.array([(x0, y - 0.4 * pitch), (x0 + share[row], y - 0.4 * pitch),
                               (x0 + share[row], y + 0.4 * pitch), (x0, y + 0.4 * pitch)]))  # fmt: skip
        text(x0 - 0.05, y, name, ha="right", va="center", fontsize=5)
    for tick in (0.0, top.vmax / 2, top.vmax):
        x = x0 + tick / (top.vmax or 1.0) * grid.plot_w
        text(x, y0 + grid.plot_h + 0.04, f"{tick:g}", ha="center", va="top", fontsize=5)
    text(x0, y0 - 0.06, label, ha="left", va="bottom", fontsize=7)
    colors = [top.color] * len(top.values) + [bottom.color] * len(bottom.values)
    return boxes, colors, y0 + len(top.values) * pitch
