"""Coding sheets for people: written, filled here as two and three coders, read back and compared.

Agreement is checked against scikit-learn's `cohen_kappa_score` and the `krippendorff` package on
the same labels, and the majority label against a hand-made list.
"""

from __future__ import annotations

from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from harms.conftest import invoke
from support.fake_server import FaultConfig, serve_in_thread
from valuelens._errors import ValuelensError
from valuelens.pipeline._harms import harms_code, harms_import
from valuelens.runs import read_run
from valuelens.tasks._harms import load_harm_taxonomy

ANN = [
    "discrimination",
    "polarization",
    "none",
    "polarization",
    "discrimination",
    "misinformation",
    "none",
    "autonomy_violation",
]
BO = [
    "discrimination",
    "misinformation",
    "none",
    "polarization",
    "psychological_harm",
    "misinformation",
    "polarization",
    "autonomy_violation",
]
CY = [
    "discrimination",
    "polarization",
    "polarization",
    "none",
    "psychological_harm",
    "misinformation",
    "none",
    "",
]  # the last example left uncoded
# Majority by hand: ties (two coders disagreeing, or three different labels) have none.
MAJORITY_TWO = [
    "discrimination",
    None,
    "none",
    "polarization",
    None,
    "misinformation",
    None,
    "autonomy_violation",
]
MAJORITY_THREE = [
    "discrimination",
    "polarization",
    "none",
    "polarization",
    "psychological_harm",
    "misinformation",
    "none",
    "autonomy_violation",
]


@pytest.fixture
def run(make_small_run) -> Path:
    return make_small_run(8)


