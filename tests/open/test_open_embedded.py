"""Open-ended Task 2 on the embedded llama.cpp model, two pairs, through `valuelens evaluate`."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import valuelens.tasks._open  # noqa: F401  (registers the task until tasks/__init__ does)
from support.evaluate_run import write_via
from valuelens.cli import app

ACTIONS = {
    "Honest": ("I tell my manager I made the mistake.", "I blame a colleague for my mistake."),
    "Wealth": ("I ask for the raise I have earned.", "I turn down every bonus I am offered."),
}


@pytest.mark.slow
def test_open_task_on_the_embedded_model(tmp_path: Path) -> None:
    via = write_via(tmp_path / "via.csv", "Canada", "Work Orientation", ACTIONS)
    run = tmp_path / "run"
    command = ["evaluate", "--model", "embedded", "--via", str(via), "--tasks", "open"]
    command += ["--countries", "Canada", "--topics", "Work Orientation"]
    command += ["--values", "Honest,Wealth", "--concurrency", "2", "--out", str(run)]
    first = CliRunner().invoke(app, command)
    assert first.exit_code == 0, first.output

    table = pd.read_parquet(run / "responses_open.parquet")
    assert sorted(table["value"]) == ["Honest", "Wealth"]
    # Whatever a small model writes is kept with how it was read.
    assert table["action_raw"].str.len().gt(0).all()
    assert set(table["action_status"]) <= {"ok", "repaired", "failed"}
    judged = table["action"].notna()
    assert table.loc[judged, "judge_raw"].str.len().gt(0).all()
    assert set(table.loc[judged, "judge_status"]) <= {"ok", "repaired", "failed"}
    assert set(table["label"].dropna()) <= {"expresses", "resists", "unrelated"}
    summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert summary["open_n_pairs"] == 2
    assert summary["usage"]["requests_sent"] == 2 + int(judged.sum())

    again = CliRunner().invoke(app, command)
    assert again.exit_code == 0, again.output
    rerun = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    assert rerun["usage_last_invocation"]["requests_sent"] == 0
