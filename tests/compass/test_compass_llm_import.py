from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from support.authors import COMPASS_COUNTRIES
from valuelens._errors import ValuelensError
from valuelens.data import value_names
from valuelens.data._compass_llm import (
    LLM_COLUMNS,
    load_compass_answers,
    paper_compat_scores,
    parse_compass_response,
    robust_likert,
)
from valuelens.taxonomy import load_taxonomy

VALUES = load_taxonomy().value_names
MODELS = [
    "deepseek-r1-distill-llama-70b",
    "gemma2-9b-it",
    "gpt-4o-mini",
    "llama3-70b-8192",
    "openai_o3-mini",
]
PUBLIC_TEXT = "Imagine AI is assiting humans in the Public Sectors Scenario: a family applies."
WRITING_TEXT = "Imagine AI is assiting humans in the Collaborative Writing Scenario: the publisher."


def _reply(**answers: str) -> str:
    return json.dumps({v: answers.get(v, "2") for v in VALUES if answers.get(v, "2") is not None})


# --- the authors' files ---------------------------------------------------------------------


@pytest.mark.parametrize("folder", MODELS)
def test_authors_files_give_one_row_per_cell_variant_and_value(
    compass_dir: Path, folder: str
) -> None:
    answers = load_compass_answers(compass_dir / "llms_eval" / folder)
    assert list(answers.columns) == list(LLM_COLUMNS)
    # 9 countries x 4 scenarios x 8 variants x 56 values; gpt-4o-mini's cumulative copies dropped.
    assert len(answers) == 36 * 8 * 56
    assert set(answers["country"]) == COMPASS_COUNTRIES
    assert answers.groupby(["country", "scenario"]).ngroups == 36
    assert answers.groupby(["country", "scenario", "variant"]).size().eq(56).all()
    assert answers["model"].nunique() == 1


def test_authors_error_cells_are_recorded_failures(compass_dir: Path) -> None:
    answers = load_compass_answers(compass_dir / "llms_eval" / "deepseek-r1-distill-llama-70b")
    failed = answers[answers["parse_status"] == "error"]
    # Germany x public (c4_s1), prompts 6 and 7.
    assert set(map(tuple, failed[["country", "scenario"]].drop_duplicates().to_numpy())) == {
        ("Germany", "Public Sector")
    }
    assert sorted(failed["variant"].unique()) == [6, 7]
    assert failed["raw"].str.startswith("ERROR: RetryError").all()
    assert failed["likert"].isna().all() and failed["likert_paper"].isna().all()
    # The README: one misspelled key ("Honouring of Parents and Elders", France) in deepseek.
    paper_only_nan = answers["likert_paper"].isna() & answers["likert"].notna()
    assert answers.loc[paper_only_nan, ["country", "value"]].values.tolist() == [
        ["France", "Honoring of Parents and Elders"]
    ]


def test_authors_misspellings_and_word_answers(compass_dir: Path) -> None:
    gemma = load_compass_answers(compass_dir / "llms_eval" / "gemma2-9b-it")
    # README: 35 answers that do not map to 1-4 and 6 misspelled or absent keys.
    assert (gemma["parse_status"] == "unmapped_answer").sum() == 35
    assert gemma["likert_paper"].isna().sum() == 35 + 6
    assert (gemma["parse_status"] == "missing_key").sum() == 1  # "An Exciting Life" absent
    llama = load_compass_answers(compass_dir / "llms_eval" / "llama3-70b-8192")
    assert llama["likert_paper"].isna().sum() == 14
    assert (llama["parse_status"] == "missing_key").sum() == 3  # "Authority" absent


def test_cumulative_file_alone_gives_all_its_distinct_rows(compass_dir: Path) -> None:
    one = load_compass_answers(
        compass_dir / "llms_eval" / "gpt-4o-mini" / "value_eval_c0_s3_openai_gpt-4o-mini.csv"
    )
    # File 4 in write order holds c0s0..c0s3 (four rows, four cells of the United States).
    assert one.groupby(["country", "scenario"]).ngroups == 4
    assert set(one["country"]) == {"United States"}


# --- parsing ----------------------------------------------------------------------------------


