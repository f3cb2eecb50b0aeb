from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from valuelens.cli import app, main

SUMMARY_KEYS = {
    "kind",
    "model",
    "paper_compat",
    "alignment_rate",
    "accuracy",
    "alignment_rate_by_country",
    "alignment_rate_by_scenario",
    "accuracy_by_country",
    "accuracy_by_scenario",
    "distance_mean_by_country",
    "distance_mean_by_scenario",
    "distance_by_country",
    "distance_by_scenario",
    "distance_mean_cellwise",
    "n_cells",
    "n_values",
    "alignment_rate_ci",
    "alignment_rate_paper_compat",
    "alignment_rate_default",
}
TABLES = ["cells", "cell_scores", "distance_country", "distance_scenario", "rankings"]


def _score(humans: Path, llm: Path, out: Path, *options: str) -> Result:
    """`valuelens compass score` through the Typer test runner."""
    args = ["compass", "score", "--humans", str(humans), "--llm", str(llm), "--out", str(out)]
    return CliRunner().invoke(app, [*args, *options])


def test_score_the_authors_files(compass_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    llm = compass_dir / "llms_eval" / "deepseek-r1-distill-llama-70b"
    result = _score(compass_dir / "human_eval", llm, out, "--paper-compat", "--bootstrap", "200")
    assert result.exit_code == 0, result.output
    assert "alignment rate (F1)" in result.output and "0.529" in result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert set(summary) >= SUMMARY_KEYS
    assert summary["kind"] == "compass" and summary["paper_compat"] is True
    assert summary["model"] == "deepseek-r1-distill-llama-70b"
    assert summary["n_cells"] == 28 and len(summary["distance_by_country"]) == 7
    low, high = summary["alignment_rate_ci"]
    assert low < summary["alignment_rate"] < high
    for name in TABLES:
        assert (out / f"{name}.parquet").is_file() and (out / f"{name}.csv").is_file()
    cells = pd.read_parquet(out / "cells.parquet")
    assert len(cells) == 28 * 56
    assert cells["country"].iloc[0] == "United States"  # taxonomy order


def test_the_report_can_read_a_compass_run(compass_dir: Path, tmp_path: Path) -> None:
    from valuelens.report._load import load_run

    out = tmp_path / "run"
    llm = compass_dir / "llms_eval" / "gemma2-9b-it"
    result = _score(compass_dir / "human_eval", llm, out, "--bootstrap", "50")
    assert result.exit_code == 0, result.output
    run = load_run(out)
    assert run.kind == "compass" and run.label == "gemma2-9b-it"
    assert run.cells is not None and len(run.cells) == 28 * 56
    assert run.distance_country is not None and run.cell_scores is not None


def _tidy_inputs(tmp_path: Path) -> tuple[Path, Path]:
    humans = tmp_path / "survey.csv"
    pd.DataFrame(
        {
            "participant": ["a", "a", "b", "b"],
            "country": "Canada",
            "scenario": "healthcare",
            "value": ["Honest", "Wealth", "Honest", "Wealth"],
            "answer": ["2", "-2", "1", "N/A"],
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
    return humans, llm


def test_score_tidy_files_with_a_subset_of_values(tmp_path: Path) -> None:
    humans, llm = _tidy_inputs(tmp_path)
    out = tmp_path / "run"
    result = _score(humans, llm, out)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    # Humans: Honest 1.5 -> agree, Wealth 4 -> disagree; model: 1 -> agree, 3 -> disagree.
    assert summary["alignment_rate"] == 1.0 and summary["accuracy"] == 1.0
    assert summary["model"] == "tiny" and summary["n_values"] == 2


def test_bad_input_is_one_red_line_and_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    humans, llm = _tidy_inputs(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text(humans.read_text(encoding="utf-8").replace("-2", "7"), encoding="utf-8")
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "valuelens",
            "compass",
            "score",
            "--humans",
            str(bad),
            "--llm",
            str(llm),
            "--out",
            str(tmp_path / "run"),
        ],
    )
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "answer 7 is not -2, -1, 0, 1, 2 or N/A" in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()
