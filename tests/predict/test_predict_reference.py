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


# F1 and accuracy of each of the authors' eight files, rounded to three places as published;
# explanations help both targets' observer a little.
HEADLINE = {
    ("chatgpt", "default"): (0.795, 0.745),
    ("chatgpt", "attribution"): (0.823, 0.785),
    ("chatgpt", "explanation"): (0.830, 0.795),
    ("chatgpt", "attribution_explanation"): (0.830, 0.795),
    ("llama3", "default"): (0.778, 0.715),
    ("llama3", "attribution"): (0.797, 0.745),
    ("llama3", "explanation"): (0.823, 0.785),
    ("llama3", "attribution_explanation"): (0.820, 0.780),
}


def test_headline_numbers(explanations: Path) -> None:
    for (target, setting), (f1, accuracy) in HEADLINE.items():
        got_f1, got_accuracy, _ = _recount(
            explanations / f"{target}_explanation_outputs_{setting}.csv"
        )
        assert (round(got_f1, 3), round(got_accuracy, 3)) == (f1, accuracy)


def test_json_prints_one_object_per_file_and_nothing_else(explanations: Path) -> None:
    result = CliRunner().invoke(app, ["predict", "score", str(explanations), "--json"])
    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.stdout.splitlines()]  # only JSON lines
    assert len(printed) == len(HEADLINE) == 8
    for entry in printed:
        key = (entry["target"], entry["setting"])
        name = f"{key[0]}_explanation_outputs_{key[1]}.csv"
        assert Path(entry["file"]).name == name
        assert (round(entry["f1"], 3), round(entry["accuracy"], 3)) == HEADLINE[key]
        f1, accuracy, n = _recount(explanations / name)
        assert entry["n"] == n == 200
        assert entry["f1"] == pytest.approx(f1, abs=1e-12)
        assert entry["accuracy"] == pytest.approx(accuracy, abs=1e-12)
    assert {(e["target"], e["setting"]) for e in printed} == set(HEADLINE)


def test_json_with_out_also_writes_the_run(explanations: Path, tmp_path: Path) -> None:
    one = explanations / "llama3_explanation_outputs_default.csv"
    result = CliRunner().invoke(
        app, ["predict", "score", str(one), "--json", "--out", str(tmp_path / "run")]
    )
    assert result.exit_code == 0, result.output
    (entry,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert (round(entry["f1"], 3), round(entry["accuracy"], 3)) == HEADLINE[("llama3", "default")]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["scores"]["llama3"]["default"]["f1"] == entry["f1"]


def test_a_tidy_table_without_target_or_setting_leaves_them_out(tmp_path: Path) -> None:
    table = tmp_path / "mine.csv"
    # 3 true positives, 1 false positive, 1 false negative, 1 true negative: F1 = 6/8
    rows = [("s1", True, True)] * 3 + [
        ("s1", False, True),
        ("s2", True, False),
        ("s2", False, False),
    ]
    table.write_text(
        "setting,label,predicted\n" + "".join(f"{s},{truth},{guess}\n" for s, truth, guess in rows),
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["predict", "score", str(table), "--json"])
    assert result.exit_code == 0, result.output
    (entry,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert "target" not in entry and "setting" not in entry  # two settings; no target
    assert entry["f1"] == pytest.approx(6 / 8) and entry["accuracy"] == pytest.approx(4 / 6)
    assert entry["n"] == 6
