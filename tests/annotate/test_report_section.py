"""The report's VIA quality section: the variant comparison, rates with agreement, disagreements."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import valuelens.report._annotate  # noqa: F401 - registers the section (until report/__init__ does)
from support.report_cdp import Browser, find_chromium
from valuelens.report import render_report
from valuelens.runs import read_run

PAYLOAD = "<script>window.__pwned=1</script>"
FIRST = {"correct": [1, 1, 1, 0, 1, 1], "harmless": [1] * 6}
SECOND = {"correct": [1, 0, 1, 0, 1, 1], "harmless": [1] * 6}


@pytest.fixture
def scored(generated_via: Path, tmp_path: Path, invoke, fill) -> tuple[Path, pd.DataFrame]:
    sheets = tmp_path / "sheets"
    invoke("annotate", "sheet", generated_via, "--out", sheets, "--per", "variant", "--n", 2)
    sheet = pd.read_csv(sheets / "sheet.csv", keep_default_na=False)
    a = fill(sheet, FIRST, tmp_path / "ann1.csv")
    b = fill(sheet.assign(annotator=PAYLOAD), SECOND, tmp_path / "b.csv")
    out = tmp_path / "scores"
    invoke("annotate", "import", a, b, "--out", out)
    return out, sheet


def test_section_shows_variants_side_by_side(
    scored: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    out, sheet = scored
    html = render_report([out], tmp_path / "r.html").read_text(encoding="utf-8")
    section = html[html.index('<section id="annotation"') :]
    section = section[: section.index("</section>")]
    variants = section[section.index('data-testid="annotation-variants"') :]
    variants = variants[: variants.index("</table>")]
    rows = variants.split("<tr>")[2:]  # after the caption/head row
    assert [row.split("</td>")[0].rsplit(">", 1)[1] for row in rows] == ["0", "5", "7"]
    for row, variant in zip(rows, (0, 5, 7), strict=True):
        mine = [i for i, v in enumerate(sheet["variant"]) if v == variant]
        agreed = [FIRST["correct"][i] for i in mine if FIRST["correct"][i] == SECOND["correct"][i]]
        correct_cell = row.split("</td>")[2]  # variant, items, then correctness
        assert f"{100 * sum(agreed) / len(agreed):.1f}%" in correct_cell
    assert 'data-testid="annotation-criteria"' in section
    assert "0.7073" in section  # the paper's kappa, for context
    flagged = section[section.index('data-testid="annotation-flagged"') :]
    assert sheet["item_id"][1] in flagged and "&lt;script&gt;" in flagged
    assert PAYLOAD not in html
    assert read_run(out).summary.n_flagged == 1


def test_section_in_a_browser(scored: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    out, _ = scored
    report = render_report([out], tmp_path / "r.html")
    browser = Browser(find_chromium(), tmp_path / "profile")
    try:
        browser.viewport(1280, 900)
        browser.open(report.as_uri())
        assert browser.eval("document.documentElement.getAttribute('data-report-ready')") == "1"
        cells = browser.eval(
            "[...document.querySelectorAll('[data-testid=annotation-variants] tbody td:first-child')]"
            ".map(t => t.textContent)"
        )
        assert cells == ["0", "5", "7"]
        link = browser.eval(
            "document.querySelector('.nav-links a[href=\"#annotation\"]').textContent"
        )
        assert link == "VIA quality"
        assert browser.eval("typeof window.__pwned") == "undefined"
        assert browser.errors() == []
    finally:
        browser.close()
