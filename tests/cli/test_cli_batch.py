"""`valuelens evaluate --batch` end to end against the local fake of the OpenAI Batch API.

The fake (tests/support/fake_batch.py) accepts the uploaded JSONL, reports the batch done on the
first status check and serves an output file that answers each line as the chat fake would. The
run must go through one batch and no direct request, be complete, and leave its answers in the
shared store, so the same evaluation without `--batch` sends nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from support.evaluate_run import write_via
from support.fake_batch import BatchConfig, FakeBatchServer
from support.fake_server import FaultConfig, run_in_thread
from valuelens.cli import app

VALUES = ("Honest", "Wealth")


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBatchServer]:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key-not-real")
    with run_in_thread(FakeBatchServer(FaultConfig(), BatchConfig(polls_to_finish=1))) as fake:
        yield fake


@pytest.fixture
def via_csv(tmp_path: Path) -> Path:
    actions = {
        value: (f"I act on {value.lower()} today.", f"I set {value.lower()} aside today.")
        for value in VALUES
    }
    return write_via(tmp_path / "via.csv", "Canada", "Religion", actions)


def _evaluate(server: FakeBatchServer, via: Path, out: Path, *extra: str) -> list[str]:
    return [
        "evaluate", "--model", "openai:fake", "--base-url", server.base_url, "--via", str(via),
        "--countries", "Canada", "--topics", "Religion", "--values", ",".join(VALUES),
        "--stated-variants", "0,1", "--variants", "4,5", "--out", str(out), "--no-report", *extra,
    ]  # fmt: skip


def test_evaluate_batch_sends_one_batch_and_a_rerun_sends_nothing(
    server: FakeBatchServer, via_csv: Path, tmp_path: Path
) -> None:
    first = CliRunner().invoke(app, _evaluate(server, via_csv, tmp_path / "a", "--batch"))
    assert first.exit_code == 0, first.output
    assert server.batch_stats.openai_batches == 1
    assert server.batch_stats.uploads == 1
    # 2 Task 1 variants (one request each) and 2 values x 2 Task 2 variants.
    assert server.batch_stats.lines == 2 + 2 * 2
    assert server.stats.chat == 0
    summary = json.loads((tmp_path / "a" / "summary.json").read_text(encoding="utf-8"))
    assert summary["complete"] is True and summary["batch"] is True

    again = CliRunner().invoke(app, _evaluate(server, via_csv, tmp_path / "b"))
    assert again.exit_code == 0, again.output
    assert server.stats.chat == 0 and server.batch_stats.openai_batches == 1


def test_dry_run_with_batch_submits_nothing(
    server: FakeBatchServer, via_csv: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app, _evaluate(server, via_csv, tmp_path / "dry", "--batch", "--dry-run")
    )
    assert result.exit_code == 0, result.output
    assert "batch" in result.output
    assert server.batch_stats.uploads == 0 and server.stats.chat == 0
