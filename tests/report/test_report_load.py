"""Reading run directories: required and optional tables, and clear one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from support.report_runfactory import grid, synthetic_pairs, write_value_action_run
from valuelens._errors import ValuelensError
from valuelens.report._html import render_report
from valuelens.report._load import CompassRun, ValueActionRun, load_run, load_runs


def test_value_action_run_with_items(item_run: Path) -> None:
    run = load_run(item_run)
    assert isinstance(run, ValueActionRun)
    assert run.label == "model <b>A</b>" and run.has_items
    assert run.countries == ["United States", "India", "Pakistan"]
    assert len(run.values) == 56 and run.variants is not None


def test_csv_only_run_without_optional_tables(tmp_path: Path) -> None:
    pairs = synthetic_pairs(grid(2, 2), seed=4)
    run_dir = write_value_action_run(
        tmp_path / "csv",
        pairs,
        label="csv",
        csv_only=True,
        drop=("scenarios", "distance_country", "distance_topic"),
    )
    run = load_run(run_dir)
    assert isinstance(run, ValueActionRun) and not run.has_items and run.scenarios is None
    # derived distance = |mean stated - mean chosen| over the topics, computed here independently
    part = pairs[(pairs["country"] == "India") & (pairs["value"] == "Wealth")]
    expected = abs(part["stated"].mean() - part["chosen"].mean())
    got = run.distance_country.set_index(["country", "value"]).loc[("India", "Wealth"), "distance"]
    assert got == pytest.approx(expected)
    html = render_report([run_dir], tmp_path / "r.html").read_text()
    assert "Stated (Task 1): country × value" in html


def test_pairs_without_derived_columns_get_them(tmp_path: Path) -> None:
    pairs = synthetic_pairs(grid(1, 2, 8), seed=5)
    run_dir = write_value_action_run(tmp_path / "bare", pairs, label="bare")
    bare = pairs[["country", "topic", "value", "stated", "chosen"]]
    bare.to_parquet(run_dir / "pairs.parquet", index=False)
    run = load_run(run_dir)
    assert isinstance(run, ValueActionRun)
    np.testing.assert_array_equal(
        run.pairs["misaligned"].to_numpy(), pairs["misaligned"].to_numpy()
    )
    assert run.pairs["direction"].tolist() == pairs["direction"].tolist()


def test_duplicate_labels_become_unique(tmp_path: Path, plain_run: Path) -> None:
    copy = tmp_path / "again"
    shutil.copytree(plain_run, copy)
    runs = load_runs([plain_run, copy])
    assert [r.label for r in runs] == ["model B", "model B (again)"]


def test_compass_run_accepts_llm_column(compass_runs: list[Path], tmp_path: Path) -> None:
    run_dir = tmp_path / "llm"
    shutil.copytree(compass_runs[0], run_dir)
    cells = pd.read_parquet(run_dir / "cells.parquet").rename(columns={"model": "llm"})
    cells.to_parquet(run_dir / "cells.parquet", index=False)
    for name in ("distance_country", "distance_scenario"):
        (run_dir / f"{name}.parquet").unlink()
        (run_dir / f"{name}.csv").unlink()
    run = load_run(run_dir)
    assert isinstance(run, CompassRun)
    assert run.distance_scenario is not None and "model" in run.distance_scenario.columns
    html = render_report([run_dir], tmp_path / "c.html").read_text()
    assert "Humans: scenario × value" in html and "Model: country × value" in html


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: None, "does not exist"),
        (lambda d: d.mkdir(), "not a run directory (no summary.json)"),
        (lambda d: (d.mkdir(), (d / "summary.json").write_text("{oops")), "cannot read"),
        (lambda d: (d.mkdir(), (d / "summary.json").write_text("[1]")), "must hold a JSON object"),
        (
            lambda d: (d.mkdir(), (d / "summary.json").write_text('{"kind": "poem"}')),
            "unknown run kind 'poem'",
        ),
        (
            lambda d: (d.mkdir(), (d / "summary.json").write_text("{}")),
            "no pairs.parquet or pairs.csv",
        ),
        (
            lambda d: (
                d.mkdir(),
                (d / "summary.json").write_text("{}"),
                (d / "pairs.parquet").write_bytes(b"not parquet"),
            ),
            "cannot read table 'pairs'",
        ),
        (
            lambda d: (
                d.mkdir(),
                (d / "summary.json").write_text("{}"),
                (d / "pairs.csv").write_text("country,topic\nA,B\n"),
            ),
            "lacks column(s): value, stated, chosen",
        ),
    ],
)
def test_bad_run_directories_give_one_line_errors(tmp_path: Path, setup, message: str) -> None:
    run_dir = tmp_path / "run"
    setup(run_dir)
    with pytest.raises(ValuelensError) as info:
        load_run(run_dir)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_no_run_directories() -> None:
    with pytest.raises(ValuelensError, match="at least one run directory"):
        load_runs([])


def test_summary_without_optional_keys_still_renders(tmp_path: Path) -> None:
    pairs = synthetic_pairs(grid(2, 2, 10), seed=6)
    run_dir = write_value_action_run(tmp_path / "folder-name", pairs, label="min")
    (run_dir / "summary.json").write_text(json.dumps({"kind": "value-action"}))
    html = render_report([run_dir], tmp_path / "m.html").read_text()
    assert "<title>Value-action gap report: folder-name</title>" in html  # label from the folder
    assert "Alignment rate by country" in html
