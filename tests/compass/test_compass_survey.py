from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from valuelens._errors import ValuelensError
from valuelens.data import (
    SURVEY_COLUMNS,
    load_scenarios,
    load_survey,
    load_value_aliases,
    parse_survey_answer,
    value_names,
)
from valuelens.taxonomy import load_taxonomy

VALUES = load_taxonomy().value_names
WideSurvey = Callable[..., Path]

# --- the authors' files ---------------------------------------------------------------------


def test_authors_survey_loads_every_answer(compass_dir: Path) -> None:
    survey = load_survey(compass_dir / "human_eval")
    assert list(survey.columns) == [*SURVEY_COLUMNS, "age", "gender"]
    assert len(survey) == 112 * 56
    assert survey["participant"].nunique() == 112
    assert set(survey["value"]) == set(VALUES)
    # The README's counts: 862 N/A in all, per scenario file S1..S4.
    na = survey["answer"].isna().groupby(survey["scenario"]).sum().to_dict()
    assert na == {
        "Collaborative Writing": 262,
        "Healthcare": 280,
        "Education": 131,
        "Public Sector": 189,
    }
    assert set(survey["answer"].dropna()) == {-2.0, -1.0, 0.0, 1.0, 2.0}
    per_cell = survey.groupby(["country", "scenario"])["participant"].nunique()
    assert len(per_cell) == 28 and set(per_cell) == {4}


def test_authors_survey_keeps_the_raw_answer_of_a_known_participant(compass_dir: Path) -> None:
    survey = load_survey(compass_dir / "human_eval")
    p02 = survey[survey["participant"] == "P02"].set_index("value")
    # P02 of human_S1: "2,2,2,2,N/A,2,-2,..." for Ambitious, Influential, Successful, Capable,
    # Intelligent, Preserving Human's Public Image, Social Power.
    assert p02.loc["Ambitious", "answer"] == 2.0
    assert math.isnan(p02.loc["Intelligent", "answer"])
    assert p02.loc["Preserving my Public Image", "answer"] == 2.0
    assert p02.loc["Social Power", "answer"] == -2.0
    assert p02.loc["Ambitious", "age"] == "35-44 years old"  # written "35 - 44 years old"
    assert p02.loc["Ambitious", "country"] == "United States"
    assert p02.loc["Ambitious", "scenario"] == "Collaborative Writing"


def test_one_authors_file_takes_its_scenario_from_the_name(compass_dir: Path) -> None:
    survey = load_survey(compass_dir / "human_eval" / "human_S4_Public.csv")
    assert set(survey["scenario"]) == {"Public Sector"}
    assert survey["participant"].iloc[0] == "P85"


# --- answers, names and layouts ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2", 2.0),
        (" -1 ", -1.0),
        ("0", 0.0),
        ("1.0", 1.0),
        (-2, -2.0),
        ("N/A", math.nan),
        ("n/a", math.nan),
        ("", math.nan),
        (None, math.nan),
        (float("nan"), math.nan),
    ],
)
def test_survey_answers(raw: object, expected: float) -> None:
    result = parse_survey_answer(raw)
    assert (math.isnan(result) and math.isnan(expected)) or result == expected


