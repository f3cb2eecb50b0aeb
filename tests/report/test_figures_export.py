"""`report --figures`: progress per figure, unchanged figures kept, changed ones drawn again, and
PNGs that match matplotlib's own rendering of the same figure."""

from __future__ import annotations

import io
import re
from dataclasses import fields, is_dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rich.console import Console
from typer.testing import CliRunner

from support.report_runfactory import grid, synthetic_pairs, write_value_action_run
from valuelens.cli import app
from valuelens.report import _draw
from valuelens.report._draw import figure_progress, write_figures
from valuelens.report._figures import Figure
from valuelens.report._html import build_page
from valuelens.report._load import load_runs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SUFFIXES = ("png", "svg")


def _run(base: Path, name: str, seed: int) -> Path:
    return write_value_action_run(
        base / f"{name}-{seed}", synthetic_pairs(grid(2, 2, 6), seed=seed), label=name
    )


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    base = tmp_path_factory.mktemp("figure-runs")
    return [_run(base, "a", 1), _run(base, "b", 2)]


def _figures(runs: list[Path]) -> list[tuple[str, Figure]]:
    return build_page(load_runs(runs)).figures


def _same(x: object, y: object) -> bool:
    """Deep equality of two figure specs (arrays compared by value, NaN equal to NaN)."""
    if is_dataclass(x) and not isinstance(x, type):
        return type(x) is type(y) and all(
            _same(getattr(x, f.name), getattr(y, f.name)) for f in fields(x)
        )
    if isinstance(x, np.ndarray):
        return isinstance(y, np.ndarray) and np.array_equal(x, y, equal_nan=True)
    if isinstance(x, list | tuple):
        return isinstance(y, list | tuple) and len(x) == len(y) and all(map(_same, x, y))
    if isinstance(x, float) and isinstance(y, float) and np.isnan(x) and np.isnan(y):
        return True
    return x == y


def _files(out: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(out)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(out.rglob("*"))
        if p.suffix in {".png", ".svg"}
    }


@pytest.mark.slow
def test_terminal_shows_a_progress_step_for_every_figure(
    two_runs: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=160, color_system=None)
    monkeypatch.setattr("valuelens.cli._report.err_console", terminal)
    keys = [figure.key for _, figure in _figures(two_runs)]
    figures_dir = tmp_path / "figs"
    args = ["report", *map(str, two_runs), "--out", str(tmp_path / "r.html")]
    result = CliRunner().invoke(app, [*args, "--figures", str(figures_dir)])
    assert result.exit_code == 0, result.output
    shown = screen.getvalue()
    assert f"{len(keys)}/{len(keys)}" in shown
    assert all(key in shown for key in set(keys))
    assert "figures" in shown
    steps = {int(m) for m in re.findall(rf"(\d+)/{len(keys)}\b", shown)}
    assert len(steps) >= len(keys) // 2  # the bar moved figure by figure, not at the end only
    assert f"wrote {len(keys)} figures" in result.output
    assert f"({len(keys)} drawn, 0 unchanged" in result.output


@pytest.mark.slow
def test_without_a_terminal_only_the_final_line_is_printed(
    two_runs: list[Path], tmp_path: Path
) -> None:
    figures_dir = tmp_path / "figs"
    args = ["report", *map(str, two_runs), "--out", str(tmp_path / "r.html")]
    first = CliRunner().invoke(app, [*args, "--figures", str(figures_dir)])
    assert first.exit_code == 0, first.output
    lines = first.output.strip().splitlines()
    assert len(lines) == 2 and "figures" not in lines[0]
    n = len(_figures(two_runs))
    assert re.fullmatch(
        rf"wrote {n} figures as PNG and SVG under .*figs \({n} drawn, 0 unchanged, [0-9.]+ s\)",
        lines[1],
    )
    again = CliRunner().invoke(app, [*args, "--figures", str(figures_dir)])
    assert f"(0 drawn, {n} unchanged" in again.output


