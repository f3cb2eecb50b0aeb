"""The run record: one typed, versioned summary per run kind, tables and manifest on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import valuelens
from valuelens._errors import ValuelensError
from valuelens.cli import app
from valuelens.runs import (
    RUN_KINDS,
    SCHEMA_VERSION,
    SUMMARY_MODELS,
    CompassAnswersSummary,
    CompassSummary,
    PredictRunSummary,
    PredictScoresSummary,
    RunSummary,
    ValueActionResponsesSummary,
    ValueActionSummary,
    read_manifest,
    read_run,
    read_summary,
    write_run,
)


def _written(run: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    return data


def test_every_kind_has_a_model() -> None:
    assert len(RUN_KINDS) == 6
    assert set(RUN_KINDS) <= set(SUMMARY_MODELS)
    # the analyses register their own kinds when valuelens.runs is imported
    assert {"harms", "annotation"} <= set(SUMMARY_MODELS)


def test_a_scored_value_action_run_reads_back_typed(tmp_path: Path, reference_dir: Path) -> None:
    out = tmp_path / "va"
    result = valuelens.score(
        reference_dir / "outputs/evaluation/gpt-4o-mini_t1.csv",
        reference_dir / "reconstructed/gpt-4o-mini_t1t2_joined.reconstructed.csv",
        out=out,
        model="gpt-4o-mini",
        n_resamples=20,
    )
    written = _written(out)
    # today's keys, unchanged, plus the schema version
    assert set(written) == set(result.summary) | {"version"}
    assert written["version"] == SCHEMA_VERSION
    record = read_run(out)
    summary = record.summary
    assert isinstance(summary, ValueActionSummary)
    assert summary.version == SCHEMA_VERSION and summary.name == "gpt-4o-mini"
    assert summary.alignment_rate == pytest.approx(written["alignment_rate"])
    assert summary.n_pairs == 7392 and summary.bootstrap is not None
    assert summary.bootstrap.n_resamples == 20
    assert summary.alignment_rate_by_country is not None
    assert len(summary.alignment_rate_by_country) == 12
    assert summary.to_dict() == written
    pairs = record.table("pairs")
    assert len(pairs) == 7392 and record.table("pairs") is pairs  # read once
    assert record.manifest is not None
    assert record.manifest.tables["pairs"].rows == 7392
    assert "choices" in record.table_names and record.manifest.kind == "value-action"


def test_a_compass_run_reads_back_typed(tmp_path: Path, reference_dir: Path) -> None:
    results = reference_dir / "valuecompass" / "results"
    if not results.is_dir():
        pytest.skip(f"no {results}")
    out = tmp_path / "compass"
    llm = results / "llms_eval" / "deepseek-r1-distill-llama-70b"
    args = ["compass", "score", "--humans", str(results / "human_eval"), "--llm", str(llm)]
    done = CliRunner().invoke(app, [*args, "--out", str(out), "--bootstrap", "20"])
    assert done.exit_code == 0, done.output
    summary = read_summary(out)
    assert isinstance(summary, CompassSummary)
    assert summary.n_cells == 28 and summary.model == "deepseek-r1-distill-llama-70b"
    assert summary.scenarios is not None and len(summary.scenarios) == 4
    assert summary.distance_headline == pytest.approx(_written(out)["distance_mean_by_country"])
    assert read_run(out).table("cells").shape[0] == 28 * 56


def test_a_predict_scores_run_reads_back_typed(tmp_path: Path, reference_dir: Path) -> None:
    folder = reference_dir / "outputs" / "evaluation" / "explanations"
    if not folder.is_dir():
        pytest.skip(f"no {folder}")
    done = CliRunner().invoke(app, ["predict", "score", str(folder), "--out", str(tmp_path)])
    assert done.exit_code == 0, done.output
    summary = read_summary(tmp_path)
    assert isinstance(summary, PredictScoresSummary)
    assert summary.scores is not None and sorted(summary.scores) == ["chatgpt", "llama3"]
    assert summary.positive_class is True and summary.version == SCHEMA_VERSION


@pytest.mark.parametrize(
    ("kind", "model", "keys"),
    [
        ("value-action-responses", ValueActionResponsesSummary, {"model": "m", "label": "m"}),
        ("compass-answers", CompassAnswersSummary, {"n_requests": 4, "n_failed_requests": 0}),
        ("predict-run", PredictRunSummary, {"target": "t", "observer": "o", "shots_per_label": 2}),
    ],
)
def test_kinds_that_need_a_model_round_trip(
    tmp_path: Path, kind: str, model: type[RunSummary], keys: dict[str, object]
) -> None:
    summary = {"kind": kind, **keys, "complete": True, "usage": {"cost_usd": None}}
    write_run(tmp_path, summary, {"t": pd.DataFrame({"a": [1, 2]})})
    read = read_summary(tmp_path)
    assert type(read) is model and read.complete is True
    for key, value in keys.items():
        assert getattr(read, key) == value


def test_an_old_summary_without_kind_or_version_loads(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(
        json.dumps({"alignment_rate": 0.5, "paper_compat": True, "made_up": [1]})
    )
    summary = read_summary(tmp_path)
    assert isinstance(summary, ValueActionSummary)
    assert summary.kind == "value-action" and summary.version == 0
    assert summary.alignment_rate == 0.5 and summary.paper_compat is True
    assert summary.get("made_up") == [1] and summary.get("accuracy", "absent") == "absent"
    assert read_manifest(tmp_path) is None and read_run(tmp_path).manifest is None


def test_a_summary_that_does_not_fit_its_kind_is_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValuelensError) as caught:
        write_run(tmp_path, {"kind": "value-action", "alignment_rate": "high"}, {})
    assert "alignment_rate" in str(caught.value) and "\n" not in str(caught.value)
    assert not (tmp_path / "summary.json").exists()
    with pytest.raises(ValuelensError, match="records no 'kind'"):
        write_run(tmp_path, {"alignment_rate": 0.5}, {})


def test_a_broken_summary_on_disk_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(json.dumps({"kind": "compass", "n_cells": "many"}))
    with pytest.raises(ValuelensError, match=r"summary.json: n_cells: input should be"):
        read_summary(tmp_path)


def test_a_summary_from_a_newer_valuelens_is_refused(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(json.dumps({"kind": "compass", "version": 99}))
    with pytest.raises(ValuelensError, match="newer valuelens"):
        read_summary(tmp_path)


def test_nan_and_numpy_numbers_are_written_as_json(tmp_path: Path) -> None:
    import numpy as np

    write_run(
        tmp_path,
        {"kind": "value-action", "accuracy": np.float64("nan"), "n_pairs": np.int64(3)},
        {},
    )
    assert _written(tmp_path) == {
        "kind": "value-action",
        "version": SCHEMA_VERSION,
        "accuracy": None,
        "n_pairs": 3,
    }


def test_a_stale_manifest_is_ignored(tmp_path: Path) -> None:
    write_run(tmp_path, {"kind": "value-action"}, {"pairs": pd.DataFrame({"a": [1, 2, 3]})})
    manifest = read_manifest(tmp_path)
    assert manifest is not None and manifest.tables["pairs"].rows == 3
    assert manifest.tables["pairs"].columns == ["a"]
    (tmp_path / "summary.json").write_text(json.dumps({"kind": "value-action", "n_pairs": 1}))
    assert read_manifest(tmp_path) is None
    assert read_run(tmp_path).table_names == ["pairs"]  # then the files found


def test_a_missing_table_is_one_line(tmp_path: Path) -> None:
    write_run(tmp_path, {"kind": "value-action"}, {})
    record = read_run(tmp_path)
    assert record.optional_table("pairs") is None
    with pytest.raises(ValuelensError, match=r"has no pairs\.parquet or pairs\.csv table"):
        record.table("pairs")
    with pytest.raises(ValuelensError, match="does not exist"):
        read_run(tmp_path / "nowhere")


def test_an_unknown_kind_is_kept_as_a_plain_summary(tmp_path: Path) -> None:
    write_run(tmp_path, {"kind": "x", "n": 1}, {})
    assert _written(tmp_path) == {"kind": "x", "n": 1}  # not ours to version
    summary = read_summary(tmp_path)
    assert type(summary) is RunSummary and summary.kind == "x" and summary.get("n") == 1