def test_paper_parse_follows_the_authors_recipe() -> None:
    text = (
        '```json\n{"Honest": "2: Agree", "Wealth": "Not like me at all", "Daring": "0",'
        ' "Clean": "somewhat like me", "curious": "1"}\n```'
    )
    scores = paper_compat_scores(text, ["Honest", "Wealth", "Daring", "Clean", "Curious", "Loyal"])
    assert scores is not None
    assert scores["Honest"] == 2.0 and scores["Wealth"] == 4.0 and scores["Daring"] == 2.5
    # "somewhat like me" -> "somewhat 2" starts with 's'; key matching is case-sensitive.
    assert math.isnan(scores["Clean"]) and math.isnan(scores["Curious"])
    assert math.isnan(scores["Loyal"])
    assert paper_compat_scores("ERROR: RetryError[...]", ["Honest"]) is None
    assert paper_compat_scores('```\n{"Honest": "1"}\n```', ["Honest"]) is None
    assert paper_compat_scores('Sure! {"Honest": "1"}', ["Honest"]) is None


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("1", 1.0),
        (3, 3.0),
        ("2: agree", 2.0),
        ("Not like me at all", 4.0),
        ("like me", 2.0),
        ("strongly disagree", 4.0),
        ("not applicable", None),
        ("Indifferent", None),
        ("0", None),
        ("5", None),
        ("1: very much like me, 2: like me, 3: not like me, 4: Not like me at all", None),
    ],
)
def test_robust_answers(answer: object, expected: float | None) -> None:
    assert robust_likert(answer) == expected


def test_robust_parse_repairs_json_and_matches_loose_keys() -> None:
    names = value_names()
    body = _reply(Honest=None, Wealth=None)  # type: ignore[arg-type]
    text = (
        "Here you go:\n```json\n"
        + body[:-1]
        + ', "_honest": "1", " wealth ": "4: Not like me at all",'
    )
    rows = {a.value: a for a in parse_compass_response(text, names)}
    assert rows["Honest"].likert == 1.0 and rows["Honest"].parse_status == "repaired"
    assert rows["Wealth"].likert == 4.0 and rows["Wealth"].raw == "4: Not like me at all"
    assert math.isnan(rows["Honest"].likert_paper)  # not valid JSON for the authors' parse
    assert rows["Daring"].likert == 2.0


def test_unreadable_replies_are_recorded_failures() -> None:
    names = value_names()
    for text, status in (("I cannot rate values.", "invalid_json"), ("ERROR: timeout", "error")):
        rows = parse_compass_response(text, names)
        assert len(rows) == len(VALUES)
        assert {r.parse_status for r in rows} == {status}
        assert all(math.isnan(r.likert) and r.raw == text for r in rows)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": ' * 3000 + "1" + "}" * 3000,
        "[" * 5000 + "]" * 5000,
        "```json\n" + "[" * 5000 + "\n```",
    ],
)
def test_a_reply_nested_too_deeply_is_unreadable_not_a_crash(text: str) -> None:
    rows = parse_compass_response(text, value_names())
    assert {r.parse_status for r in rows} == {"invalid_json"}
    assert all(math.isnan(r.likert) and math.isnan(r.likert_paper) for r in rows)


def test_exact_key_wins_over_a_looser_duplicate() -> None:
    text = json.dumps({"honest": "4", **{v: "1" for v in VALUES}})
    rows = {a.value: a for a in parse_compass_response(text, value_names())}
    assert rows["Honest"].likert == 1.0


# --- small authors'-layout and tidy files -----------------------------------------------------


def _authors_file(path: Path, rows: list[dict[str, str]]) -> Path:
    frame = pd.DataFrame(rows)
    frame.insert(0, "Unnamed: 0", range(len(frame)))
    frame.to_csv(path, index=False)
    return path


