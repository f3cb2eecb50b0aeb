from __future__ import annotations

import math

import pytest

from valuelens._errors import UnknownNameError, ValuelensError
from valuelens.models import Capabilities
from valuelens.tasks import StatedRecord, stated_task

COUNTRIES = ["Germany", "Uganda"]
TOPICS = ["Religion", "Work Orientation"]
VALUES = ["Honest", "Wealth", "Clean"]


@pytest.fixture(scope="module")
def task():
    return stated_task(max_reasks=1)


@pytest.fixture(scope="module")
def request0(task):
    return task.build_requests("Germany", "Religion", VALUES)[0]


def test_generate_scoring_asks_once_per_scenario_and_variant(task):
    requests = task.build_requests(COUNTRIES, TOPICS, ",".join(VALUES))
    assert len(requests) == 2 * 2 * 8
    first = requests[0]
    assert first.metadata == {
        "task": "stated",
        "scoring": "generate",
        "variant": 0,
        "country": "Germany",
        "topic": "Religion",
        "values": VALUES,
        "attempt": 0,
    }
    assert [r.metadata["variant"] for r in requests[:8]] == list(range(8))
    assert first.json_schema is not None
    assert first.json_schema["required"] == VALUES
    assert first.json_schema["properties"]["Clean"]["enum"] == ["1", "2", "3", "4"]
    assert first.top_logprobs is None and first.temperature == 0.2
    prompt = first.messages[0].content
    assert first.messages[0].role == "user"
    assert all(name in prompt for name in VALUES) and "Germany" in prompt


def test_defaults_select_the_whole_taxonomy(task):
    requests = task.build_requests("Germany", "Religion")
    assert len(requests) == 8
    assert len(requests[0].metadata["values"]) == len(task.taxonomy.value_names)


def test_logprob_scoring_asks_one_digit_per_value():
    task = stated_task(scoring="logprob", variants="0,6", top_logprobs=7)
    requests = task.build_requests(COUNTRIES[:1], TOPICS[:1], VALUES)
    assert len(requests) == len(VALUES) * 2
    first = requests[0]
    assert first.max_tokens == 1 and first.top_logprobs == 7 and first.json_schema is None
    assert first.metadata["value"] == "Honest" and first.metadata["scoring"] == "logprob"
    assert "single digit" in first.messages[0].content


def test_unknown_names_and_options_fail_early(task):
    with pytest.raises(UnknownNameError, match="did you mean 'Nigeria'"):
        task.build_requests("Nigeira", "Religion")
    with pytest.raises(ValuelensError, match="unknown scoring"):
        stated_task(scoring="sample")  # type: ignore[arg-type]
    with pytest.raises(ValuelensError, match="variant"):
        stated_task(variants="0,9")


def _by_value(records: list[StatedRecord]) -> dict[str, StatedRecord]:
    return {r.value: r for r in records}


def test_parses_fenced_prose_and_word_answers(task, request0, answer):
    text = (
        "Sure! Here is how I would answer:\n```json\n"
        '{"Honest": "1", "Wealth": "3: disagree", "Clean": "Not like me at all"}\n```\nThanks'
    )
    records = _by_value(task.parse(answer(request0, text)))
    assert {v: r.likert for v, r in records.items()} == {"Honest": 1.0, "Wealth": 3.0, "Clean": 4.0}
    assert {r.parse_status for r in records.values()} == {"ok"}
    assert all(
        r.raw == text and r.variant == 0 and r.country == "Germany" for r in records.values()
    )


def test_missing_and_unreadable_values_are_recorded(task, request0, answer):
    text = '{"honest": 2, "Wealth": "not applicable"}'
    records = _by_value(task.parse(answer(request0, text)))
    assert records["Honest"].likert == 2.0 and records["Honest"].parse_status == "ok"
    for name in ("Wealth", "Clean"):
        assert records[name].likert is None and records[name].parse_status == "failed"


def test_truncated_json_is_repaired(task, request0, answer):
    records = _by_value(task.parse(answer(request0, '{"Honest": "2", "Wealth": "4", "Cle')))
    assert records["Honest"].likert == 2.0 and records["Honest"].parse_status == "repaired"
    assert records["Wealth"].likert == 4.0
    assert records["Clean"].parse_status == "failed"


