"""ValueCompass breakdowns through `compass score` and into the report (HTML and a real browser)."""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

import pandas as pd
import pytest
from markupsafe import escape
from typer.testing import CliRunner, Result

from support.report_cdp import Browser, find_chromium
from valuelens.cli import app, main
from valuelens.report._html import render_report
from valuelens.runs import read_run

DEEPSEEK = "deepseek-r1-distill-llama-70b"
GROUP_TABLES = ("group_scores", "group_cells", "directions")


def _score(humans: Path, llm: Path, out: Path, *options: str) -> Result:
    args = ["compass", "score", "--humans", str(humans), "--llm", str(llm), "--out", str(out)]
    return CliRunner().invoke(app, [*args, "--bootstrap", "200", *options])


@pytest.fixture(scope="module")
def scored(compass_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    out = tmp_path_factory.mktemp("groups") / "run"
    llm = compass_dir / "llms_eval" / DEEPSEEK
    result = _score(compass_dir / "human_eval", llm, out, "--paper-compat")
    assert result.exit_code == 0, result.output
    return out, result


def _women(compass_dir: Path) -> int:
    files = compass_dir.glob("human_eval/human_S*.csv")
    return int(sum((pd.read_csv(f)["gender"] == "Woman").sum() for f in files))


def test_score_prints_the_by_group_block(compass_dir: Path, scored: tuple[Path, Result]) -> None:
    out, result = scored
    text = result.output
    assert "by group" in text
    woman = next(line for line in text.splitlines() if "Woman" in line)
    assert re.search(rf"\b{_women(compass_dir)}\b", woman) and re.search(
        r"\d\.\d{3}-\d\.\d{3}", woman
    )
    assert "25-34 years old" in text and "35-44 years old" in text
    assert "(few)" in text and "fewer than 5 respondents" in text
    assert "National Security" in text  # one of the three most one-sided values
    record = read_run(out)
    for name in GROUP_TABLES:
        assert record.has_table(name)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["group_by"] == ["age", "gender", "country", "scenario"]
    assert summary["demographic_spellings"]["age"]["35 - 44 years old"] == "35-44 years old"


def test_by_and_min_respondents_options(compass_dir: Path, tmp_path: Path) -> None:
    llm = compass_dir / "llms_eval" / DEEPSEEK
    out = tmp_path / "run"
    options = ("--by", "gender", "--by", "country", "--min-respondents", "20")
    result = _score(compass_dir / "human_eval", llm, out, *options)
    assert result.exit_code == 0, result.output
    scores = pd.read_parquet(out / "group_scores.parquet")
    assert list(scores["by"].drop_duplicates()) == ["gender", "country"]
    assert "years old" not in result.output
    flagged = scores.set_index("level")["few_respondents"]
    assert bool(flagged["United States"])  # 16 respondents < 20, still listed
    assert not bool(flagged["Woman"])


def test_an_unknown_column_is_one_red_line(
    compass_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    llm = compass_dir / "llms_eval" / DEEPSEEK
    args = ["--humans", str(compass_dir / "human_eval"), "--llm", str(llm)]
    out = tmp_path / "run"
    argv = ["valuelens", "compass", "score", *args, "--out", str(out), "--by", "religion"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "cannot group respondents by 'religion'" in err
    assert "age, gender, country, scenario" in err and len(err.splitlines()) == 1
    assert not out.exists()


@pytest.fixture(scope="module")
def report(scored: tuple[Path, Result], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_report([scored[0]], tmp_path_factory.mktemp("report") / "report.html")


def _section(page: str) -> str:
    start = page.index('<section id="compass-groups"')
    return page[start : page.index("</section>", start)]


def test_report_shows_the_group_section(compass_dir: Path, report: Path) -> None:
    page = report.read_text(encoding="utf-8")
    assert 'href="#compass-groups"' in page
    section = _section(page)
    assert "ValueCompass by group" in section
    for column in ("age", "gender", "country", "scenario"):
        assert f'data-testid="compass-group-{column}"' in section
    row = re.search(r"<td>Woman</td>\s*<td class=\"num\" data-v=\"(\d+)\"", section)
    assert row and int(row.group(1)) == _women(compass_dir)
    assert 'data-testid="few-respondents"' in section
    directions = section[section.index('data-testid="compass-directions"') :]
    assert "<td>National Security</td>" in directions
    assert html.escape("“35 - 44 years old” → “35-44 years old”", quote=False) in section


def test_report_section_escapes_survey_text(tmp_path: Path) -> None:
    humans = tmp_path / "survey.csv"
    level = '<img src=x onerror="alert(1)">'
    pd.DataFrame(
        {
            "participant": ["a", "a", "b", "b"],
            "country": "Canada",
            "scenario": "healthcare",
            "value": ["Honest", "Wealth", "Honest", "Wealth"],
            "answer": ["2", "-2", "1", "N/A"],
            "group": [level, level, "plain", "plain"],
        }
    ).to_csv(humans, index=False)
    llm = tmp_path / "answers.csv"
    pd.DataFrame(
        {
            "model": "tiny",
            "country": "Canada",
            "scenario": "Healthcare",
            "variant": [0, 0],
            "value": ["Honest", "Wealth"],
            "likert": [1, 3],
        }
    ).to_csv(llm, index=False)
    out = tmp_path / "run"
    result = _score(humans, llm, out)
    assert result.exit_code == 0, result.output
    section = _section(render_report([out], tmp_path / "r.html").read_text(encoding="utf-8"))
    assert level not in section and "<img" not in section
    assert f"<td>{escape(level)}" in section  # the level name, as text


def test_the_section_is_visible_in_a_browser(report: Path, tmp_path: Path) -> None:
    browser = Browser(find_chromium(), tmp_path / "profile")
    try:
        browser.viewport(1280, 900)
        browser.open(report.as_uri())
        assert browser.errors() == []
        found = browser.eval(
            "(() => { const s = document.getElementById('compass-groups');"
            " const t = s.querySelector('[data-testid=compass-group-gender]');"
            " const r = t.getBoundingClientRect();"
            " return [t.rows.length, r.width > 200, s.querySelectorAll('svg').length]; })()"
        )
    finally:
        browser.close()
    rows, wide, bars = found
    assert rows == 1 + 4 and wide  # header and the four gender levels
    assert bars >= 22  # one interval bar per level
