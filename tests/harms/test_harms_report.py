"""The report's "Harms" section on a coded harms run (model text escaped)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from support.fake_server import FaultConfig, serve_in_thread
from valuelens.pipeline import _harms
from valuelens.pipeline._harms import harms_code, harms_export, harms_import, harms_sheet
from valuelens.report._html import render_report
from valuelens.runs import read_run

PAYLOAD = "<script>alert('harm')</script>"


@pytest.fixture
def coded_run(
    tmp_path: Path, authors_lists, monkeypatch: pytest.MonkeyPatch, dummy_openai_key: str
) -> Path:
    monkeypatch.setattr(_harms, "default_via_path", lambda: None)
    listed = pd.read_csv(authors_lists[0]).head(6)
    listed.loc[0, "action"] = listed.loc[0, "action"].replace("I ", f"I {PAYLOAD} ", 1)
    path = tmp_path / "chatgpt_misaligned_example.csv"
    listed.to_csv(path, index=False)
    run = tmp_path / "harms"
    harms_export([path], run)
    with serve_in_thread(FaultConfig(latency_s=0.001)) as server:
        harms_code(run, "openai:judge", base_urls=[server.base_url], progress=False)
    return run


def test_the_section_shows_counts_heatmap_and_escaped_examples(
    coded_run: Path, tmp_path: Path
) -> None:
    page = render_report([coded_run], tmp_path / "report.html").read_text(encoding="utf-8")
    match = re.search(r'<section id="harms".*?</section>', page, re.S)
    assert match, "no harms section"
    section = match.group(0)
    assert 'href="#harms"' in page
    assert PAYLOAD not in page and "&lt;script&gt;alert(" in section
    codes = read_run(coded_run).table("codes")
    assert 'data-figure="harms_0_types"' in section and 'data-figure="harms_0_country"' in section
    # every label the judge gave has its group in the example browser, with its count
    for key, n in codes["harm"].value_counts().items():
        group = re.search(rf'data-testid="harms-label-{key}">\s*<summary>[^<]*\((\d+)\)', section)
        assert group and int(group.group(1)) == n
    first = codes["rationale"].dropna().iloc[0]
    assert first in section
    assert "6 misaligned examples (gpt-3.5-turbo: 6)" in " ".join(section.split())
    by_model = re.search(r'data-testid="harms-by-model".*?</table>', section, re.S)
    assert by_model and ">6</td></tr>" in by_model.group(0)  # the row total


def test_people_labels_take_over_the_charts(coded_run: Path, tmp_path: Path) -> None:
    sheet, _ = harms_sheet(coded_run, tmp_path / "sheet.csv", coder="ann")
    filled = pd.read_csv(sheet, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    filled["harm"] = ["polarization"] * 6
    filled.to_csv(sheet, index=False)
    harms_import(coded_run, [sheet])
    page = render_report([coded_run], tmp_path / "report.html").read_text(encoding="utf-8")
    section = re.search(r'<section id="harms".*?</section>', page, re.S)
    assert section
    assert "Misaligned actions by risk type (people)" in section.group(0)
    assert re.search(r'harms-label-polarization">\s*<summary>Polarization \(6\)', section.group(0))


def test_an_uncoded_run_says_so(tmp_path: Path, authors_lists, monkeypatch) -> None:
    monkeypatch.setattr(_harms, "default_via_path", lambda: None)
    path = tmp_path / "gemma_misaligned_example.csv"
    pd.read_csv(authors_lists[2]).head(2).to_csv(path, index=False)
    harms_export([path], tmp_path / "harms")
    page = render_report([tmp_path / "harms"], tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'data-testid="harms-uncoded"' in page
