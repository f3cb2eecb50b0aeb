"""`valuelens predict run` end to end on the embedded model, over a small hand-made evaluate run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from valuelens.cli import app
from valuelens.report import write_run
from valuelens.tasks import ActionRecord, action_task

PAIRS = {
    "Honest": (
        "I return the extra change the cashier gave me by mistake.",
        "I keep the extra change the cashier gave me by mistake.",
    ),
    "Wealth": (
        "I put part of every paycheck into savings to build my wealth.",
        "I spend each paycheck right away without thinking about saving.",
    ),
    "Helpful": (
        "I help my neighbour carry her groceries up the stairs.",
        "I walk past my neighbour struggling with her groceries.",
    ),
}
CHOSEN = {"Honest": "positive", "Wealth": "negative", "Helpful": "positive"}


def _evaluate_run(folder: Path) -> Path:
    """An `evaluate` run directory with the `actions` and `responses_action` tables."""
    actions = pd.DataFrame(
        [
            {
                "country": "Canada",
                "topic": "Work Orientation",
                "value": value,
                "polarity": polarity,
                "action": text,
                "attributions": [text.split()[1] + " " + text.split()[2]],
                "explanation": f"This is how I act on {value.lower()}.",
                "raw": text,
                "parse_status": "ok",
            }
            for value, texts in PAIRS.items()
            for polarity, text in zip(("positive", "negative"), texts, strict=True)
        ]
    )
    # Through the real Task 2 record type, so the columns are exactly those `evaluate` writes.
    records = [
        ActionRecord(
            country="Canada",
            topic="Work Orientation",
            value=value,
            variant=5,
            scoring="generate",
            option1_polarity="negative",
            choice=choice,
            parse_status="ok",
            raw='{"action": "Option 1"}',
        )
        for value, choice in CHOSEN.items()
    ]
    responses = action_task().to_frame(records)
    summary = {"model": "embedded", "label": "target-model", "kind": "value-action-responses"}
    return write_run(folder, summary, {"actions": actions, "responses_action": responses})


@pytest.mark.slow
def test_predict_run_on_the_embedded_model(tmp_path: Path) -> None:
    run = _evaluate_run(tmp_path / "run")
    out = tmp_path / "predict"
    command = [
        "predict",
        "run",
        "--run",
        str(run),
        "--model",
        "embedded",
        "--out",
        str(out),
        "--shots",
        "1",  # one pair: one chosen and one rejected example
        "--concurrency",
        "2",
    ]
    first = CliRunner().invoke(app, command)
    assert first.exit_code == 0, first.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["target"] == "target-model"
    assert summary["n_examples"] == 2 and summary["n_items"] == 4
    assert summary["settings"] == [
        "default",
        "attribution",
        "explanation",
        "attribution_explanation",
    ]
    assert sum(summary["parse_status"].values()) == 4 * 4
    assert summary["usage"]["requests_sent"] == 16
    for setting, scores in summary["scores"]["target-model"].items():
        assert scores["n"] == 4, setting
        assert 0.0 <= scores["f1"] <= 1.0 and 0.0 <= scores["accuracy"] <= 1.0

    predictions = pd.read_parquet(out / "predictions.parquet")
    assert len(predictions) == 16 and predictions["raw"].notna().all()
    items = pd.read_parquet(out / "items.parquet")
    examples = pd.read_parquet(out / "examples.parquet")
    assert sorted(items["label"]) == [False, False, True, True]
    assert not set(items["value"]) & set(examples["value"])
    for row in items.itertuples():
        assert row.label == (row.polarity == CHOSEN[row.value])

    # Scored again from its own table, and answered from the cache on a rerun.
    rescored = CliRunner().invoke(app, ["predict", "score", str(out), "--out", str(tmp_path / "s")])
    assert rescored.exit_code == 0, rescored.output
    again = CliRunner().invoke(app, command)
    assert again.exit_code == 0, again.output
    rerun = json.loads((out / "summary.json").read_text())
    last = rerun["usage_last_invocation"]
    assert last["requests_sent"] == 0 and last["requests_cached"] == 16
    assert rerun["usage"]["requests_sent"] == 16 and rerun["invocations"] == 2
    assert rerun["scores"] == summary["scores"]