@pytest.mark.parametrize("raw", ["3", "-3", "0.5", "agree", "2a"])
def test_survey_answers_outside_the_scale_are_rejected(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_survey_answer(raw)


def test_wide_file_with_missing_answers_and_na(tmp_path: Path, wide_survey: WideSurvey) -> None:
    path = wide_survey(
        tmp_path / "human_S2_Healthcare.csv",
        [
            {"PID": "A1", "location": "Canada", "Honest": "", "Wealth": "N/A", "Daring": "-2"},
            {"PID": "A2", "location": "France", "gender": "Man"},
        ],
    )
    survey = load_survey(path).set_index(["participant", "value"])
    assert math.isnan(survey.loc[("A1", "Honest"), "answer"])
    assert math.isnan(survey.loc[("A1", "Wealth"), "answer"])
    assert survey.loc[("A1", "Daring"), "answer"] == -2.0
    assert survey.loc[("A2", "Honest"), "answer"] == 1.0
    assert survey.loc[("A2", "Honest"), "gender"] == "Man"
    assert set(survey["scenario"]) == {"Healthcare"}


def test_answer_outside_the_scale_names_line_participant_and_value(
    tmp_path: Path, wide_survey: WideSurvey
) -> None:
    path = wide_survey(
        tmp_path / "human_S1_Collaborative_Writing.csv",
        [{"PID": "A1", "location": "Canada"}, {"PID": "A2", "location": "Canada", "Wealth": "3"}],
    )
    with pytest.raises(
        ValuelensError, match=r"line 3 \(participant A2\), value 'Wealth': answer 3 "
    ):
        load_survey(path)


def test_misspelled_value_header_is_an_error_with_a_suggestion(
    tmp_path: Path, wide_survey: WideSurvey
) -> None:
    headers = ["Ambitous" if v == "Ambitious" else v for v in VALUES]
    path = wide_survey(
        tmp_path / "human_S1_x.csv", [{"PID": "A1", "location": "Canada"}], headers=headers
    )
    with pytest.raises(
        ValuelensError, match="'Ambitous' is not a known value name; did you mean 'Ambitious'"
    ):
        load_survey(path, scenario="education")


def test_an_aliases_file_accepts_another_spelling(tmp_path: Path, wide_survey: WideSurvey) -> None:
    headers = ["Ambitous" if v == "Ambitious" else v for v in VALUES]
    path = wide_survey(tmp_path / "s.csv", [{"PID": "A1", "location": "Canada"}], headers=headers)
    aliases = tmp_path / "aliases.yaml"
    aliases.write_text("aliases:\n  Ambitous: Ambitious\n", encoding="utf-8")
    survey = load_survey(path, scenario="education", aliases=aliases)
    assert "Ambitious" in set(survey["value"])
    assert load_value_aliases(aliases)["Ambitous"] == "Ambitious"


def test_value_names_ignore_case_and_spacing_but_not_spelling() -> None:
    names = value_names()
    assert names.match("preserving  MY public image") == "Preserving my Public Image"
    assert names.match("Protect the Environment") == "Protecting the Environment"
    assert names.match(" Broad-Minded") == "Broad-Minded"
    assert names.match("_successful") is None
    assert names.match("_successful", loose=True) == "Successful"
    assert names.match("Broadminded") is None


def test_missing_value_columns_are_an_error(tmp_path: Path, wide_survey: WideSurvey) -> None:
    headers = [v for v in VALUES if v not in {"Honest", "Wealth"}]
    path = wide_survey(
        tmp_path / "human_S3_Education.csv", [{"PID": "A1", "location": "Canada"}], headers=headers
    )
    with pytest.raises(ValuelensError, match=r"2 value column\(s\) missing: "):
        load_survey(path)


@pytest.mark.parametrize(
    ("header", "message"),
    [("PID", "no 'location' column"), ("location", "no 'pid' column")],
)
def test_missing_participant_or_country_column(tmp_path: Path, header: str, message: str) -> None:
    path = tmp_path / "human_S3_Education.csv"
    frame = pd.DataFrame({header: ["A1"], **{v: ["1"] for v in VALUES}})
    frame.to_csv(path, index=False)
    with pytest.raises(ValuelensError, match=message):
        load_survey(path)


def test_unknown_country_and_empty_files(tmp_path: Path, wide_survey: WideSurvey) -> None:
    path = wide_survey(
        tmp_path / "human_S3_Education.csv", [{"PID": "A1", "location": "Untied States"}]
    )
    with pytest.raises(ValuelensError, match="did you mean 'United States'"):
        load_survey(path)
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ValuelensError, match="is empty"):
        load_survey(empty)
    header_only = wide_survey(tmp_path / "human_S3_Education_2.csv", [])
    with pytest.raises(ValuelensError, match="no rows"):
        load_survey(header_only)


def test_scenario_must_be_known(tmp_path: Path, wide_survey: WideSurvey) -> None:
    path = wide_survey(tmp_path / "human_S9_Banking.csv", [{"PID": "A1", "location": "Canada"}])
    with pytest.raises(ValuelensError, match="cannot tell the scenario"):
        load_survey(path)
    scenarios = tmp_path / "scenarios.yaml"
    scenarios.write_text(
        "scenarios:\n  - {name: Banking, vignette: A bank uses an AI to score loan requests.}\n",
        encoding="utf-8",
    )
    survey = load_survey(path, scenarios=load_scenarios(scenarios))
    assert set(survey["scenario"]) == {"Banking"}


def test_duplicate_participant_is_an_error(tmp_path: Path, wide_survey: WideSurvey) -> None:
    path = wide_survey(
        tmp_path / "human_S3_Education.csv",
        [{"PID": "A1", "location": "Canada"}, {"PID": "A1", "location": "India"}],
    )
    with pytest.raises(ValuelensError, match=r"participant A1 answers .* twice"):
        load_survey(path)


def test_tidy_layout_round_trip(tmp_path: Path) -> None:
    tidy = pd.DataFrame(
        {
            "participant": ["x", "x", "y"],
            "country": ["Canada", "Canada", "India"],
            "scenario": ["public_sector", "Public Sector", "co-writing"],
            "value": ["honest", "Protect the Environment", "Wealth"],
            "answer": ["2", "N/A", "-1"],
            "region": ["north", "north", "south"],
        }
    )
    for path in (tmp_path / "tidy.csv", tmp_path / "tidy.parquet"):
        tidy.to_csv(path, index=False) if path.suffix == ".csv" else tidy.to_parquet(path)
        survey = load_survey(path)
        # Sorted into scenario order (co-writing first), then taxonomy value order.
        assert survey["value"].tolist() == ["Wealth", "Protecting the Environment", "Honest"]
        by_value = survey.set_index("value")
        assert by_value.loc["Honest", "answer"] == 2.0
        assert math.isnan(by_value.loc["Protecting the Environment", "answer"])
        assert by_value.loc["Wealth", "scenario"] == "Collaborative Writing"
        assert by_value.loc["Honest", "country"] == "Canada"
        assert by_value.loc["Wealth", "region"] == "south"


