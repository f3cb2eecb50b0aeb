"""The HTML file itself: self-contained, escaped, complete, and faithful to the run's numbers."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.report_runfactory import XSS_PAYLOADS, grid, synthetic_pairs, write_value_action_run
from valuelens.report._format import embed_json
from valuelens.report._html import render_report
from valuelens.taxonomy import load_taxonomy


@pytest.fixture(scope="module")
def two_runs_html(tmp_path_factory: pytest.TempPathFactory, item_run: Path, plain_run: Path) -> str:
    out = render_report([item_run, plain_run], tmp_path_factory.mktemp("html") / "r.html")
    return out.read_text(encoding="utf-8")


def _json_blocks(html: str) -> list[dict]:
    blocks = re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', html, re.S)
    return [json.loads(b) for b in blocks]


@given(
    st.recursive(
        st.text() | st.integers() | st.none(),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
        ),
        max_leaves=12,
    )
)
def test_embedded_json_round_trips_and_cannot_close_a_script(data: object) -> None:
    text = str(embed_json(data))
    assert not set(text) & {"<", ">", "&", "\u2028", "\u2029"}
    assert json.loads(text) == data


def test_embedded_json_turns_nan_into_null() -> None:
    assert json.loads(str(embed_json({"x": [float("nan"), 1.5]}))) == {"x": [None, 1.5]}


def test_no_network_resources(two_runs_html: str) -> None:
    lowered = two_runs_html.lower()
    assert not re.search(r"""(src|href|action|poster|srcset)\s*=\s*["']?\s*(https?:)?//""", lowered)
    assert "http://" not in lowered.replace("http-equiv", "") and "https://" not in lowered
    assert "@import" not in lowered
    assert re.findall(r"url\(([^)]*)\)", lowered) and all(
        u.startswith("#") for u in re.findall(r"url\(([^)]*)\)", lowered)
    )
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', two_runs_html)
    assert csp and "default-src 'none'" in unescape(csp.group(1))


def test_only_our_script_and_data_blocks_exist(two_runs_html: str) -> None:
    tags = re.findall(r"<script[^>]*>", two_runs_html, re.I)
    assert tags.count("<script>") == 1
    assert all(t == "<script>" or t.startswith('<script type="application/json"') for t in tags)
    assert len(tags) == 2  # one run has item-level data
    for payload in XSS_PAYLOADS:
        assert payload not in two_runs_html


def test_payloads_survive_intact_in_the_embedded_data(two_runs_html: str) -> None:
    (data,) = _json_blocks(two_runs_html)
    strings = set(data["strings"])
    for payload in XSS_PAYLOADS:
        assert any(payload in s for s in strings), payload


def test_every_country_topic_and_value_appears(two_runs_html: str) -> None:
    text = unescape(two_runs_html)
    tax = load_taxonomy()
    g = grid(4, 3)
    for name in g.countries + g.topics + g.values:
        assert name in text, name
    for country in g.countries:
        assert f">{tax.label('country', country)}<" in two_runs_html


def test_headline_numbers_come_from_the_summary(
    two_runs_html: str, item_run: Path, plain_run: Path
) -> None:
    for run in (item_run, plain_run):
        summary = json.loads((run / "summary.json").read_text())
        lo, hi = summary["alignment_rate_ci"]
        assert f'<div class="card-value">{summary["alignment_rate"]:.3f}</div>' in two_runs_html
        assert f"95% CI {lo:.3f} – {hi:.3f}" in two_runs_html
        assert f'<div class="card-value">{summary["misaligned"]:,}</div>' in two_runs_html
        for country, rate in summary["alignment_rate_by_country"].items():
            assert (
                f'title="{country}">{country}</td><td class="num" data-v="{rate}">{rate:.3f}'
                in two_runs_html
            )


def test_leaderboard_is_sorted_by_alignment_rate(
    two_runs_html: str, item_run: Path, plain_run: Path
) -> None:
    rates = {
        json.loads((r / "summary.json").read_text())["label"]: json.loads(
            (r / "summary.json").read_text()
        )["alignment_rate"]
        for r in (item_run, plain_run)
    }
    board = two_runs_html.split('data-testid="leaderboard"')[1].split("</table>")[0]
    shown = [unescape(m) for m in re.findall(r'class="run-cell"><span[^>]*></span>([^<]+)', board)]
    assert shown == sorted(rates, key=lambda k: -rates[k])


def test_item_data_matches_the_run_tables(two_runs_html: str, item_run: Path) -> None:
    (data,) = _json_blocks(two_runs_html)
    pairs = pd.read_parquet(item_run / "pairs.parquet")
    stated = pd.read_parquet(item_run / "responses_stated.parquet")
    assert len(data["items"]) == len(pairs)
    item = data["items"][5]
    row = pairs.iloc[5]
    assert data["countryNames"][item[0]] == row["country"]
    assert data["values"][item[2]] == row["value"]
    assert item[3] == pytest.approx(row["stated"], abs=1e-4)
    assert item[5] == row["misaligned"]
    expected = stated[
        (stated["country"] == row["country"])
        & (stated["topic"] == row["topic"])
        & (stated["value"] == row["value"])
    ]
    assert [data["strings"][r[0]] for r in item[9]] == expected["variant"].tolist()
    assert [r[1] for r in item[9]] == pytest.approx(expected["likert"].tolist())
    # a raw answer shared by the 56 values of a scenario is stored once
    assert len(data["strings"]) < len(stated)


def test_a_single_run_has_no_comparison_and_no_run_switch(tmp_path: Path, plain_run: Path) -> None:
    html = render_report([plain_run], tmp_path / "one.html").read_text()
    assert 'id="comparison"' not in html and 'class="run-switch"' not in html
    assert 'id="items"' not in html and 'id="robustness"' not in html
    assert 'id="heatmaps"' in html and 'id="rankings"' in html


def test_title_and_output_folder(tmp_path: Path, plain_run: Path) -> None:
    out = render_report([plain_run], tmp_path / "deep" / "er" / "x.html", title="My <title>")
    html = out.read_text()
    assert "<title>My &lt;title&gt;</title>" in html


def test_custom_taxonomy_names_are_escaped(tmp_path: Path) -> None:
    pairs = synthetic_pairs(grid(2, 2, 6), seed=3)
    pairs["country"] = pairs["country"].map(lambda c: f'{c} "><svg onload=alert(1)>')
    run = write_value_action_run(tmp_path / "odd", pairs, label="odd")
    html = render_report([run], tmp_path / "odd.html").read_text()
    assert "<svg onload" not in html
    assert "&lt;svg onload=alert(1)&gt;" in html


def test_the_citation_is_the_readmes(two_runs_html: str) -> None:
    """The About block cites exactly what the README's "Citing" section cites."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Citing", 1)[1]
    expected = re.search(r"```bibtex\n(.*?)```", section, re.S)
    assert expected is not None
    shown = re.search(r'<pre class="cite"[^>]*>(.*?)</pre>', two_runs_html, re.S)
    assert shown is not None
    assert unescape(shown.group(1)).strip() == expected.group(1).strip()
    assert "@inproceedings{shen2025mind" in two_runs_html
    assert "Measuring Contextual Value Alignment" in two_runs_html
