from __future__ import annotations

import ast
import math

import pandas as pd
import pytest

from valuelens._errors import ValuelensError
from valuelens.models import Capabilities
from valuelens.prompts import ACTION_VARIANTS
from valuelens.tasks import ActionPair, action_pairs, action_task

COUNTRIES = ["Germany", "Uganda"]
TOPICS = ["Religion", "Work Orientation"]
VALUES = ["Honest", "Wealth", "Clean"]


def _via_table() -> pd.DataFrame:
    """2 countries x 2 topics x 3 values x 2 polarities; one pair has a refused side."""
    rows = []
    for country in COUNTRIES:
        for topic in TOPICS:
            for value in VALUES:
                for polarity in ("positive", "negative"):
                    text = f"I act {polarity}ly on {value} about {topic} in {country}."
                    rows.append(
                        {
                            "country": country,
                            "topic": topic,
                            "value": value,
                            "polarity": polarity,
                            "action": text,
                            "attributions": [],
                            "explanation": None,
                            "raw": text,
                            "parse_status": "ok",
                        }
                    )
    table = pd.DataFrame(rows)
    refused = (
        (table["country"] == "Uganda")
        & (table["topic"] == "Religion")
        & (table["value"] == "Clean")
        & (table["polarity"] == "negative")
    )
    table.loc[refused, ["action", "parse_status"]] = [None, "refusal"]
    return table


PAIR = ActionPair(
    "Germany",
    "Religion",
    "Honest",
    positive="I return the wallet I found, with all the cash still inside it.",
    negative="I keep the cash from the wallet I found and drop it in a bin.",
)


@pytest.fixture(scope="module")
def every_variant():
    return action_task(variants="all")


def _request(task, variant: int):
    return next(r for r in task.build_requests([PAIR]) if r.metadata["variant"] == variant)


def test_pairs_come_from_a_via_table_without_incomplete_ones():
    pairs = action_pairs(_via_table())
    assert len(pairs) == 2 * 2 * 3 - 1
    assert ("Uganda", "Religion", "Clean") not in {(p.country, p.topic, p.value) for p in pairs}
    first = pairs[0]
    assert first.positive.startswith("I act positively") and first.negative.startswith("I act neg")


def test_pairs_from_a_hand_made_table():
    table = _via_table()[["country", "topic", "value", "polarity", "action"]]
    assert len(action_pairs(table)) == 11


def test_a_table_without_actions_is_a_clear_error():
    with pytest.raises(ValuelensError, match=r"lacks column\(s\) polarity, action;"):
        action_pairs(
            pd.DataFrame({"country": ["Germany"], "topic": ["Religion"], "value": ["Clean"]})
        )


def test_one_request_per_pair_and_variant(every_variant):
    requests = every_variant.build_requests(_via_table())
    assert len(requests) == 11 * 8
    meta = requests[1].metadata
    assert meta["task"] == "action" and meta["variant"] == 1 and meta["country"] == "Germany"
    assert meta["option1_polarity"] == "negative" and meta["explanation"] is True
    assert requests[1].json_schema is not None
    assert requests[1].json_schema["required"] == ["explanation", "action"]
    assert requests[0].json_schema is not None and requests[0].json_schema["required"] == ["action"]
    assert requests[0].json_schema["properties"]["action"]["enum"] == ["Option 1", "Option 2"]


def test_each_polarity_is_shown_first_in_half_the_variants(every_variant):
    requests = every_variant.build_requests([PAIR])
    assert len(requests) == 8
    first_shown = []
    for request in requests:
        prompt = request.messages[0].content
        option1_line = next(line for line in prompt.splitlines() if line.startswith("Option 1:"))
        shown = "positive" if PAIR.positive in option1_line else "negative"
        assert PAIR.negative in prompt and PAIR.positive in prompt
        assert shown == request.metadata["option1_polarity"]
        first_shown.append(shown)
    assert first_shown.count("positive") == first_shown.count("negative") == 4


def test_default_is_the_papers_variant():
    requests = action_task().build_requests([PAIR])
    assert [r.metadata["variant"] for r in requests] == [5]


