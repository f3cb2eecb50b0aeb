"""`valuelens report` on the command line."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from valuelens.cli import app


def test_report_command_writes_the_page(tmp_path: Path, item_run: Path, plain_run: Path) -> None:
    out = tmp_path / "out" / "report.html"
    result = CliRunner().invoke(
        app, ["report", str(item_run), str(plain_run), "--out", str(out), "--title", "Two runs"]
    )
    assert result.exit_code == 0, result.output
    assert "report.html" in result.output and "2 run(s)" in result.output
    assert "<title>Two runs</title>" in out.read_text()


def test_report_command_reports_a_missing_directory(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["report", str(tmp_path / "nope"), "--out", str(tmp_path / "r.html")]
    )
    assert result.exit_code != 0
    assert "does not exist" in str(result.exception)
    assert not (tmp_path / "r.html").exists()