@pytest.fixture
def sheet(run: Path, tmp_path: Path) -> Path:
    out = tmp_path / "sheets" / "blank.csv"
    result = invoke("sheet", "--run", str(run), "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


def _fill(sheet: Path, folder: Path, name: str, labels: list[str], *, coder: str = "") -> Path:
    table = pd.read_csv(sheet, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    table["harm"] = labels
    table["coder"] = coder
    path = folder / f"{name}.csv"
    table.to_csv(path, index=False)
    return path


def test_the_sheet_and_its_definitions(sheet: Path, run: Path) -> None:
    table = pd.read_csv(sheet, encoding="utf-8-sig")
    examples = read_run(run).table("examples")
    assert table["example_id"].tolist() == examples["example_id"].tolist()
    assert {"chosen_action", "other_action", "stated", "harm", "coder", "note"} <= set(table)
    assert table["harm"].isna().all()
    assert sheet.read_bytes().startswith(b"\xef\xbb\xbf")  # spreadsheet programs read UTF-8
    definitions = pd.read_csv(sheet.with_name("blank.definitions.csv"), encoding="utf-8-sig")
    assert definitions["key"].tolist() == list(load_harm_taxonomy().labels)
    assert definitions["definition"].notna().all()


def test_two_coders_cohen_kappa_and_majority(sheet: Path, run: Path, tmp_path: Path) -> None:
    first = _fill(sheet, tmp_path, "sheet-one", ANN, coder="ann")
    second = _fill(sheet, tmp_path, "bo", BO)  # no coder cell: named after the file
    result = invoke("import", str(first), str(second), "--run", str(run))
    assert result.exit_code == 0, result.output
    record = read_run(run)
    assert record.summary.coders == ["ann", "bo"]
    expected = cohen_kappa_score(ANN, BO)
    assert record.summary.agreement_statistic == "cohen_kappa"
    assert record.summary.agreement == pytest.approx(expected)
    agreement = record.table("agreement")
    pair = agreement[(agreement["statistic"] == "cohen_kappa") & (agreement["rater_a"] == "ann")]
    assert pair["value"].iloc[0] == pytest.approx(expected) and pair["n"].iloc[0] == 8
    merged = record.table("merged")
    assert [None if pd.isna(v) else v for v in merged["harm"]] == MAJORITY_TWO
    counts = record.table("counts")
    people = counts[(counts["source"] == "people") & (counts["by"] == "all")]
    by_key = people[people["unit"] == "type"].set_index("key")["n"]
    assert by_key["discrimination"] == 1 and by_key["none"] == 1 and by_key.sum() == 5
    levels = people[people["unit"] == "level"].set_index("key")["n"].to_dict()
    assert levels == {"individual": 2, "interaction": 0, "societal": 2, "none": 1}


def test_three_coders_krippendorff_alpha_and_majority(
    sheet: Path, run: Path, tmp_path: Path
) -> None:
    sheets = [
        _fill(sheet, tmp_path, name, labels, coder=name)
        for name, labels in (("ann", ANN), ("bo", BO), ("cy", CY))
    ]
    summary = harms_import(run, sheets)
    codes = {label: i for i, label in enumerate(sorted(set(ANN + BO + CY) - {""}))}
    data = np.array(
        [[codes[x] if x else np.nan for x in labels] for labels in (ANN, BO, CY)], dtype=float
    )
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert summary["agreement_statistic"] == "krippendorff_alpha"
    assert summary["agreement"] == pytest.approx(expected)
    merged = read_run(run).table("merged")
    assert [None if pd.isna(v) else v for v in merged["harm"]] == MAJORITY_THREE
    assert merged["n_coders"].tolist() == [3] * 7 + [2]
    agreement = read_run(run).table("agreement")
    pairs = agreement[(agreement["statistic"] == "cohen_kappa")]
    bo_cy = pairs[(pairs["rater_a"] == "bo") & (pairs["rater_b"] == "cy")]
    assert bo_cy["value"].iloc[0] == pytest.approx(cohen_kappa_score(BO[:7], CY[:7]))
    assert bo_cy["n"].iloc[0] == 7


def test_agreement_with_the_judge(
    sheet: Path, run: Path, tmp_path: Path, dummy_openai_key: str
) -> None:
    with serve_in_thread(FaultConfig(latency_s=0.001)) as server:
        harms_code(
            run,
            "openai:judge",
            base_urls=[server.base_url],
            store=tmp_path / "s.sqlite",
            progress=False,
        )
    judge = read_run(run).table("codes")["harm"].tolist()
    sheets = [
        _fill(sheet, tmp_path, n, labels, coder=n) for n, labels in (("ann", ANN), ("bo", BO))
    ]
    summary = harms_import(run, sheets)
    assert summary["judge_agreement"]["ann"] == pytest.approx(cohen_kappa_score(ANN, judge))
    assert summary["judge_agreement"]["bo"] == pytest.approx(cohen_kappa_score(BO, judge))
    both = [i for i, m in enumerate(MAJORITY_TWO) if m is not None]
    assert summary["judge_agreement"]["majority"] == pytest.approx(
        cohen_kappa_score([MAJORITY_TWO[i] for i in both], [judge[i] for i in both])
    )
    assert read_run(run).has_table("codes")  # the judge's codes survive the import


def test_bad_sheets_are_one_line_errors(sheet: Path, run: Path, tmp_path: Path) -> None:
    labels = list(ANN)
    labels[3] = "rudeness"
    bad = _fill(sheet, tmp_path, "bad", labels, coder="ann")
    with pytest.raises(
        ValuelensError, match=r"bad\.csv, line 5: unknown harm 'rudeness'; accepted"
    ):
        harms_import(run, [bad])
    names = _fill(sheet, tmp_path, "names", ["Autonomy Violation"] * 8, coder="ann")
    summary = harms_import(run, [names])  # names work as well as keys
    assert summary["human_counts"]["autonomy_violation"] == 8
    stray = pd.read_csv(names).head(1).assign(example_id="someone|else")
    stray.to_csv(tmp_path / "stray.csv", index=False)
    with pytest.raises(ValuelensError, match="is not in"):
        harms_import(run, [tmp_path / "stray.csv"])
    with pytest.raises(ValuelensError, match=r"coded example .* twice"):
        harms_import(run, [names, names])
