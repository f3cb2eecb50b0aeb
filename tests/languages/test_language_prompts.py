"""Prompts and parsing in a prompt language: translated templates and names, answers read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from language_fixture import CODE, OPTION_LABELS, write_languages_dir

from valuelens._errors import ValuelensError
from valuelens.models import Response
from valuelens.prompts import ACTION_VARIANTS, load_templates
from valuelens.runner import RunResult
from valuelens.tasks import ActionPair, action_task, stated_task
from valuelens.taxonomy import LanguagePack, available_languages, load_language

PAIR = ActionPair("India", "Religion", "Honest", positive="WAHR-POSITIV", negative="FALSCH-NEGATIV")


@pytest.fixture
def languages_dir(tmp_path: Path) -> Path:
    return write_languages_dir(tmp_path / "langs")


@pytest.fixture
def pack(languages_dir: Path) -> LanguagePack:
    return load_language(CODE, languages_dir)


def _answer(request, text: str) -> RunResult:
    return RunResult(
        key="k", request=request, response=Response(text=text), error=None, cached=False, attempts=1
    )


def _stated(pack: LanguagePack, languages_dir: Path, variants: str = "0"):
    templates = load_templates(tasks=["stated"], language=CODE, languages_dir=languages_dir)
    return stated_task(variants=variants, templates=templates, language=pack)


def _action(pack: LanguagePack, languages_dir: Path, variants: str = "0"):
    templates = load_templates(tasks=["action"], language=CODE, languages_dir=languages_dir)
    return action_task(variants=variants, templates=templates, language=pack)


def test_english_prompts_are_unchanged_by_the_language_machinery() -> None:
    # The default and an explicit English load render the same bytes.
    default, english = load_templates(), load_templates(language="en")
    task_a, task_b = stated_task(templates=default), stated_task(templates=english)
    first = task_a.build_requests("India", "Religion", "Honest,Wealth")
    second = task_b.build_requests("India", "Religion", "Honest,Wealth")
    assert [r.messages for r in first] == [r.messages for r in second]
    assert "language" not in first[0].metadata
    assert english.language == "en" and english.language_files == {}


def test_task1_prompt_shows_the_packs_words_and_its_schema_takes_the_translated_keys(
    pack: LanguagePack, languages_dir: Path
) -> None:
    (request,) = _stated(pack, languages_dir).build_requests("India", "Religion", "Honest,Wealth")
    prompt = request.messages[0].content
    assert "XX-SZENARIO: Sie leben in XX:India und denken an XX:Religion." in prompt
    assert "- XX:Honest: XXDEF genuine, sincere" in prompt
    assert "Picture yourself" not in prompt  # none of the English prose
    assert list(request.json_schema["properties"]) == ["XX:Honest", "XX:Wealth"]
    assert request.metadata["values"] == ["Honest", "Wealth"]
    assert request.metadata["language"] == CODE


def test_task1_answers_with_translated_keys_and_likert_words_are_read(
    pack: LanguagePack, languages_dir: Path
) -> None:
    task = _stated(pack, languages_dir)
    (request,) = task.build_requests("India", "Religion", "Honest,Wealth,Freedom,Daring")
    answer = {"XX:Honest": "3", "xx:wealth": "voll dagegen", "XX:Freedom": "dafür",
              "XX:Daring": "gar nicht wie ich"}  # fmt: skip
    records = {r.value: r for r in task.parse(_answer(request, json.dumps(answer)))}
    # By hand from the pack's scales: voll dagegen = 4, dafür = 2, gar nicht wie ich = 4.
    assert {v: r.likert for v, r in records.items()} == {
        "Honest": 3.0, "Wealth": 4.0, "Freedom": 2.0, "Daring": 4.0
    }  # fmt: skip
    assert {r.language for r in records.values()} == {CODE}
    assert {r.parse_status for r in records.values()} == {"ok"}


def test_task2_prompt_and_schema_use_the_packs_option_labels(
    pack: LanguagePack, languages_dir: Path
) -> None:
    (request,) = _action(pack, languages_dir, "0").build_requests([PAIR])
    prompt = request.messages[0].content
    assert ACTION_VARIANTS[0].option1_polarity == "negative"
    assert "Wahl 1: FALSCH-NEGATIV\nWahl 2: WAHR-POSITIV" in prompt
    assert "XX-FRAGE-0: Sie leben in XX:India." in prompt
    assert request.json_schema["properties"]["action"]["enum"] == OPTION_LABELS


@pytest.mark.parametrize(
    ("text", "choice"),
    [
        ('{"action": "Wahl 2"}', "positive"),  # variant 0: Option 2 holds the positive action
        ('{"action": "wahl  1"}', "negative"),
        ('{"action": "Option 1"}', "negative"),  # English labels still read
        ("Ich nehme Wahl 2, weil es passt.", "positive"),
    ],
)
def test_task2_answers_naming_the_packs_labels_are_read(
    pack: LanguagePack, languages_dir: Path, text: str, choice: str
) -> None:
    task = _action(pack, languages_dir, "0")
    (request,) = task.build_requests([PAIR])
    record = task.parse(_answer(request, text))
    assert record.choice == choice and record.language == CODE


def test_a_label_followed_by_more_digits_is_not_that_label(
    pack: LanguagePack, languages_dir: Path
) -> None:
    task = _action(pack, languages_dir, "0")
    (request,) = task.build_requests([PAIR])
    record = task.parse(_answer(request, '{"action": "Wahl 12"}'))
    assert record.choice is None and record.parse_status == "failed"
    assert record.raw == '{"action": "Wahl 12"}'


def test_a_language_without_translated_templates_is_refused(tmp_path: Path) -> None:
    folder = write_languages_dir(tmp_path / "langs")
    for parts in (folder / "_lang").rglob("_parts.jinja"):
        parts.unlink()
    with pytest.raises(ValuelensError, match=r"'xx' has no translated stated templates"):
        load_templates(tasks=["stated"], language=CODE, languages_dir=folder)


def test_a_users_template_folder_wins_over_the_language_files(
    pack: LanguagePack, languages_dir: Path, tmp_path: Path
) -> None:
    own = tmp_path / "mine" / "stated"
    own.mkdir(parents=True)
    (own / "_parts.jinja").write_text(
        (languages_dir / "_lang/xx/stated/_parts.jinja")
        .read_text("utf-8")
        .replace("XX-SZENARIO", "MEIN-SZENARIO"),
        "utf-8",
    )
    (own / "variant_0.jinja").write_text(
        '{% import "stated/_parts.jinja" as parts %}{{ parts.scenario(country, topic) }}', "utf-8"
    )
    templates = load_templates(
        tmp_path / "mine", tasks=["stated"], language=CODE, languages_dir=languages_dir
    )
    task = stated_task(variants="0", templates=templates, language=pack)
    (request,) = task.build_requests("India", "Religion", "Honest")
    assert (
        request.messages[0].content
        == "MEIN-SZENARIO: Sie leben in XX:India und denken an XX:Religion."
    )


@pytest.mark.skipif("hi" not in available_languages(), reason="no Hindi pack yet")
def test_hindi_likert_words_map_to_their_scale_points() -> None:
    hindi = load_language("Hindi")
    task = stated_task(
        variants="0",
        templates=load_templates(tasks=["stated"], language="hi"),
        language=hindi,
    )
    (request,) = task.build_requests("India", "Religion", "Honest,Wealth,Freedom")
    names = [hindi.values[v].name for v in ("Honest", "Wealth", "Freedom")]
    survey = hindi.answers.likert_survey
    # "strongly disagree" contains "disagree", which contains "agree": each maps to its own
    # point on the scale (4, 3, 2), read from the pack's own list.
    answer = dict(zip(names, [survey[3], survey[2], survey[1]], strict=True))
    records = {
        r.value: r.likert
        for r in task.parse(_answer(request, json.dumps(answer, ensure_ascii=False)))
    }
    assert records == {"Honest": 4.0, "Wealth": 3.0, "Freedom": 2.0}


BUILT_IN = [code for code in available_languages() if code != "en"]


@pytest.mark.parametrize("code", BUILT_IN)
def test_each_built_in_language_round_trips_its_own_words(code: str) -> None:
    pack = load_language(code)
    templates = load_templates(tasks=["stated", "action"], language=code)
    stated = stated_task(variants="all", templates=templates, language=pack)
    requests = stated.build_requests("India", "Religion", "Honest,Wealth")
    for request in requests:
        prompt = request.messages[0].content
        assert pack.country("India") in prompt and pack.values["Honest"].name in prompt
        keys = list(request.json_schema["properties"])
        scale = pack.answers.likert_survey
        answer = json.dumps({keys[0]: scale[3], keys[1]: "2"}, ensure_ascii=False)
        scores = {r.value: r.likert for r in stated.parse(_answer(request, answer))}
        assert scores == {"Honest": 4.0, "Wealth": 2.0}
    action = action_task(variants="all", templates=templates, language=pack)
    for request in action.build_requests([PAIR]):
        labels = pack.answers.option_labels
        prompt = request.messages[0].content
        assert all(label in prompt for label in labels), "the prompt names the pack's labels"
        record = action.parse(_answer(request, json.dumps({"action": labels[1]})))
        negative_first = request.metadata["option1_polarity"] == "negative"
        assert record.choice == ("positive" if negative_first else "negative")