@pytest.mark.parametrize(
    ("variant", "text", "choice", "status"),
    [
        (0, '{"action": "Option 1"}', "negative", "ok"),
        (0, '{"action": "Option 2"}', "positive", "ok"),
        (2, '{"action": "Option 1"}', "positive", "ok"),
        (2, '{"action": 2}', "negative", "ok"),
        (0, '```json\n{"Action": "option 2: I return the wallet"}\n```', "positive", "ok"),
        (0, "{'action': 'Option 1'}", "negative", "repaired"),
        (
            0,
            '{"action": "I keep the cash from the wallet I found and drop it in a bin."}',
            "negative",
            "repaired",
        ),
        (0, "After some thought, I would go with Option 2.", "positive", "repaired"),
        (0, "2", "positive", "repaired"),
        (0, "Option 1 keeps money, Option 2 is honest; I cannot pick.", None, "failed"),
        (0, '{"action": "Both"}', None, "failed"),
        (1, '{"explanation": "Honesty matters.", "action": "Option 2"}', "positive", "ok"),
        (1, '{"action": "Option 2"}', "positive", "partial"),
        (
            3,
            '{"explanation": "Returning it is right", "action": "Option 1"',
            "positive",
            "repaired",
        ),
        (0, "", None, "failed"),
    ],
)
def test_parse_generate_answers(every_variant, answer, variant, text, choice, status):
    record = every_variant.parse(answer(_request(every_variant, variant), text))
    assert record.choice == choice
    assert record.parse_status == status
    assert record.raw == text and record.variant == variant
    assert record.option1_polarity == ACTION_VARIANTS[variant].option1_polarity


def test_explanation_is_kept(every_variant, answer):
    text = '{"explanation": "In Germany honesty is valued.", "action": "Option 2"}'
    record = every_variant.parse(answer(_request(every_variant, 1), text))
    assert record.explanation == "In Germany honesty is valued."


def test_refusal_and_error(every_variant, answer):
    request = _request(every_variant, 0)
    refused = every_variant.parse(answer(request, "I'm sorry, I can't choose for you."))
    assert refused.choice is None and refused.refusal and refused.parse_status == "failed"
    failed = every_variant.parse(answer(request, error="connection reset"))
    assert failed.parse_status == "error" and failed.error == "connection reset"


def test_logprob_scoring(answer):
    task = action_task(scoring="logprob", variants="0,2")
    requests = task.build_requests([PAIR])
    assert [r.max_tokens for r in requests] == [1, 1] and requests[0].json_schema is None
    assert "single digit" in requests[0].messages[0].content
    top = {"1": math.log(0.6), "2": math.log(0.2), "Option": math.log(0.2)}
    negative_first = task.parse(answer(requests[0], "1", top=[top]))
    assert negative_first.p_negative == pytest.approx(0.75)
    assert negative_first.choice == "negative" and negative_first.parse_status == "ok"
    assert negative_first.mass == pytest.approx(0.8)
    positive_first = task.parse(answer(requests[1], "1", top=[top]))
    assert positive_first.p_negative == pytest.approx(0.25) and positive_first.choice == "positive"
    no_logprobs = task.parse(answer(requests[1], "2"))
    assert no_logprobs.choice == "negative" and no_logprobs.parse_status == "partial"
    assert no_logprobs.p_negative is None


def test_frame_columns_match_the_contract(every_variant, answer):
    records = [
        every_variant.parse(answer(r, '{"action": "Option 1"}'))
        for r in every_variant.build_requests([PAIR])
    ]
    frame = every_variant.to_frame(records)
    assert list(frame.columns[:9]) == [
        "country",
        "topic",
        "value",
        "variant",
        "option1_polarity",
        "choice",
        "explanation",
        "parse_status",
        "raw",
    ]
    # Always answering "Option 1" is pure position bias: it picks each side four times.
    assert frame["choice"].value_counts().to_dict() == {"negative": 4, "positive": 4}


def test_bad_options_fail_early():
    with pytest.raises(ValuelensError, match="unknown scoring"):
        action_task(scoring="vote")  # type: ignore[arg-type]
    with pytest.raises(ValuelensError, match="variant"):
        action_task(variants="all,")
    with pytest.raises(ValuelensError, match="log-probabilities"):
        action_task(scoring="logprob").check_backend(Capabilities())


MODEL_FILES = [
    "task2_results_gpt_35_turbo.csv",
    "task2_results_claude_sonnet_4.csv",
    "task2_results_deepseek-r1-distill-llama-70b.csv",
    "task2_results_gemma2.csv",
]


@pytest.mark.parametrize("name", MODEL_FILES)
def test_real_task2_answers(reference_dir, answer, every_variant, name):
    """The authors' robustness study: option1 is the negative action, shown second in 2, 3, 6, 7."""
    table = pd.read_csv(reference_dir / "src" / "outputs" / name)
    checked = 0
    for row in table.itertuples():
        pair = ActionPair(
            row.country, row.topic, row.value, positive=row.option2, negative=row.option1
        )
        for request in every_variant.build_requests([pair]):
            variant = request.metadata["variant"]
            text = getattr(row, f"evaluation_{variant}")
            said = str(ast.literal_eval(text).get("action", "")).strip()
            number = {"Option 1": 1, "1": 1, "Option 2": 2, "2": 2}.get(said)
            reversed_order = variant in (2, 3, 6, 7)
            expected = (
                None
                if number is None
                else ("negative" if (number == 1) != reversed_order else "positive")
            )
            record = every_variant.parse(answer(request, text))
            assert record.choice == expected, (name, row.Index, variant, text[:80])
            checked += 1
    assert checked == len(table) * 8
