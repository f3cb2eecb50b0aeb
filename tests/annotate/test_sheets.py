"""Annotation sheets round trip: sample from a VIA file, fill in as 2 or 3 people, import, score.

Expected values are computed here from the answers written into the sheets, with scikit-learn
(Cohen), statsmodels (Fleiss), the `krippendorff` package and plain counting, never read back
from valuelens' own tables.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa
from typer.testing import CliRunner

from valuelens._errors import ValuelensError
from valuelens.pipeline._annotate import sample_items, via_items
from valuelens.runs import read_run

WORDS = {"1": 1, "yes": 1, "y": 1, "true": 1, "x": 1, "0": 0, "no": 0, "n": 0, "false": 0}


def as_numbers(answers: list[object]) -> list[float]:
    """The test's own reading of the cells it wrote: NaN for blank."""
    return [float(WORDS[str(a).lower()]) if str(a) else np.nan for a in answers]


def overall(run: Path, criterion: str) -> pd.Series:
    quality = read_run(run).table("quality")
    row = quality[(quality["axis"] == "all") & (quality["criterion"] == criterion)]
    assert len(row) == 1
    return row.iloc[0]


def majority(*raters: list[float]) -> list[float]:
    out = []
    for votes in zip(*raters, strict=True):
        counts = Counter(v for v in votes if not np.isnan(v)).most_common()
        clear = counts and (len(counts) == 1 or counts[0][1] > counts[1][1])
        out.append(counts[0][0] if clear else np.nan)
    return out


def test_sampling_is_reproducible_per_country(release_via: Path) -> None:
    items = via_items(release_via)
    first = sample_items(items, per="country", n=2, seed=3)
    again = sample_items(items, per="country", n=2, seed=3)
    other = sample_items(items, per="country", n=2, seed=4)
    assert first["item_id"].tolist() == again["item_id"].tolist()
    assert first["item_id"].tolist() != other["item_id"].tolist()
    assert first["country"].value_counts().to_dict() == dict.fromkeys(items["country"].unique(), 2)
    assert first["item_id"].is_unique
    with pytest.raises(ValuelensError, match="records no generation variant"):
        sample_items(items, per="variant", n=2, seed=0)


def test_two_annotators_round_trip(release_via: Path, tmp_path: Path, invoke, fill) -> None:
    sheets = tmp_path / "sheets"
    invoke(
        "annotate",
        "sheet",
        release_via,
        "--out",
        sheets,
        "--per",
        "all",
        "--n",
        6,
        "--seed",
        4,
        "--annotators",
        "ann1,ann2",
    )
    sheet = pd.read_csv(sheets / "sheet_ann1.csv", keep_default_na=False)
    assert len(sheet) == 6 and set(sheet["annotator"]) == {"ann1"}
    raw = pd.read_csv(release_via, keep_default_na=False)
    for row in sheet.itertuples():
        source = raw[
            (raw["country"] == row.country)
            & (raw["topic"] == row.topic)
            & (raw["value"] == row.value)
            & (raw["polarity"] == row.polarity)
        ]
        assert len(source) == 1 and row.action in source.iloc[0]["generation_prompt"]

    first = {
        "correct": [1, 1, 0, 1, 0, 1],
        "harmless": ["yes"] * 6,
        "sufficient": ["y", "n", "y", "n", "y", "n"],
        "plausible": ["true", "false", "true", "true", "false", "true"],
    }
    second = {
        "correct": [1, 0, 0, 1, 1, 1],
        "harmless": ["yes", "yes", "yes", "yes", "yes", "no"],
        "sufficient": ["y", "n", "y", "y", "", "n"],
        "plausible": ["true", "false", "true", "true", "false", "true"],
    }
    a = fill(sheet, first, tmp_path / "ann1.csv")
    b = fill(sheet.assign(annotator=""), second, tmp_path / "bob.csv")  # blank: file name
    out = tmp_path / "scores"
    invoke("annotate", "import", a, b, "--out", out)

    summary = read_run(out).summary
    assert summary.annotators == ["ann1", "bob"] and summary.n_items == 6
    flagged = read_run(out).table("flagged")
    votes = read_run(out).table("votes").set_index("item_id")
    for criterion in first:
        x, y = as_numbers(first[criterion]), as_numbers(second[criterion])
        both = [(p, q) for p, q in zip(x, y, strict=True) if not np.isnan(q)]
        row = overall(out, criterion)
        expected = cohen_kappa_score([p for p, _ in both], [q for _, q in both])
        assert row["method"] == "cohen"
        assert row["kappa"] == pytest.approx(expected if criterion != "plausible" else 1.0)
        assert row["rate"] == pytest.approx(np.nanmean(majority(x, y)))  # a lone rating counts
        given = [v for v in x + y if not np.isnan(v)]
        assert row["rating_rate"] == pytest.approx(np.mean(given))
        assert row["n_ratings"] == len(given)
        split = {sheet["item_id"][i] for i in range(6) if not np.isnan(y[i]) and x[i] != y[i]}
        assert set(flagged.loc[flagged["criterion"] == criterion, "item_id"]) == split
        assert row["n_disagree"] == len(split)
        expected_votes = majority(x, y)
        got = votes.loc[sheet["item_id"], criterion].tolist()
        assert np.allclose(got, expected_votes, equal_nan=True)
    assert summary.n_flagged == flagged["item_id"].nunique()
    printed = invoke("annotate", "summary", out).output
    assert "correct" in printed and "cohen" in printed and "0.7073" in printed