@pytest.mark.slow
def test_unchanged_figures_are_kept_and_changed_inputs_drawn_again(
    two_runs: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "figs"
    figures = _figures(two_runs)
    with figure_progress(None) as export:
        write_figures(figures, out)
    assert (export.drawn, export.unchanged) == (len(figures), 0)
    before = _files(out)
    assert len(before) == 2 * len(figures)

    seen: list[tuple[int, int, str]] = []
    with figure_progress(lambda d, n, k: seen.append((d, n, k))) as export:
        write_figures(_figures(two_runs), out)  # rebuilt from the runs: new objects, same content
    assert (export.drawn, export.unchanged) == (0, len(figures))
    assert [d for d, _, _ in seen] == list(range(1, len(figures) + 1))
    assert _files(out) == before  # not even touched

    changed_b = _run(tmp_path, "b", 3)  # run "b" again with other answers, same folder name
    changed = _figures([two_runs[0], changed_b])
    with figure_progress(None) as export:
        write_figures(changed, out)
    after = _files(out)
    old_specs = {(folder, f.key): f for folder, f in figures}
    kept = [(folder, f.key) for folder, f in changed if _same(f, old_specs[folder, f.key])]
    redrawn = [(folder, f.key) for folder, f in changed if (folder, f.key) not in kept]
    # run a's own figures are kept; its distance heatmaps share their colour scale with b
    assert ("a", "heatmap_country_stated") in kept and ("a", "heatmap_topic_distance") in redrawn
    assert ("b", "heatmap_country_stated") in redrawn
    for folder, key in kept:
        assert all(
            after[f"{folder}/{key}.{ext}"] == before[f"{folder}/{key}.{ext}"] for ext in SUFFIXES
        )
    for folder, key in redrawn:
        assert after[f"{folder}/{key}.png"][1] != before[f"{folder}/{key}.png"][1]
    assert (export.drawn, export.unchanged) == (len(redrawn), len(kept))

    png = out / "a" / "heatmap_country_stated.png"
    png.write_bytes(png.read_bytes()[:100])  # a damaged file is drawn again
    with figure_progress(None) as export:
        write_figures(changed, out)
    assert export.drawn == 1
    assert png.read_bytes()[:8] == PNG_MAGIC and png.read_bytes() == after[f"a/{png.name}"][1]


@pytest.mark.slow
def test_a_pool_of_processes_writes_the_same_files_as_one_process(
    two_runs: list[Path], tmp_path: Path
) -> None:
    if _draw._pool_context() is None:
        pytest.skip("no fork-safe process pool here (another thread is running)")
    figures = _figures(two_runs)
    seen: list[str] = []
    write_figures(figures, tmp_path / "pool", progress=lambda d, n, k: seen.append(k), workers=2)
    write_figures(figures, tmp_path / "one", workers=1)
    assert sorted(seen) == sorted(f.key for _, f in figures)
    pool, one = _files(tmp_path / "pool"), _files(tmp_path / "one")
    assert {k: v[1] for k, v in pool.items()} == {k: v[1] for k, v in one.items()}


def _pixels(fig: object) -> np.ndarray:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_draw.PNG_DPI)  # type: ignore[attr-defined]
    return np.asarray(Image.open(buffer).convert("L"), dtype=float)


def _blocks(image: np.ndarray, size: int = 16) -> np.ndarray:
    """Mean darkness of size x size blocks: where the ink is, blind to sub-pixel glyph shifts."""
    h, w = (image.shape[0] // size) * size, (image.shape[1] // size) * size
    return (255 - image[:h, :w]).reshape(h // size, size, w // size, size).mean(axis=(1, 3))


@pytest.mark.slow
@pytest.mark.parametrize("key", ["heatmap_country_stated", "value_ranking_by_country"])
def test_cached_labels_look_like_matplotlibs_own_text(two_runs: list[Path], key: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    spec = next(f for _, f in _figures(two_runs) if f.key == key)
    plt = _draw._load_matplotlib()
    with plt.rc_context(_draw._RC):
        ours = _pixels(_draw._draw(spec))
        stock_fig = _draw._draw(spec)
        FigureCanvasAgg(stock_fig)  # matplotlib's renderer, glyph by glyph
        stock = _pixels(stock_fig)
        blank_fig = _draw._draw(spec)
        for text in blank_fig.findobj(lambda a: type(a).__name__ == "Text"):
            text.set_visible(False)  # type: ignore[attr-defined]
        blank = _pixels(blank_fig)
    assert ours.shape == stock.shape == blank.shape
    ink_ours, ink_stock, ink_blank = (_blocks(x) for x in (ours, stock, blank))
    text_ink = np.abs(ink_stock - ink_blank).sum()
    assert text_ink > 0
    # the labels are there, in the same places, as dark as matplotlib draws them
    assert np.abs(ink_ours - ink_stock).sum() < 0.1 * text_ink
    assert abs((255 - ours).sum() - (255 - stock).sum()) < 0.05 * (255 - stock).sum()