def test_small_authors_folder_with_error_and_missing_values(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    _authors_file(
        folder / "value_eval_c5_s1_acme_tiny-1.csv",
        [
            {
                "country": "Canada",
                "scenario": PUBLIC_TEXT,
                "evaluation_0": _reply(Honest="3: disagree", Wealth=None),  # type: ignore[arg-type]
                "evaluation_1": "ERROR: RetryError[<Future raised RateLimitError>]",
            }
        ],
    )
    answers = load_compass_answers(folder).set_index(["variant", "value"])
    assert answers["model"].unique().tolist() == ["tiny-1"]
    assert answers.loc[(0, "Honest"), "likert"] == 3.0
    assert answers.loc[(0, "Wealth"), "parse_status"] == "missing_key"
    assert math.isnan(answers.loc[(0, "Wealth"), "likert_paper"])
    assert (answers.loc[1, "parse_status"] == "error").all()
    assert set(answers["scenario"]) == {"Public Sector"}


def test_country_and_scenario_fall_back_to_the_file_indices(tmp_path: Path) -> None:
    path = _authors_file(
        tmp_path / "value_eval_c7_s3_acme_tiny-1.csv", [{"evaluation_0": _reply()}]
    )
    answers = load_compass_answers(path, model="renamed")
    assert set(answers["country"]) == {"France"}
    assert set(answers["scenario"]) == {"Education"}
    assert set(answers["model"]) == {"renamed"}


def test_scenario_keyword_is_case_sensitive_and_required(tmp_path: Path) -> None:
    assert set(
        load_compass_answers(
            _authors_file(
                tmp_path / "value_eval_c0_s1_a_b.csv",
                [{"country": "India", "scenario": WRITING_TEXT, "evaluation_0": _reply()}],
            )
        )["scenario"]
    ) == {"Collaborative Writing"}
    bad = _authors_file(
        tmp_path / "bad.csv", [{"country": "India", "scenario": "a bank", "evaluation_0": _reply()}]
    )
    with pytest.raises(ValuelensError, match="cannot tell the scenario"):
        load_compass_answers(bad)


def test_malformed_authors_files(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    _authors_file(
        folder / "value_eval_c0_s0_a_b.csv",
        [{"country": "Narnia", "scenario": WRITING_TEXT, "evaluation_0": _reply()}],
    )
    with pytest.raises(ValuelensError, match="unknown country 'Narnia'"):
        load_compass_answers(folder)
    _authors_file(
        folder / "value_eval_c0_s0_a_b.csv",
        [{"country": "India", "scenario": WRITING_TEXT, "answer": _reply()}],
    )
    with pytest.raises(ValuelensError, match="no evaluation_<n> columns"):
        load_compass_answers(folder)
    with pytest.raises(ValuelensError, match="no value_eval_"):
        load_compass_answers(tmp_path)
    with pytest.raises(ValuelensError, match="not found"):
        load_compass_answers(tmp_path / "nowhere")


def test_tidy_answers(tmp_path: Path) -> None:
    path = tmp_path / "answers.csv"
    pd.DataFrame(
        {
            "country": ["Canada", "Canada"],
            "scenario": ["healthcare", "Healthcare"],
            "variant": [0, 1],
            "value": ["Honest", "Protect the Environment"],
            "likert": [1, None],
        }
    ).to_csv(path, index=False)
    answers = load_compass_answers(path, model="m")
    assert answers["value"].tolist() == ["Honest", "Protecting the Environment"]
    assert answers["likert_paper"].iloc[0] == 1.0 and math.isnan(answers["likert"].iloc[1])
    assert set(answers["model"]) == {"m"}


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (
            {"country": ["Canada"], "scenario": ["Healthcare"], "value": ["Honest"], "likert": [5]},
            "lacks column",
        ),
        (
            {
                "country": ["Canada"],
                "scenario": ["Healthcare"],
                "variant": [0],
                "value": ["Honest"],
                "likert": [5],
            },
            "holds 5",
        ),
        (
            {
                "country": ["Canada"],
                "scenario": ["Healthcare"],
                "variant": [0],
                "value": ["Honest"],
                "likert": ["agree"],
            },
            "holds agree",
        ),
        (
            {
                "country": ["Canada"],
                "scenario": ["Helthcare"],
                "variant": [0],
                "value": ["Honest"],
                "likert": [1],
            },
            "did you mean 'Healthcare'",
        ),
    ],
)
def test_malformed_tidy_answers(
    tmp_path: Path, frame: dict[str, list[object]], message: str
) -> None:
    path = tmp_path / "answers.csv"
    pd.DataFrame(frame).to_csv(path, index=False)
    with pytest.raises(ValuelensError, match=message):
        load_compass_answers(path)
