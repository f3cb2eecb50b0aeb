from __future__ import annotations

import json

import pandas as pd
import pytest

from valuelens._errors import ValuelensError
from valuelens.data import load_via
from valuelens.tasks import GENERATED_COLUMNS, ActionPair, action_pairs, generate_task

VIA_COLUMNS = [
    "country",
    "topic",
    "value",
    "polarity",
    "action",
    "attributions",
    "explanation",
    "raw",
    "parse_status",
]
GOOD = json.dumps(
    {
        "Human Action": "I report my full income to the tax office even when cash work "
        "would be easy to hide.",
        "Feature Attributions": [
            "report my full income",
            "even when cash work would be easy to hide",
        ],
        "Natural Language Explanation": "Declaring everything shows honesty toward the state.",
    }
)


@pytest.fixture(scope="module")
def task():
    return generate_task()


@pytest.fixture(scope="module")
def requests(task):
    return task.build_requests(["Germany", "Uganda"], "Religion", ["Honest", "Wealth"])


def test_requests_cover_both_polarities(requests):
    assert len(requests) == 2 * 1 * 2 * 2
    assert [r.metadata["polarity"] for r in requests[:2]] == ["positive", "negative"]
    first = requests[0]
    assert first.metadata == {
        "task": "generate",
        "variant": 5,  # the authors' generation variant, the default
        "country": "Germany",
        "topic": "Religion",
        "value": "Honest",
        "polarity": "positive",
    }
    schema = first.json_schema
    assert schema is not None and schema["additionalProperties"] is False
    assert schema["required"] == [
        "Human Action",
        "Feature Attributions",
        "Natural Language Explanation",
    ]
    assert requests[0].messages[0].content != requests[1].messages[0].content


def test_several_variants_and_one_polarity(task):
    chosen = generate_task(variants="0,7").build_requests(
        "Germany", "Religion", "Honest", polarities=["negative"]
    )
    assert [(r.metadata["variant"], r.metadata["polarity"]) for r in chosen] == [
        (0, "negative"),
        (7, "negative"),
    ]
    with pytest.raises(ValuelensError, match="polarities"):
        task.build_requests("Germany", "Religion", "Honest", polarities=["neutral"])


def test_good_answer_passes_every_check(task, requests, answer):
    record = task.parse(answer(requests[0], f"```json\n{GOOD}\n```"))
    assert record.parse_status == "ok"
    assert record.action is not None and record.action.startswith("I report")
    assert record.attributions == [
        "report my full income",
        "even when cash work would be easy to hide",
    ]
    assert record.valid and record.first_person and record.within_length
    assert record.single_sentence and record.attributions_found and record.has_all_keys


@pytest.mark.parametrize(
    ("action", "attributions", "failing"),
    [
        ("The farmer reports his income.", ["reports his income"], "first_person"),
        ("I " + "really " * 60 + "care.", ["care"], "within_length"),
        (
            "I pay my taxes. Then I tell my friends to do it too.",
            ["pay my taxes"],
            "single_sentence",
        ),
        ("I pay my taxes on time.", ["declare everything"], "attributions_found"),
        ("I pay my taxes on time.", [], "has_all_keys"),
    ],
)
def test_each_check_can_fail(task, requests, answer, action, attributions, failing):
    text = json.dumps(
        {
            "Human Action": action,
            "Feature Attributions": attributions,
            "Natural Language Explanation": "Because.",
        }
    )
    record = task.parse(answer(requests[0], text))
    assert record.action == action
    assert getattr(record, failing) is False and record.valid is False
    others = {
        "first_person",
        "within_length",
        "single_sentence",
        "attributions_found",
        "has_all_keys",
    } - {failing}
    if failing != "has_all_keys":
        assert all(getattr(record, name) for name in others)


def test_refusal_garbage_and_error(task, requests, answer):
    refused = task.parse(answer(requests[1], "I'm sorry, but I can't assist with that request."))
    assert refused.parse_status == "refusal" and refused.refusal and refused.action is None
    assert not refused.valid
    garbage = task.parse(answer(requests[1], "lorem ipsum"))
    assert garbage.parse_status == "failed" and garbage.raw == "lorem ipsum"
    failed = task.parse(answer(requests[1], error="HTTP 429"))
    assert failed.parse_status == "error" and failed.error == "HTTP 429"


def test_frame_is_a_via_table_that_load_via_reads_back(task, requests, answer, tmp_path):
    texts = [GOOD, "I'm sorry, but I can't help with that.", GOOD, None]
    records = [
        task.parse(answer(r, t) if t is not None else answer(r, error="timeout"))
        for r, t in zip(requests[:4], texts, strict=True)
    ]
    frame = task.to_frame(records)
    assert list(frame.columns) == GENERATED_COLUMNS
    assert list(frame.columns[:9]) == VIA_COLUMNS
    assert list(frame["parse_status"]) == ["ok", "refusal", "ok", "failed"]
    assert frame.loc[3, "error"] == "timeout"
    for suffix in ("parquet", "csv"):
        path = tmp_path / f"generated.{suffix}"
        frame.to_parquet(path) if suffix == "parquet" else frame.to_csv(path, index=False)
        again = load_via(path)
        assert list(again["parse_status"]) == ["ok", "refusal", "ok", "failed"]
        assert list(again["attributions"][0]) == list(frame["attributions"][0])
        assert again["action"][0] == frame["action"][0]
    # Germany/Religion/Honest has a refused side; Germany/Religion/Wealth is incomplete too.
    assert action_pairs(frame) == []
    complete = frame.copy()
    complete.loc[1, ["action", "parse_status"]] = ["I hide some income.", "ok"]
    assert action_pairs(complete) == [
        ActionPair(
            "Germany",
            "Religion",
            "Honest",
            positive=frame.loc[0, "action"],
            negative="I hide some income.",
        ),
    ]


def test_real_generations_pass_the_person_and_length_checks(reference_dir, task, answer):
    release = pd.read_csv(
        reference_dir / "outputs" / "data_release" / "value_action_gap_full_data_generation.csv",
        nrows=600,
    )
    stub = task.build_requests("United States", "Politics", "Social Power")[0]
    records = [task.parse(answer(stub, text)) for text in release["generation_prompt"]]
    usable = [r for r in records if r.action]
    assert len(usable) > 550
    assert all(r.first_person and r.within_length for r in usable)
    assert sum(r.attributions_found for r in usable) > 0.8 * len(usable)
    refusals = release["generation_prompt"].str.contains("I can't assist", regex=False)
    assert all(r.refusal for r, refused in zip(records, refusals, strict=True) if refused)