def test_tidy_layout_errors(tmp_path: Path) -> None:
    path = tmp_path / "tidy.csv"
    pd.DataFrame(
        {"participant": ["x"], "country": ["Canada"], "value": ["Honest"], "answer": ["1"]}
    ).to_csv(path, index=False)
    with pytest.raises(ValuelensError, match="missing column"):
        load_survey(path)
    pd.DataFrame(
        {
            "participant": ["x"],
            "country": ["Canada"],
            "scenario": ["Healthcare"],
            "value": ["Honestly"],
            "answer": ["1"],
        }
    ).to_csv(path, index=False)
    with pytest.raises(ValuelensError, match="'Honestly' is not a known value name"):
        load_survey(path)


def test_scenarios_resolve_names_keys_and_aliases() -> None:
    scenarios = load_scenarios()
    assert scenarios.names == ["Collaborative Writing", "Healthcare", "Education", "Public Sector"]
    assert scenarios.resolve("co_writing") == "Collaborative Writing"
    assert scenarios.resolve("PUBLIC-SECTORS") == "Public Sector"
    assert (
        scenarios.find_in_text("Imagine AI is assiting humans in the Public Sectors")
        == "Public Sector"
    )
    assert scenarios.find_in_text("discloses it to the publisher") is None
    assert scenarios.from_authors_index(llm_index=1) == "Public Sector"
    with pytest.raises(
        ValuelensError, match="unknown scenario 'Helthcare'; did you mean 'Healthcare'"
    ):
        scenarios.resolve("Helthcare")
    assert all(s.vignette for s in scenarios.scenarios)


# --- scenario and alias files ---------------------------------------------------------------


def _yaml(tmp_path: Path, text: str | bytes, name: str = "extra.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_a_scenario_file_adds_and_replaces(tmp_path: Path) -> None:
    path = _yaml(
        tmp_path,
        "scenarios:\n  - {name: Hiring, vignette: An AI screens job applications.}\n"
        "  - {name: healthcare, vignette: A new healthcare story.}\n",
    )
    scenarios = load_scenarios(path)
    assert scenarios.names == ["Collaborative Writing", "Education", "Public Sector", "Hiring",
                               "healthcare"]  # fmt: skip
    assert load_scenarios(path, replace=True).names == ["Hiring", "healthcare"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("scenarios: [null]\n", r"scenarios\[0\] must be a mapping with a 'name' \(found None\)"),
        ("scenarios: [{name: [a, b]}]\n", r"scenarios\[0\] .*found a list of 2"),
        ("scenarios: [{name: X, vignete: y}]\n", r"scenarios\[\d+\]\.vignete: unknown key"),
        ("scenarios: [{name: X, aliases: [[a]]}]\n", r"aliases\[0\]: expected text"),
        ("scenarios: Hiring\n", r"must have a 'scenarios' list, not 'Hiring'"),
        ("scenario: []\n", r"unknown key 'scenario' \(expected version, scenarios"),
        ("scenarios: [{name: '  '}]\n", r"a scenario name is empty"),
        ("scenarios: [{name: Hiring, key: healthcare}]\n", r"'healthcare' names both"),
        ("scenarios: " + "[" * 5000 + "]" * 5000 + "\n", r"nested too deeply"),
        ("- a\n", r"must hold a mapping"),
    ],
)
def test_bad_scenario_files_fail_in_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = _yaml(tmp_path, text)
    with pytest.raises(ValuelensError, match=message) as caught:
        load_scenarios(path)
    assert "\n" not in str(caught.value)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("aliases: [Honest]\n", r"'aliases' must be a mapping .*not a list of 1"),
        (
            "aliases: {Truthful: [Honest]}\n",
            r"aliases\['Truthful'\]: expected a name, found a list",
        ),
        ("aliases: {Truthful: null}\n", r"aliases\['Truthful'\]: expected a name, found None"),
        ("aliases: {1: Honest}\n", r"aliases\[1\]: expected a name, found 1"),
        ("aliases: {' ': Honest}\n", r"a name is empty"),
        ("alias: {Truthful: Honest}\n", r"unknown key 'alias'"),
        ("aliases: " + "{a: " * 3000 + "x" + "}" * 3000 + "\n", r"nested too deeply"),
    ],
)
def test_bad_alias_files_fail_in_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = _yaml(tmp_path, text)
    with pytest.raises(ValuelensError, match=message) as caught:
        load_value_aliases(path)
    assert "\n" not in str(caught.value)


def test_an_unknown_value_name_is_shown_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "tidy.csv"
    pd.DataFrame(
        {
            "participant": ["p1"],
            "country": ["India"],
            "scenario": ["Healthcare"],
            "value": ["Honest" * 10_000],
            "answer": ["1"],
        }
    ).to_csv(path, index=False)
    with pytest.raises(ValuelensError, match="is not a known value name") as caught:
        load_survey(path)
    assert len(str(caught.value)) < 300
