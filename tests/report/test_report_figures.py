"""`--figures`: the report's figures as PNG and SVG for papers, drawn with matplotlib."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from support.report_runfactory import (
    grid,
    synthetic_pairs,
    write_compass_run,
    write_value_action_run,
)
from valuelens.report._draw import write_figures
from valuelens.report._html import build_page, render_report
from valuelens.report._load import load_runs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_render_report_writes_every_figure_of_the_page(tmp_path: Path) -> None:
    run = write_value_action_run(
        tmp_path / "run", synthetic_pairs(grid(2, 2, 6), seed=9), label="small/run"
    )
    figures_dir = tmp_path / "figures"
    render_report([run], tmp_path / "r.html", figures_dir=figures_dir)
    expected = {(folder, figure.key) for folder, figure in build_page(load_runs([run])).figures}
    pngs = {(p.parent.name, p.stem) for p in figures_dir.rglob("*.png")}
    svgs = {(p.parent.name, p.stem) for p in figures_dir.rglob("*.svg")}
    assert pngs == svgs == expected
    assert {folder for folder, _ in expected} == {"small-run"}
    for key in (
        "heatmap_country_stated",
        "heatmap_topic_distance",
        "value_ranking_by_country",
        "alignment_rate_by_topic",
        "misaligned_by_country",
        "ranking_topic_by_distance",
    ):
        assert ("small-run", key) in expected
    for png in figures_dir.rglob("*.png"):
        assert png.read_bytes()[:8] == PNG_MAGIC
    heatmap = ET.parse(figures_dir / "small-run" / "heatmap_country_stated.svg").getroot()
    texts = "".join(heatmap.itertext())
    assert "Wealth" in texts and "Stated (Task 1): country × value" in texts


@pytest.mark.slow
def test_comparison_and_compass_figures_draw(tmp_path: Path) -> None:
    runs = [
        write_value_action_run(tmp_path / "a", synthetic_pairs(grid(2, 2, 6), seed=1), label="a"),
        write_value_action_run(tmp_path / "b", synthetic_pairs(grid(2, 2, 6), seed=2), label="b"),
        write_compass_run(tmp_path / "c", label="c", n_countries=2, n_values=6),
    ]
    figures = build_page(load_runs(runs)).figures
    keys = {(folder, figure.key) for folder, figure in figures}
    assert ("comparison", "comparison_alignment_rate") in keys
    assert ("comparison", "comparison_distance_mean_by_topic") in keys
    assert ("c", "compass_alignment_by_cell") in keys
    chosen = [
        f
        for f in figures
        if f[1].key
        in {
            "comparison_alignment_rate",
            "comparison_alignment_rate_by_country",
            "compass_alignment_by_cell",
            "compass_heatmap_scenario_distance",
        }
    ]
    written = write_figures(chosen, tmp_path / "figs")
    assert len(written) == 2 * len(chosen) == 8
    assert all(p.stat().st_size > 1000 for p in written)
