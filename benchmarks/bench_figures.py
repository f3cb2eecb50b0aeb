"""`report --figures` speed for two full runs (7,392 pairs each), against a baseline in one process.

Ours: `write_figures` — labels as plain text artists, each distinct label rasterized once, the
ranking grid on one axes, and the manifest that keeps unchanged figures (the rerun line); the
pool line draws with `workers=2` forked processes (not the default). Baseline: the previous export, kept here as it was: pyplot figures,
labels as matplotlib ticks, matplotlib 3.11's per-glyph text rendering, one figure after the
other, every figure drawn again on every run. Both write the same PNG and SVG files into
temporary folders (the SVG half is shared code). The runs are synthetic (seeded), built by
`tests/support/report_runfactory.py`. The machine may be shared: CPU seconds (this process and
its workers) are printed next to wall time, and the ratio is given for both.

    uv run python benchmarks/bench_figures.py [--limit N] [--repeat 1] [--workers N]
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import _common  # noqa: F401  # first: it puts tests/ on sys.path

# isort: split
from support.report_runfactory import grid, synthetic_pairs, write_value_action_run
from valuelens._rundir import write_text_atomic
from valuelens.report._charts import chart_for
from valuelens.report._draw import (
    _RC,
    _cmap,
    _fit,
    _label_in,
    _svg_document,
    _svg_template,
    bar_lengths,
    write_figures,
)
from valuelens.report._figures import Bars, DotPlot, Figure, Heatmap, RankingGrid, StackedBars
from valuelens.report._html import build_page
from valuelens.report._load import load_runs


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the pool's workers)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(repeat: int, fn: Callable[[], object], reset: Callable[[], None]) -> tuple[float, float]:
    """Best wall and CPU seconds of `repeat` calls of `fn`, `reset` run before each."""
    walls, cpus = [], []
    for _ in range(repeat):
        reset()
        cpu, wall = _cpu(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(_cpu() - cpu)
    return min(walls), min(cpus)


# --- the baseline: the export as it was before this benchmark's change -------------------------


def baseline(figures: Sequence[tuple[str, Figure]], out: Path) -> None:
    """pyplot figures with tick labels, one after the other, PNG at 200 dpi and the page's SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for folder, figure in figures:
        (out / folder).mkdir(parents=True, exist_ok=True)
        with plt.rc_context(_RC):
            drawn = _BASELINE_DRAW[type(figure)](figure)
            drawn.savefig(out / folder / f"{figure.key}.png", dpi=200)
        plt.close(drawn)
        chart = chart_for(figure)
        assert chart is not None
        svg = _svg_template().render(doc=_svg_document(chart))
        write_text_atomic(out / folder / f"{figure.key}.svg", svg)


def _old_heatmap(spec: Heatmap) -> Any:
    import matplotlib.pyplot as plt

    n_rows, n_cols = spec.matrix.shape
    fig, ax = plt.subplots()
    image = ax.imshow(
        np.ma.masked_invalid(spec.matrix), cmap=_cmap(spec.scale), aspect="auto",
        vmin=spec.scale.vmin, vmax=spec.scale.vmax, interpolation="nearest",
    )  # fmt: skip
    ax.set_xticks(range(n_cols), spec.col_names, rotation=90 if spec.rotate_cols else 0, fontsize=6)
    ax.set_yticks(range(n_rows), spec.row_labels, fontsize=7)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(spec.title, loc="left")
    bar = fig.colorbar(image, ax=ax, fraction=0.025, pad=0.01)
    scale = spec.scale
    bar.set_label(f"{spec.measure} (0 = {scale.low_label}, {scale.vmax:g} = {scale.high_label})")
    bottom = _label_in(spec.col_names, 6) if spec.rotate_cols else 0.15
    _fit(
        fig, max(2.5, 0.16 * n_cols), max(1.0, 0.22 * n_rows),
        left=_label_in(spec.row_labels, 7) + 0.2, bottom=bottom + 0.2, right=1.0,
    )  # fmt: skip
    return fig


def _old_rows(
    spec: Bars | StackedBars | DotPlot,
    draw: Callable[[Any, np.ndarray], None],
    size: tuple[float, ...],
) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    y = np.arange(len(spec.labels))
    draw(ax, y)
    ax.set_yticks(y, spec.labels)
    ax.invert_yaxis()
    ax.set_xlabel(spec.measure)
    ax.set_title(spec.title, loc="left")
    plot_w, row_h, pad = size
    _fit(
        fig,
        plot_w,
        row_h * len(spec.labels) + pad,
        left=_label_in(spec.labels, 8) + 0.2,
        bottom=0.5,
    )
    return fig


def _old_bars(spec: Bars) -> Any:
    def draw(ax: Any, y: np.ndarray) -> None:
        values, xerr = bar_lengths(spec)
        ax.barh(y, values, color=spec.color, xerr=xerr, error_kw={"elinewidth": 0.8, "capsize": 2})
        ax.set_xlim(0, spec.vmax)

    return _old_rows(spec, draw, (3.6, 0.22, 0.2))


