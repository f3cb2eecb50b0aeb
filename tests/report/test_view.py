"""`valuelens view`: the runs index, as a file and served on 127.0.0.1, in headless Chromium."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from support.report_cdp import Browser
from valuelens.cli import app
from valuelens.report._index import index_runs, write_index
from valuelens.report._serve import IndexServer


@pytest.fixture(scope="module")
def runs_root(
    tmp_path_factory: pytest.TempPathFactory,
    item_run: Path,
    plain_run: Path,
    compass_runs: list[Path],
) -> Path:
    """A folder as a researcher keeps it: runs at two depths, one incomplete, one broken."""
    root = tmp_path_factory.mktemp("view") / "runs"
    shutil.copytree(item_run, root / "with-items")
    shutil.copytree(plain_run, root / "sweep" / "plain")
    for run in compass_runs:
        shutil.copytree(run, root / "compass" / run.name)
    incomplete = root / "sweep" / "partial"
    shutil.copytree(plain_run, incomplete)
    summary = json.loads((incomplete / "summary.json").read_text())
    summary.update(complete=False, incomplete="12 requests failed for good (HTTP 500)")
    summary["label"] = "partial run"
    (incomplete / "summary.json").write_text(json.dumps(summary))
    broken = root / "broken"
    broken.mkdir()
    (broken / "summary.json").write_text("{not json")
    (root / "with-items" / "report.html").write_text("<!doctype html><title>r</title>")
    (root / ".hidden" / "run").mkdir(parents=True)
    shutil.copy(plain_run / "summary.json", root / ".hidden" / "run" / "summary.json")
    return root


def _summary(path: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((path / "summary.json").read_text())
    return loaded


def test_index_lists_every_run_with_its_numbers(runs_root: Path) -> None:
    rows = {row.path: row for row in index_runs(runs_root)}
    assert set(rows) == {
        "with-items",
        "sweep/plain",
        "sweep/partial",
        "compass/c1",
        "compass/c2",
        "broken",
    }
    plain = rows["sweep/plain"]
    expected = _summary(runs_root / "sweep" / "plain")
    assert plain.kind == "value-action"
    assert plain.model == expected["model"]
    shown = {h.label: h.value for h in plain.headlines}
    rate = expected["alignment_rate"]
    assert isinstance(rate, float)
    assert f"{rate:.3f}" in shown.values()
    assert rows["sweep/partial"].complete is False
    assert "12 requests failed" in (rows["sweep/partial"].incomplete or "")
    assert rows["broken"].kind == "unreadable"
    assert rows["broken"].error
    assert rows["with-items"].report == "with-items/report.html"
    assert rows["sweep/plain"].report is None
    assert rows["compass/c1"].kind == "compass"


def test_index_of_a_folder_without_runs_says_so(tmp_path: Path) -> None:
    path = write_index(tmp_path)
    assert "No run directories" in path.read_text()


def test_view_command_writes_the_index(runs_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "index.html"
    result = CliRunner().invoke(app, ["view", str(runs_root), "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "partial run" in html and "compass-one" in html
    assert "<b>A</b>" not in html  # the run label carries markup; it must arrive escaped


def test_view_of_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["view", str(tmp_path / "nope")])
    assert result.exit_code != 0
    assert "is not a folder of runs" in str(result.exception or result.output)


def test_index_in_chromium_selects_runs_for_a_comparison(
    browser: Browser, runs_root: Path, tmp_path: Path
) -> None:
    page = write_index(runs_root, tmp_path / "index.html")
    browser.open(page.as_uri())
    assert browser.eval("document.documentElement.getAttribute('data-index-ready')") == "1"
    assert browser.eval("document.querySelectorAll('#runs tbody tr').length") == 6
    assert browser.eval("document.getElementById('compare').disabled") is True
    browser.eval(
        "(() => { for (const p of ['sweep/plain', 'compass/c1']) {"
        " const box = document.querySelector(`input.pick[value='${p}']`);"
        " box.click(); } })()"
    )
    command = browser.eval("document.getElementById('compare-command').textContent")
    assert command == "valuelens report sweep/plain compass/c1 --out comparison.html"
    assert browser.eval("document.querySelector(\"input.pick[value='broken']\").disabled") is True
    assert browser.errors() == []


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def test_served_index_compares_selected_runs(browser: Browser, runs_root: Path) -> None:
    with IndexServer(runs_root) as server:
        assert server.url.startswith("http://127.0.0.1:")
        status, html = _get(server.url)
        assert status == 200 and "compass-two" in html
        assert _get(server.url + "compare?run=../..")[0] == 400
        assert _get(server.url + "compare")[0] == 400
        assert _get(server.url + "with-items/report.html")[0] == 200

        browser.open(server.url)
        assert browser.eval("document.documentElement.getAttribute('data-index-ready')") == "1"
        browser.events.clear()
        browser.eval(
            "(() => { for (const p of ['with-items', 'sweep/plain']) {"
            " document.querySelector(`input.pick[value='${p}']`).click(); }"
            " document.getElementById('compare').click(); })()"
        )
        browser.wait_event("Page.loadEventFired")
        assert browser.eval("location.pathname") == "/compare"
        assert browser.eval("document.documentElement.getAttribute('data-report-ready')") == "1"
        assert "model B" in str(browser.eval("document.body.textContent"))