def test_refusal_and_error(task, request0, answer):
    refused = task.parse(answer(request0, "I'm sorry, but I can't take on a nationality."))
    assert all(r.refusal and r.parse_status == "failed" and r.likert is None for r in refused)
    failed = task.parse(answer(request0, error="HTTP 500 after 5 attempts"))
    assert [r.parse_status for r in failed] == ["error"] * 3
    assert failed[0].error == "HTTP 500 after 5 attempts" and failed[0].raw is None


def test_reask_asks_only_for_missing_values_once(task, request0, answer):
    first = task.parse(answer(request0, '{"Honest": "2"}'))
    reasks = task.reask_requests(first)
    assert len(reasks) == 1
    again = reasks[0]
    assert again.metadata["values"] == ["Wealth", "Clean"] and again.metadata["attempt"] == 1
    assert again.seed != request0.seed
    assert "Honest" not in again.messages[0].content
    assert again.json_schema is not None and again.json_schema["required"] == ["Wealth", "Clean"]
    second = task.parse(answer(again, '{"Wealth": "3"}'))
    records = first + second
    assert task.reask_requests(records) == []  # max_reasks=1 reached
    frame = task.to_frame(records)
    assert len(frame) == 3
    rows = frame.set_index("value")
    assert rows.loc["Honest", "likert"] == 2.0 and rows.loc["Honest", "attempt"] == 0
    assert rows.loc["Wealth", "likert"] == 3.0 and rows.loc["Wealth", "attempt"] == 1
    assert math.isnan(rows.loc["Clean", "likert"]) and rows.loc["Clean", "attempt"] == 1


def test_no_reask_by_default_or_for_errors(request0, answer):
    plain = stated_task()
    assert plain.reask_requests(plain.parse(answer(request0, "{}"))) == []
    task = stated_task(max_reasks=2)
    assert task.reask_requests(task.parse(answer(request0, error="timeout"))) == []


def test_frame_columns_match_the_contract(task, request0, answer):
    frame = task.to_frame(task.parse(answer(request0, '{"Honest": "1"}')))
    assert list(frame.columns[:7]) == [
        "country",
        "topic",
        "value",
        "variant",
        "likert",
        "parse_status",
        "raw",
    ]
    assert "p1" not in frame.columns


def test_logprob_parse_reads_the_digit_distribution(answer):
    task = stated_task(scoring="logprob")
    request = task.build_requests("Germany", "Religion", "Honest")[0]
    top = {"2": math.log(0.5), " 1": math.log(0.2), "3": math.log(0.1), "The": math.log(0.2)}
    (record,) = task.parse(answer(request, "2", top=[top]))
    assert record.parse_status == "ok"
    assert record.probs == pytest.approx((0.25, 0.625, 0.125, 0.0))
    assert record.likert == pytest.approx(0.25 + 2 * 0.625 + 3 * 0.125)
    assert record.mass == pytest.approx(0.8)
    frame = task.to_frame([record])
    assert frame.loc[0, "p2"] == pytest.approx(0.625) and frame.loc[0, "p4"] == 0.0


def test_logprob_parse_skips_a_leading_non_digit_token(answer):
    task = stated_task(scoring="logprob")
    request = task.build_requests("Germany", "Religion", "Honest")[0]
    positions = [{" ": -0.1, "The": -3.0}, {"4": -0.2, "3": -1.8}]
    (record,) = task.parse(answer(request, " 4", top=positions))
    assert record.parse_status == "repaired" and record.likert > 3.5


def test_logprob_parse_without_logprobs_falls_back_to_text(answer):
    task = stated_task(scoring="logprob")
    request = task.build_requests("Germany", "Religion", "Honest")[0]
    (record,) = task.parse(answer(request, "3"))
    assert record.likert == 3.0 and record.probs is None and record.parse_status == "partial"
    (record,) = task.parse(answer(request, "Hmm"))
    assert record.likert is None and record.parse_status == "failed"


def test_check_backend():
    stated_task().check_backend(Capabilities())
    with pytest.raises(ValuelensError, match="log-probabilities"):
        stated_task(scoring="logprob").check_backend(Capabilities(json_schema=True))
    stated_task(scoring="logprob").check_backend(Capabilities(logprobs=True, max_top_logprobs=5))
