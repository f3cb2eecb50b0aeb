"""Reading answers in a pack's language: whole Likert words only, cut-off replies, digits of
other scripts, Unicode spelling variants, and pack checks (blank words, unknown countries).

Expected scores come from the packs' own scales (position in the list + 1), by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from language_fixture import CODE, pack_data, write_languages_dir

from valuelens._errors import ValuelensError
from valuelens.models import Response
from valuelens.prompts import load_templates
from valuelens.runner import RunResult
from valuelens.tasks import ActionPair, action_task, stated_task
from valuelens.taxonomy import language_plan, load_language, load_taxonomy

PAIR = ActionPair("India", "Religion", "Honest", positive="GOOD-ACTION", negative="BAD-ACTION")


def _result(request, text: str, finish_reason: str = "stop") -> RunResult:
    response = Response(text=text, finish_reason=finish_reason)  # type: ignore[arg-type]
    return RunResult(
        key="k", request=request, response=response, error=None, cached=False, attempts=1
    )


def _stated_scores(code: str, answers: list[str]) -> list[tuple[float | None, str]]:
    """Task 1 answers (one per value, in order) read back as (likert, parse_status)."""
    pack = load_language(code)
    task = stated_task(
        variants="0", templates=load_templates(tasks=["stated"], language=code), language=pack
    )
    values = ["Honest", "Wealth", "Freedom", "Daring"][: len(answers)]
    (request,) = task.build_requests("India", "Religion", ",".join(values))
    keys = list(request.json_schema["properties"])
    text = json.dumps(dict(zip(keys, answers, strict=True)), ensure_ascii=False)
    by_value = {r.value: r for r in task.parse(_result(request, text))}
    return [(by_value[v].likert, by_value[v].parse_status) for v in values]


def _action_task(code: str, variants: str = "0"):
    templates = load_templates(tasks=["action"], language=code)
    return action_task(variants=variants, templates=templates, language=load_language(code))


# 1. A pack word counts only as the whole answer.


def test_hindi_phrases_that_only_contain_a_pack_word_are_left_unscored() -> None:
    # "सहमत नहीं" (not agree) contains सहमत (2); "बिल्कुल मेरे जैसा नहीं" (not at all like me,
    # without the pack's भी) contains "बिल्कुल मेरे जैसा" (1). Neither is a pack word.
    scores = _stated_scores("hi", ["सहमत नहीं", "बिल्कुल मेरे जैसा नहीं"])
    assert scores == [(None, "failed"), (None, "failed")]


def test_an_arabic_phrase_that_only_contains_a_pack_word_is_left_unscored() -> None:
    # "غير موافق على الإطلاق" contains "غير موافق" (3) but is not one of the pack's words.
    assert _stated_scores("ar", ["غير موافق على الإطلاق"]) == [(None, "failed")]


def test_whole_pack_words_still_score_with_a_leading_digit_and_punctuation() -> None:
    # hi survey: पूरी तरह सहमत 1, सहमत 2, असहमत 3, पूरी तरह असहमत 4; portrait 4th:
    # बिल्कुल भी मेरे जैसा नहीं.
    answers = ["असहमत।", "  पूरी तरह असहमत ", "बिल्कुल भी मेरे जैसा नहीं", "सहमत"]
    assert _stated_scores("hi", answers) == [
        (3.0, "ok"),
        (4.0, "ok"),
        (4.0, "ok"),
        (2.0, "ok"),
    ]


# 2. A Task 2 reply cut off at its token limit is not a choice.


def test_a_truncated_task2_reply_without_an_action_is_failed() -> None:
    task = _action_task("hi", "1")  # a variant with an explanation
    (request,) = task.build_requests([PAIR])
    text = '{"explanation": "विकल्प 2 बेहतर लगता है क्योंकि'
    record = task.parse(_result(request, text, finish_reason="length"))
    assert record.choice is None and record.parse_status == "failed"
    assert record.error is not None and "truncated" in record.error
    assert record.raw == text
    # The same text that ended normally is still read by the free-text fallback.
    finished = task.parse(_result(request, text, finish_reason="stop"))
    assert finished.choice is not None


def test_a_truncated_reply_that_has_its_action_is_still_read() -> None:
    task = _action_task("hi", "0")
    (request,) = task.build_requests([PAIR])
    record = task.parse(_result(request, '{"action": "विकल्प 2", "expl', finish_reason="length"))
    assert record.choice == "positive"  # variant 0 shows the negative action as Option 1


def test_non_english_packs_get_three_times_the_tokens() -> None:
    english = action_task(variants="0,1").build_requests([PAIR])
    hindi = _action_task("hi", "0,1").build_requests([PAIR])
    assert [r.max_tokens for r in hindi] == [3 * r.max_tokens for r in english]
    stated_en = stated_task(variants="0").build_requests("India", "Religion", "Honest,Wealth")
    pack = load_language("hi")
    stated_hi = stated_task(
        variants="0", templates=load_templates(tasks=["stated"], language="hi"), language=pack
    ).build_requests("India", "Religion", "Honest,Wealth")
    assert stated_hi[0].max_tokens == 3 * stated_en[0].max_tokens


# 3. Blank or repeated answer words are refused in one line.


@pytest.mark.parametrize(
    ("field", "words"),
    [
        ("likert_survey", ["voll dafür", "  ", "dagegen", "voll dagegen"]),
        ("likert_portrait", ["ganz wie ich", "wie ich", "wie ich", "gar nicht wie ich"]),
        ("option_labels", ["", "Wahl 2"]),
        ("option_labels", ["Wahl 1", "wahl  1"]),
    ],
)
def test_blank_or_repeated_answer_words_are_refused(
    tmp_path: Path, field: str, words: list[str]
) -> None:
    data = pack_data()
    data["answers"][field] = words
    folder = write_languages_dir(tmp_path / "langs", data)
    with pytest.raises(ValuelensError) as caught:
        load_language(CODE, folder)
    message = str(caught.value)
    assert "\n" not in message and f"{CODE}.yaml" in message and field in message


# 4. Digits of other scripts.


@pytest.mark.parametrize(("answer", "option"), [("الخيار ٢", 2), ("الخيار ١", 1)])
def test_arabic_indic_digits_in_a_task2_label_are_read(answer: str, option: int) -> None:
    task = _action_task("ar", "0")
    (request,) = task.build_requests([PAIR])
    record = task.parse(_result(request, json.dumps({"action": answer}, ensure_ascii=False)))
    # Variant 0 shows the negative action as Option 1.
    assert record.choice == ("negative" if option == 1 else "positive")


def test_devanagari_and_extended_arabic_digits_in_task1_are_read() -> None:
    assert _stated_scores("hi", ["२", "४"]) == [(2.0, "ok"), (4.0, "ok")]
    assert _stated_scores("ur", ["۳", "۱"]) == [(3.0, "ok"), (1.0, "ok")]


# 5. Unicode spelling variants of keys and answer words.


def _hindi_with_nukta_name(tmp_path: Path) -> Path:
    """A user's hi pack whose name for Honest is written with a precomposed nukta letter."""
    data = yaml.safe_load(load_language("hi").model_dump_json())
    for key in ("source", "builtin"):
        data.pop(key)
    data["values"]["Honest"]["name"] = "\u095eईमान"  # फ़ precomposed
    folder = tmp_path / "langs"
    folder.mkdir()
    (folder / "hi.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return folder


def test_a_value_key_in_the_other_nukta_spelling_is_read(tmp_path: Path) -> None:
    folder = _hindi_with_nukta_name(tmp_path)
    pack = load_language("hi", folder)
    templates = load_templates(tasks=["stated"], language="hi")
    task = stated_task(variants="0", templates=templates, language=pack)
    (request,) = task.build_requests("India", "Religion", "Honest")
    decomposed = "\u092b\u093cईमान"
    text = json.dumps({decomposed: pack.answers.likert_survey[2]}, ensure_ascii=False)
    (record,) = task.parse(_result(request, text))
    assert record.likert == 3.0


def test_french_curly_apostrophe_is_read_as_the_straight_one() -> None:
    # fr survey: tout à fait d'accord 1, d'accord 2, pas d'accord 3, pas du tout d'accord 4.
    scores = _stated_scores("fr", ["pas d\u2019accord", "Pas du tout d\u2019accord"])
    assert scores == [(3.0, "ok"), (4.0, "ok")]


def test_arabic_diacritics_tatweel_and_letter_variants_are_ignored() -> None:
    # ar survey: موافق بشدة 1, موافق 2, غير موافق 3; with a shadda+fatha, a tatweel, and
    # ى for ي in غير.
    answers = ["مو\u0627فق بشد\u0651\u064eة", "موا\u0640فق", "غىر موافق"]
    assert _stated_scores("ar", answers) == [(1.0, "ok"), (2.0, "ok"), (3.0, "ok")]


def test_urdu_answers_with_arabic_yeh_and_kaf_are_read() -> None:
    # ur survey: پوری طرح متفق 1, متفق 2, غیر متفق 3 (Urdu yeh ی); answered with Arabic ي.
    assert _stated_scores("ur", ["غير متفق"]) == [(3.0, "ok")]


# 6. `native_for` must name the taxonomy's countries.


def test_a_native_for_country_outside_the_taxonomy_is_refused(tmp_path: Path) -> None:
    data = pack_data()
    data["native_for"] = ["Deutschland"]
    folder = write_languages_dir(tmp_path / "langs", data)
    with pytest.raises(ValuelensError) as caught:
        language_plan("native", ["India"], folder, taxonomy=load_taxonomy())
    message = str(caught.value)
    assert "\n" not in message and "xx.yaml" in message and "'Deutschland'" in message
    assert "India" in message  # the accepted names are listed


def test_a_known_native_for_country_plans_as_before(tmp_path: Path) -> None:
    folder = write_languages_dir(tmp_path / "langs")
    plan = language_plan("native", ["India", "Nigeria"], folder, taxonomy=load_taxonomy())
    assert plan[CODE] == ["India"]
