"""The translate task: one request per distinct text and language; replies read or kept raw."""

from __future__ import annotations

from pathlib import Path

import pytest
from language_fixture import CODE, write_languages_dir

from valuelens.models import Response
from valuelens.runner import RunResult
from valuelens.tasks import get_task
from valuelens.tasks._translate import TRANSLATION_SCHEMA, translate_task, translations_by_text
from valuelens.taxonomy import LanguagePack, load_language

SOURCE = "I give my savings to the temple fund."


@pytest.fixture
def pack(tmp_path: Path) -> LanguagePack:
    return load_language(CODE, write_languages_dir(tmp_path / "langs"))


def _reply(request, text: str | None, error: str | None = None) -> RunResult:
    response = Response(text=text) if text is not None else None
    return RunResult(
        key="k", request=request, response=response, error=error, cached=False, attempts=1
    )


def test_requests_are_one_per_distinct_text_with_the_language_named(pack: LanguagePack) -> None:
    requests = translate_task().build_requests([SOURCE, SOURCE, "  ", None, "I stay."], pack)
    assert [r.metadata["source"] for r in requests] == [SOURCE, "I stay."]
    prompt = requests[0].messages[0].content
    assert "into Testish (Testisch)" in prompt and f"Sentence: {SOURCE}" in prompt
    assert requests[0].json_schema == TRANSLATION_SCHEMA
    assert requests[0].metadata["language"] == CODE


def test_the_task_is_registered_with_its_template_contract() -> None:
    spec = get_task("translate")
    assert spec.contract is not None and spec.contract.files == ("translate",)
    assert spec.evaluation is None  # evaluate runs it itself, for --language


@pytest.mark.parametrize(
    ("text", "status", "translation"),
    [
        ('{"translation": "Ich gebe  mein Erspartes dem Tempel."}', "ok",
         "Ich gebe mein Erspartes dem Tempel."),
        ('Sure! {"translation": "Ich gebe mein Erspartes."', "repaired", "Ich gebe mein Erspartes."),
        ('{"translation": "..."}', "failed", None),  # the prompt's placeholder copied
        ('{"translation": "<the sentence>"}', "failed", None),
        ('{"translation": "i give my savings to the temple fund."}', "unchanged", None),
        ("no json at all", "failed", None),
        ('{"text": "Ich gebe."}', "failed", None),
    ],
)  # fmt: skip
def test_replies_are_read_or_kept_raw_with_a_status(
    pack: LanguagePack, text: str, status: str, translation: str | None
) -> None:
    task = translate_task()
    (request,) = task.build_requests([SOURCE], pack)
    record = task.parse(_reply(request, text))
    assert (record.parse_status, record.translation) == (status, translation)
    assert record.raw == text and record.source == SOURCE and record.language == CODE


def test_only_usable_translations_are_looked_up(pack: LanguagePack) -> None:
    task = translate_task()
    first, second = task.build_requests([SOURCE, "I stay."], pack)
    records = [
        task.parse(_reply(first, '{"translation": "Ich gebe."}')),
        task.parse(_reply(second, None, error="HTTP 500")),
    ]
    table = task.to_frame(records)
    assert list(table["parse_status"]) == ["ok", "error"]
    assert translations_by_text(table) == {(CODE, SOURCE): "Ich gebe."}


def test_a_reply_cut_off_at_its_token_limit_is_not_used(pack: LanguagePack) -> None:
    task = translate_task()
    (request,) = task.build_requests([SOURCE], pack)
    cut = '{"translation": "Ich gebe gebe gebe gebe'
    result = RunResult(
        key="k", request=request, response=Response(text=cut, finish_reason="length"),
        error=None, cached=False, attempts=1,
    )  # fmt: skip
    record = task.parse(result)
    assert (record.parse_status, record.translation, record.raw) == ("truncated", None, cut)
