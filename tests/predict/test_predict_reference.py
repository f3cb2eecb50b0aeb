"""The authors' explanation-prediction outputs: our scores against a plain recount of the CSVs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from valuelens.cli import app

SETTINGS = ("default", "attribution", "explanation", "attribution_explanation")
TARGETS = ("chatgpt", "llama3")


def _recount(path: Path) -> tuple[float, float, int]:
    """F1 (positive = True) and accuracy straight from the raw CSV, without valuelens."""
    tp = fp = fn = tn = 0
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            truth = row["label"] == "True"
            first_line = row["result"].strip().splitlines()[0]
            assert first_line.startswith("Label:"), first_line
            guess = first_line.split(":", 1)[1].strip() == "True"
            tp += truth and guess
            fp += guess and not truth
            fn += truth and not guess
            tn += not truth and not guess
    n = tp + fp + fn + tn
    return 2 * tp / (2 * tp + fp + fn), (tp + tn) / n, n


@pytest.fixture(scope="module")
def explanations(reference_dir: Path) -> Path:
    folder = reference_dir / "outputs" / "evaluation" / "explanations"
    if not folder.is_dir():
        pytest.skip(f"no {folder}")
    return folder


def test_scores_of_the_eight_files_match_a_plain_recount(
    explanations: Path, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        app, ["predict", "score", str(explanations), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["parse_status"] == {"ok": 1600}
    assert sorted(summary["scores"]) == list(TARGETS)
    for target in TARGETS:
        assert list(summary["scores"][target]) == list(SETTINGS)  # canonical order
        for setting in SETTINGS:
            f1, accuracy, n = _recount(explanations / f"{target}_explanation_outputs_{setting}.csv")
            got = summary["scores"][target][setting]
            assert got["n"] == n == 200 and got["n_unparsed"] == 0
            assert got["f1"] == pytest.approx(f1, abs=1e-12)
            assert got["accuracy"] == pytest.approx(accuracy, abs=1e-12)
    assert (tmp_path / "predictions.parquet").is_file() and (tmp_path / "scores.csv").is_file()


def test_headline_numbers(explanations: Path) -> None:
    # What the recount gives (rounded); explanations help both targets' observer a little.
    expected = {
        ("chatgpt", "default"): (0.795, 0.745),
        ("chatgpt", "attribution"): (0.823, 0.785),
        ("chatgpt", "explanation"): (0.830, 0.795),
        ("chatgpt", "attribution_explanation"): (0.830, 0.795),
        ("llama3", "default"): (0.778, 0.715),
        ("llama3", "attribution"): (0.797, 0.745),
        ("llama3", "explanation"): (0.823, 0.785),
        ("llama3", "attribution_explanation"): (0.820, 0.780),
    }
    for (target, setting), (f1, accuracy) in expected.items():
        got_f1, got_accuracy, _ = _recount(
            explanations / f"{target}_explanation_outputs_{setting}.csv"
        )
        assert (round(got_f1, 3), round(got_accuracy, 3)) == (f1, accuracy)


def test_one_file_and_the_pilot_layout(explanations: Path) -> None:
    from valuelens.data import load_predictions

    one = load_predictions(explanations / "llama3_explanation_outputs_explanation.csv")
    assert set(one["target"]) == {"llama3"} and set(one["setting"]) == {"explanation"}
    assert one["item"].tolist()[:3] == ["0", "1", "2"]
    assert one["raw"].str.startswith("Label:").all()
    pilot = explanations.parent / "explanation_outputs_default.csv"
    if pilot.is_file():  # the 10-item pilot has no target prefix
        table = load_predictions(pilot)
        assert set(table["target"]) == {"unknown"} and len(table) == 10
