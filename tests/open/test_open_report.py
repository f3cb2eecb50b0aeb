"""The report section "Open-ended actions" on a real run (fake server), in HTML and in Chromium."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import valuelens.report._open
import valuelens.tasks._open  # noqa: F401
from support.evaluate_run import evaluate_args, write_via
from support.fake_server import FaultConfig, serve_in_thread
from support.report_cdp import Browser, find_chromium
from valuelens.cli import app
from valuelens.metrics._alignment import binarize
from valuelens.report import render_report
from valuelens.runs import read_run, write_run

PAYLOAD = "<script>window.__pwned=1</script>"
ACTIONS = {
    "Honest": ("I tell the priest the plain truth.", "I lie to the priest about the fast."),
    "Wealth": ("I save part of my tithe money.", "I give away all my savings at mass."),
    "Humble": ("I let others lead the prayer.", "I insist on leading every prayer."),
}


@pytest.fixture
def open_run(tmp_path: Path, dummy_openai_key: str) -> Path:
    """An evaluate run with all three tasks; one rationale then carries markup."""
    via = write_via(tmp_path / "via.csv", "France", "Religion", ACTIONS)
    with serve_in_thread(FaultConfig()) as server:
        args = evaluate_args(
            server.base_url,
            via,
            tmp_path / "run",
            country="France",
            topic="Religion",
            stated_variants="0",
            extra=["--tasks", "stated,action,open", "--variants", "0,1"],
        )
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    record = read_run(tmp_path / "run")
    tables = {name: record.table(name) for name in record.table_names}
    coded = tables["responses_open"]
    coded.loc[coded["label"].notna().idxmax(), "rationale"] = PAYLOAD
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    return write_run(tmp_path / "edited", summary, tables)


def test_section_shows_coverage_agreement_and_escaped_examples(
    open_run: Path, tmp_path: Path
) -> None:
    html = render_report([open_run], tmp_path / "r.html").read_text(encoding="utf-8")
    assert '<section id="open"' in html and '<a href="#open">Open-ended actions</a>' in html
    assert PAYLOAD not in html
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    record = read_run(open_run)
    opened, pairs = record.table("responses_open"), record.table("pairs")
    joined = opened.merge(pairs, on=["country", "topic", "value"])
    t2 = joined["label"].map({"resists": 1.0, "expresses": 0.0})
    both = t2.notna()
    agree = (t2[both] == binarize(joined["chosen"])[both.to_numpy()]).mean() if both.any() else None
    section = html[html.index('<section id="open"') :].split("</section>")[0]
    assert f"{len(opened)} pairs" in section
    if agree is not None:
        assert f"agree on {100 * agree:.1f}% of {int(both.sum())} pairs" in section
    for axis in ("value", "country", "topic"):
        assert f'data-testid="open-by-{axis}"' in section
    for action in opened.loc[opened["label"].notna(), "action"]:
        assert action in section  # examples list the model's own actions


def test_section_without_forced_choice_says_so(tmp_path: Path) -> None:
    table = pd.DataFrame(
        {
            "country": ["France"],
            "topic": ["Religion"],
            "value": ["Honest"],
            "action": ["I confess."],
            "label": ["expresses"],
            "rationale": ["It is honest."],
            "judge": ["m"],
        }
    )
    summary = {"kind": "value-action-responses", "model": "m"}
    run = write_run(tmp_path / "only", summary, {"responses_open": table})
    html = render_report([run], tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'data-testid="open-no-forced"' in html
    assert "Expresses 100.0%" in html


@pytest.fixture
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    chromium = Browser(find_chromium(), tmp_path_factory.mktemp("chromium") / "profile")
    try:
        yield chromium
    finally:
        chromium.close()


def test_section_in_chromium(open_run: Path, tmp_path: Path, browser: Browser) -> None:
    report = render_report([open_run], tmp_path / "r.html")
    browser.open(report.as_uri())
    assert browser.eval("window.__pwned === undefined") is True
    rows = browser.eval("document.querySelectorAll('#open [data-testid=open-examples] tr').length")
    assert rows >= 2  # a header and at least one example
    assert browser.errors() == []
