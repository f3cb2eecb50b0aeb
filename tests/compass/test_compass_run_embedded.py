"""`valuelens compass run` end to end on the embedded llama.cpp model (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from valuelens.cli import app

VALUES = "Honest,Wealth,Daring,Healthy,Social Power"


@pytest.mark.slow
def test_compass_run_collects_resumes_and_scores(tmp_path: Path) -> None:
    out = tmp_path / "answers"
    command = [
        "compass",
        "run",
        "--model",
        "embedded",
        "--countries",
        "Canada",
        "--scenarios",
        "healthcare",
        "--values",
        VALUES,
        "--variants",
        "0,6",
        "--concurrency",
        "2",
        "--out",
        str(out),
    ]
    first = CliRunner().invoke(app, command)
    assert first.exit_code == 0, first.output
    answers = pd.read_parquet(out / "answers.parquet")
    assert len(answers) == 2 * 5
    assert set(answers["country"]) == {"Canada"} and set(answers["scenario"]) == {"Healthcare"}
    assert set(answers["variant"]) == {0, 6}
    # The JSON schema keeps even a 135M model to the four options.
    assert set(answers["parse_status"]) == {"ok"}
    assert answers["likert"].isin([1.0, 2.0, 3.0, 4.0]).all()
    replies = pd.read_parquet(out / "replies.parquet")
    assert not replies["cached"].any() and replies["error"].isna().all()

    again = CliRunner().invoke(app, command)  # resumable: everything comes from the store
    assert again.exit_code == 0, again.output
    assert pd.read_parquet(out / "replies.parquet")["cached"].all()
    pd.testing.assert_frame_equal(pd.read_parquet(out / "answers.parquet"), answers)

    survey = tmp_path / "survey.csv"
    pd.DataFrame(
        {
            "participant": "p1",
            "country": "Canada",
            "scenario": "Healthcare",
            "value": VALUES.split(","),
            "answer": [2, -2, 0, 2, -1],
        }
    ).to_csv(survey, index=False)
    scored = CliRunner().invoke(
        app,
        [
            "compass",
            "score",
            "--humans",
            str(survey),
            "--llm",
            str(out / "answers.parquet"),
            "--out",
            str(tmp_path / "score"),
        ],
    )
    assert scored.exit_code == 0, scored.output
    summary = json.loads((tmp_path / "score" / "summary.json").read_text(encoding="utf-8"))
    assert summary["n_cells"] == 1 and summary["n_values"] == 5
    assert summary["model"].startswith("SmolLM2-135M-Instruct")
    assert 0.0 <= summary["alignment_rate"] <= 1.0
