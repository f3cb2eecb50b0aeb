import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from valuelens.data import extract_json_object, likert_from_answer, parse_stated_response

VALUES = ["Honest", "Wealth", "Social Power"]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("1", 1.0),
        (3, 3.0),
        ("2: agree", 2.0),
        ("Strongly agree", 1.0),
        ("disagree", 3.0),
        ("strongly disagree", 4.0),
        ("Not like me at all", 4.0),
        ("not like me", 3.0),
        ("very much like me", 1.0),
        ("Like me", 2.0),
        ("4: Not like me at all", 4.0),
        ("5", None),
        ("0", None),
        ("12", None),
        ("not applicable", None),
        ("", None),
        (None, None),
        (True, None),
        (float("nan"), None),
    ],
)
def test_likert_robust(answer, expected):
    assert likert_from_answer(answer) == expected


def test_likert_paper_compat_takes_any_leading_digit():
    assert likert_from_answer("5", paper_compat=True) == 5.0
    assert likert_from_answer("Like me", paper_compat=True) == 2.0
    assert likert_from_answer("not applicable", paper_compat=True) is None


def test_extract_from_prose_and_fences():
    text = 'Sure!\n```json\n{"Honest": "1"}\n```\nHope this helps.'
    assert extract_json_object(text) == ({"Honest": "1"}, False)
    assert extract_json_object('Here: {"Honest": "2"} done') == ({"Honest": "2"}, False)
    obj, repaired = extract_json_object('{"Honest": "2", "Wealth": "3"')
    assert obj == {"Honest": "2", "Wealth": "3"} and repaired


def test_paper_compat_needs_strict_json_in_first_fence():
    assert extract_json_object('Note: {"Honest": "1"}', paper_compat=True) == (None, False)
    assert extract_json_object('```\n{"Honest": "1"}\n```', paper_compat=True)[0] == {"Honest": "1"}
    assert extract_json_object('{"Honest": "1",}', paper_compat=True)[0] is None


def test_parse_stated_response_statuses():
    full = json.dumps({"honest": "1", " Wealth ": "3: disagree", "Social  Power": "4"})
    parsed = parse_stated_response(full, VALUES)
    assert parsed.status == "ok"
    assert parsed.scores == {"Honest": 1.0, "Wealth": 3.0, "Social Power": 4.0}

    partial = parse_stated_response('{"Honest": "1", "Wealth": "maybe", "Extra": "2"}', VALUES)
    assert partial.status == "partial"
    assert partial.missing == ["Wealth", "Social Power"]
    assert partial.unknown_keys == ["Extra"]

    assert parse_stated_response("I cannot answer that.", VALUES).status == "failed"
    assert (
        parse_stated_response('{"Honest": "1", "Wealth": "2", "Social Power": "3"', VALUES).status
        == "repaired"
    )


def test_aliases_apply_in_robust_mode_only():
    text = '{"Honesty": "2"}'
    assert parse_stated_response(text, VALUES, aliases={"Honesty": "Honest"}).scores == {
        "Honest": 2.0
    }
    assert (
        parse_stated_response(text, VALUES, aliases={"Honesty": "Honest"}, paper_compat=True).scores
        == {}
    )


@given(st.text())
def test_parsers_never_raise_on_arbitrary_text(text):
    parse_stated_response(text, VALUES)
    parse_stated_response(text, VALUES, paper_compat=True)
    likert_from_answer(text)


@given(
    st.dictionaries(st.sampled_from(VALUES), st.sampled_from(["1", "2", "3", "4"]), min_size=1),
    st.sampled_from(["{}", "```json\n{}\n```", "Answer:\n{}\nThanks", "```\n{}\n```"]),
)
def test_roundtrip_through_wrappers(answers, wrapper):
    text = wrapper.replace("{}", json.dumps(answers, indent=2))
    parsed = parse_stated_response(text, VALUES)
    assert parsed.scores == {k: float(v) for k, v in answers.items()}