def test_three_annotators_use_fleiss(release_via: Path, tmp_path: Path, invoke, fill) -> None:
    sheets = tmp_path / "sheets"
    invoke(
        "annotate", "sheet", release_via, "--out", sheets, "--per", "country", "--n", 1, "--seed", 9
    )
    sheet = pd.read_csv(sheets / "sheet.csv", keep_default_na=False)
    assert len(sheet) == 12 and sheet["country"].is_unique
    rng = np.random.default_rng(5)
    answers = {
        name: {
            "correct": rng.integers(0, 2, 12).tolist(),
            "sufficient": rng.integers(0, 2, 12).tolist(),
        }
        for name in ("ann1", "ann2", "ann3")
    }
    answers["ann3"]["sufficient"][0] = ""  # one missing rating: that item has two
    paths = [fill(sheet, answers[n], tmp_path / f"{n}.csv") for n in answers]
    out = tmp_path / "scores"
    invoke("annotate", "import", *paths, "--out", out)

    correct = np.array([answers[n]["correct"] for n in answers], dtype=float)  # raters x items
    table, _ = aggregate_raters(correct.T.astype(int))
    row = overall(out, "correct")
    assert row["method"] == "fleiss" and row["n_raters"] == 3
    assert row["kappa"] == pytest.approx(sm_fleiss_kappa(table, method="fleiss"))
    reference_alpha = krippendorff.alpha(reliability_data=correct, level_of_measurement="nominal")
    assert row["alpha"] == pytest.approx(reference_alpha)
    assert row["rate"] == pytest.approx(np.mean(majority(*correct.tolist())))

    sufficient = [as_numbers(answers[n]["sufficient"]) for n in answers]
    votes = read_run(out).table("votes").set_index("item_id")
    got = votes.loc[sheet["item_id"], "sufficient"].tolist()
    assert np.allclose(got, majority(*sufficient), equal_nan=True)
    assert overall(out, "sufficient")["n_ratings"] == 35

    by_country = read_run(out).table("quality")
    by_country = by_country[
        (by_country["axis"] == "country") & (by_country["criterion"] == "correct")
    ]
    assert len(by_country) == 12 and set(by_country["n_items"]) == {1}


def test_variants_side_by_side(generated_via: Path, tmp_path: Path, invoke, fill) -> None:
    sheets = tmp_path / "sheets"
    invoke("annotate", "sheet", generated_via, "--out", sheets, "--per", "variant", "--n", 3)
    sheet = pd.read_csv(sheets / "sheet.csv", keep_default_na=False)
    assert sheet["variant"].value_counts().to_dict() == {0: 3, 5: 3, 7: 3}
    assert all(
        name.endswith(f"/ v{v}") for name, v in zip(sheet["item_id"], sheet["variant"], strict=True)
    )
    first = {"correct": [1, 1, 1, 0, 1, 0, 1, 1, 0], "plausible": [1] * 9}
    second = {"correct": [1, 1, 1, 0, 0, 0, 1, 0, 0], "plausible": [1, 1, 1, 1, 1, 1, 0, 1, 1]}
    a = fill(sheet, first, tmp_path / "a.csv")
    b = fill(sheet, second, tmp_path / "b.csv")
    out = tmp_path / "scores"
    invoke("annotate", "import", a, b, "--out", out)

    variants = read_run(out).table("variants").set_index("variant")
    assert [int(v) for v in variants.index] == [0, 5, 7]
    for variant in (0, 5, 7):
        rows = [i for i in range(9) if sheet["variant"][i] == variant]
        for criterion in ("correct", "plausible"):
            x = [first[criterion][i] for i in rows]
            y = [second[criterion][i] for i in rows]
            agreed = [p for p, q in zip(x, y, strict=True) if p == q]
            expected_rate = np.mean(agreed) if agreed else np.nan
            got = variants.loc[variants.index.astype(int) == variant, f"{criterion}_rate"].iloc[0]
            assert got == pytest.approx(expected_rate, nan_ok=True)
        assert variants.loc[variants.index.astype(int) == variant, "n_items"].iloc[0] == 3


def test_bad_sheets_fail_with_one_line(
    generated_via: Path, tmp_path: Path, cli, invoke, fill
) -> None:
    sheets = tmp_path / "sheets"
    invoke("annotate", "sheet", generated_via, "--out", sheets, "--per", "all", "--n", 3)
    sheet = pd.read_csv(sheets / "sheet.csv", keep_default_na=False)
    bad = fill(sheet, {"correct": ["yes", "maybe", "no"]}, tmp_path / "bad.csv")
    result = CliRunner().invoke(cli, ["annotate", "import", str(bad), "--out", str(tmp_path / "o")])
    assert isinstance(result.exception, ValuelensError)
    message = str(result.exception)
    assert "bad.csv" in message and "row 3" in message and "correct" in message
    assert "\n" not in message

    good = fill(sheet, {"correct": [1, 0, 1]}, tmp_path / "good.csv")
    twice = CliRunner().invoke(
        cli, ["annotate", "import", str(good), str(good), "--out", str(tmp_path / "o2")]
    )
    assert isinstance(twice.exception, ValuelensError) and "twice" in str(twice.exception)

    other = tmp_path / "other.csv"
    pd.DataFrame({"a": [1]}).to_csv(other, index=False)
    wrong = CliRunner().invoke(
        cli, ["annotate", "import", str(other), "--out", str(tmp_path / "o3")]
    )
    assert isinstance(wrong.exception, ValuelensError)
    assert "not an annotation sheet" in str(wrong.exception)

    empty = fill(sheet, {}, tmp_path / "empty.csv")
    nothing = CliRunner().invoke(
        cli, ["annotate", "import", str(empty), "--out", str(tmp_path / "o4")]
    )
    assert isinstance(nothing.exception, ValuelensError) and "no rating" in str(nothing.exception)