def _old_stacked(spec: StackedBars) -> Any:
    def draw(ax: Any, y: np.ndarray) -> None:
        left = np.zeros(len(spec.labels))
        for name, color, values in spec.segments:
            ax.barh(y, values, left=left, color=color, label=name)
            left += np.asarray(values, dtype=float)
        ax.legend(frameon=False, fontsize=6, loc="lower right")

    return _old_rows(spec, draw, (4.0, 0.22, 0.3))


def _old_dots(spec: DotPlot) -> Any:
    def draw(ax: Any, y: np.ndarray) -> None:
        for name, color, values in spec.series:
            ax.scatter(values, y, color=color, label=name, s=18, zorder=3)
        ax.set_xlim(spec.vmin, spec.vmax)
        ax.grid(axis="x", linewidth=0.4, alpha=0.6)
        ax.legend(frameon=False, fontsize=6, loc="best")

    return _old_rows(spec, draw, (4.0, 0.24, 0.3))


def _old_ranking_grid(spec: RankingGrid) -> Any:
    import matplotlib.pyplot as plt

    n = len(spec.groups)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    k = max((len(top.values) + len(bottom.values) for _, top, bottom in spec.groups), default=1)
    fig, axes = plt.subplots(rows, cols, squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    for ax, (label, top, bottom) in zip(axes.ravel(), spec.groups, strict=False):
        y = np.arange(len(top.labels) + len(bottom.labels))
        colors = [top.color] * len(top.values) + [bottom.color] * len(bottom.values)
        ax.barh(y, top.values + bottom.values, color=colors)
        ax.axhline(len(top.values) - 0.5, color="#9aa3ad", linewidth=0.6, linestyle="--")
        ax.set_yticks(y, top.labels + bottom.labels, fontsize=5)
        ax.invert_yaxis()
        ax.set_xlim(0, top.vmax)
        ax.tick_params(axis="x", labelsize=5)
        ax.set_title(label, fontsize=7, loc="left")
    fig.suptitle(spec.title, x=0.01, ha="left")
    names = [n for _, top, bottom in spec.groups for n in top.labels + bottom.labels]
    label_w, plot_w, plot_h = _label_in(names, 5) + 0.15, 1.9, 0.16 * k + 0.2
    width, height = cols * (plot_w + label_w) + 0.2, rows * (plot_h + 0.55) + 0.35
    fig.set_size_inches(width, height)
    fig.subplots_adjust(
        left=label_w / width, right=1 - 0.2 / width, bottom=0.3 / height,
        top=1 - 0.6 / height, wspace=label_w / plot_w, hspace=0.55 / plot_h,
    )  # fmt: skip
    return fig


_BASELINE_DRAW: dict[type, Callable[[Any], Any]] = {
    Heatmap: _old_heatmap,
    Bars: _old_bars,
    StackedBars: _old_stacked,
    DotPlot: _old_dots,
    RankingGrid: _old_ranking_grid,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N figures")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="processes of the pool line")
    args = parser.parse_args()
    workers = args.workers
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        os.environ["VALUELENS_CACHE_DIR"] = str(base / "cache")  # never the user's cache
        runs = [
            write_value_action_run(
                base / f"model-{i}", synthetic_pairs(grid(12, 11), seed=i), label=f"model {i}"
            )
            for i in range(2)
        ]
        figures = build_page(load_runs(runs)).figures
        if args.limit:
            figures = figures[: args.limit]
        ours_dir, pool_dir, old_dir = base / "ours", base / "pool", base / "baseline"

        def empty(folder: Path) -> Callable[[], None]:
            return lambda: shutil.rmtree(folder, ignore_errors=True)

        theirs = timed(args.repeat, lambda: baseline(figures, old_dir), empty(old_dir))
        ours = timed(args.repeat, lambda: write_figures(figures, ours_dir), empty(ours_dir))
        pool = timed(
            args.repeat, lambda: write_figures(figures, pool_dir, workers=workers), empty(pool_dir)
        )
        rerun = timed(args.repeat, lambda: write_figures(figures, ours_dir), lambda: None)
        assert sorted(p.name for p in ours_dir.rglob("*.png")) == sorted(
            p.name for p in old_dir.rglob("*.png")
        )
    print(f"figures: {len(figures)} (PNG + SVG each)           wall s    CPU s")
    print(f"baseline (pyplot, tick labels, serial): {theirs[0]:8.2f} {theirs[1]:8.2f}")
    print(f"write_figures, first export:            {ours[0]:8.2f} {ours[1]:8.2f}")
    print(f"write_figures, pool of {workers} (workers=):    {pool[0]:8.2f} {pool[1]:8.2f}")
    print(f"write_figures, rerun (unchanged):       {rerun[0]:8.2f} {rerun[1]:8.2f}")
    print(
        f"speed-up first export: {theirs[0] / ours[0]:.1f}x wall, {theirs[1] / ours[1]:.1f}x CPU; "
        f"rerun: {theirs[0] / max(rerun[0], 1e-6):.0f}x wall"
    )


if __name__ == "__main__":
    main()
