"""A small run's report in headless Chromium: heatmaps sized for a few cells with every value
type named in full, and the item browser reading a pair's side from its unrounded score."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from support.report_cdp import Browser
from support.report_runfactory import (
    Grid,
    complete_pairs,
    synthetic_items,
    synthetic_pairs,
    write_value_action_run,
)
from valuelens.report._draw import write_figures
from valuelens.report._figures import Heatmap
from valuelens.report._html import build_page, render_report
from valuelens.report._load import load_runs
from valuelens.report._svg import heatmap_layout
from valuelens.taxonomy import load_taxonomy

QUICKSTART_VALUES = ["Wealth", "Honest", "Protecting the Environment", "Social Power", "Freedom"]
TAX = load_taxonomy()
NEAR = 0.49998  # shows as 0.50 when rounded, but is below the 0.5 threshold


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 country x 1 topic x 5 values (five types); the first pair sits just under 0.5."""
    pairs = synthetic_pairs(Grid(["India"], ["Politics"], QUICKSTART_VALUES), seed=3)
    pairs.loc[0, ["stated", "chosen"]] = [NEAR, NEAR]
    pairs = complete_pairs(pairs)
    return write_value_action_run(
        tmp_path_factory.mktemp("small") / "run",
        pairs,
        label="small",
        items=synthetic_items(pairs, seed=3),
    )


@pytest.fixture(scope="module")
def page(browser: Browser, small_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Browser:
    out = render_report([small_run], tmp_path_factory.mktemp("page") / "report.html")
    browser.viewport(1366, 900)
    browser.open(out.as_uri())
    return browser


def _js(browser: Browser, body: str) -> object:
    return browser.eval(f"(() => {{ {body} }})()")


def test_small_heatmaps_are_not_stamps(page: Browser) -> None:
    widths = _js(
        page,
        "return [...document.querySelectorAll('#heatmaps figure.heatmap .scroll > svg')]"
        ".map(s => s.getBoundingClientRect().width).filter(w => w > 0);",
    )
    assert widths and all(w >= 300 for w in widths), widths  # was ~150 px for 5 columns


def test_value_type_labels_are_whole_and_inside_their_figure(page: Browser) -> None:
    labels = _js(
        page,
        """return [...document.querySelectorAll('#heatmaps figure.heatmap')].flatMap(f => {
            const svg = f.querySelector('.scroll > svg').getBoundingClientRect();
            return [...f.querySelectorAll('text.band-label')].map(t => {
                const r = t.getBoundingClientRect();
                return {text: t.lastChild.textContent, title: t.querySelector('title').textContent,
                        inside: r.left >= svg.left - 0.5 && r.right <= svg.right + 0.5 &&
                                r.top >= svg.top - 0.5 && r.bottom <= svg.bottom + 0.5};
            });
        });""",
    )
    assert isinstance(labels, list) and labels
    expected = {TAX.value_type(v) for v in QUICKSTART_VALUES}
    assert {label["text"] for label in labels} == expected  # full names, no "S…"
    assert all(label["text"] == label["title"] and label["inside"] for label in labels), labels


def test_horizontal_type_labels_fit_their_band(page: Browser) -> None:
    fits = _js(
        page,
        """const out = [];
        for (const svg of document.querySelectorAll('#heatmaps figure.heatmap .scroll > svg')) {
            const bands = [...svg.querySelectorAll('rect.band')];
            const texts = [...svg.querySelectorAll('text.band-label')];
            texts.forEach((t, i) => { if (!t.hasAttribute('transform'))
                out.push(t.getComputedTextLength() <= bands[i].width.baseVal.value); });
        }
        return out;""",
    )
    assert isinstance(fits, list) and all(fits), fits


def test_item_browser_thresholds_the_unrounded_score(page: Browser) -> None:
    badges = _js(
        page,
        """const item = [...document.querySelectorAll('#items .item')]
            .find(i => i.querySelector('.item-title').textContent === 'Wealth');
        return [...item.querySelectorAll('.item-head .badge')].map(b => b.textContent);""",
    )
    assert isinstance(badges, list)
    assert "stated 0.50 (agree)" in badges, badges
    assert any(b.startswith("chose positive") for b in badges), badges
    chosen = _js(
        page,
        """const item = [...document.querySelectorAll('#items .item')]
            .find(i => i.querySelector('.item-title').textContent === 'Wealth');
        return [...item.querySelectorAll('.action.chosen')].map(a => a.className);""",
    )
    assert chosen == ["action positive chosen"], chosen


def _heatmap(n_rows: int, values: list[str]) -> Heatmap:
    from valuelens.report._figures import polarity_scale

    return Heatmap(
        "h",
        "t",
        [f"row {i}" for i in range(n_rows)],
        [f"r{i}" for i in range(n_rows)],
        values,
        np.zeros((n_rows, len(values))),
        polarity_scale("agree", "disagree"),
        "m",
        [TAX.value_type(v) for v in values],
    )


def test_layout_grows_cells_for_few_columns_and_keeps_the_full_grid_compact() -> None:
    small = heatmap_layout(_heatmap(1, QUICKSTART_VALUES))
    full = heatmap_layout(_heatmap(12, TAX.value_names))
    assert small.cells[0].w > 40 and small.cells[0].h > 20
    assert full.cells[0].w < 20  # 56 columns stay at the old cell size
    assert all("…" not in label.text for label in small.band_labels + full.band_labels)
    # the 56-column grid cannot hold "Hedonism" over its two columns: labels stand rotated
    assert full.band_angle != 0 and small.band_angle == 0
    top_of_labels = min(
        label.y - len(label.text) * 9.5 * 0.58 * math.sin(math.radians(60))
        for label in full.band_labels
    )
    assert top_of_labels >= 0


def test_exported_svg_is_the_pages_drawing_with_title_and_legend(
    small_run: Path, tmp_path: Path
) -> None:
    figures = [
        f for f in build_page(load_runs([small_run])).figures if f[1].key.startswith("heatmap")
    ]
    seen: list[tuple[int, int, str]] = []
    written = write_figures(figures, tmp_path, progress=lambda d, n, k: seen.append((d, n, k)))
    assert [d for d, _, _ in seen] == list(range(1, len(figures) + 1))
    svg = next(p for p in written if p.name == "heatmap_country_stated.svg")
    root = ET.parse(svg).getroot()
    texts = list(root.itertext())
    assert "Stated (Task 1): country × value" in texts and "agree" in texts
    assert {TAX.value_type(v) for v in QUICKSTART_VALUES} <= {t.strip() for t in texts}
    assert json.dumps(texts)  # plain text only
