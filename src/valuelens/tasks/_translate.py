"""Translating VIA actions into a prompt language, through the runner (so it is cached).

One request per distinct (action text, language), answered as `{"translation": "..."}` under a
JSON schema. A reply that cannot be read, that was cut off at its token limit, or that repeats the
English text unchanged, keeps its raw text with a parse status and gives no translation: the pair is then not evaluated in that
language (never silently asked in English).

Example (inside an async function; `runner` is a `valuelens.runner.Runner`):

    from valuelens.taxonomy import load_language
    from valuelens.tasks._translate import translate_task

    task = translate_task()
    hindi = load_language("hi")
    records = task.parse_many(await runner.run(task.build_requests(["I recycle."], hindi)))
    table = task.to_frame(records)       # source, language, translation, parse_status, raw
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict

from valuelens.data import extract_json_object
from valuelens.models import Request
from valuelens.models._base import JsonObject
from valuelens.prompts import TemplateContract, TemplateSet, load_templates
from valuelens.tasks._records import ResultLike, answer_text, metadata, records_frame, user_request
from valuelens.tasks._registry import register_task
from valuelens.taxonomy import LanguagePack

TASK_NAME = "translate"
TEMPLATE = "translate"
TRANSLATION_COLUMNS = ["language", "source", "translation", "parse_status", "raw", "error"]
MAX_TRANSLATION_CHARS = 2000
TranslationStatus = Literal["ok", "repaired", "unchanged", "truncated", "failed", "error"]
"""ok / repaired: a translation was read (the JSON needed repair); unchanged: the reply is the
English text itself; truncated: the reply hit its token limit (a cut-off sentence, often a
small model repeating itself); failed: no translation could be read; error: the request
failed."""
USABLE: frozenset[str] = frozenset({"ok", "repaired"})

TRANSLATION_SCHEMA: JsonObject = {
    "type": "object",
    "properties": {
        "translation": {"type": "string", "minLength": 1, "maxLength": MAX_TRANSLATION_CHARS}
    },
    "required": ["translation"],
    "additionalProperties": False,
}


class TranslationRecord(BaseModel):
    """One action's translation into one language (`translation` None unless usable)."""

    model_config = ConfigDict(frozen=True)

    language: str
    source: str
    translation: str | None = None
    parse_status: TranslationStatus = "failed"
    raw: str | None = None
    error: str | None = None


def _language_context(pack: LanguagePack) -> dict[str, str]:
    return {"code": pack.code, "name": pack.name, "native_name": pack.native_name}


@dataclass(frozen=True)
class TranslateTask:
    """Builds translation requests and reads the replies (see `translate_task`)."""

    templates: TemplateSet
    temperature: float
    seed: int | None

    def build_requests(self, texts: Iterable[str], pack: LanguagePack) -> list[Request]:
        """One request per distinct non-empty text, in first-seen order."""
        unique = dict.fromkeys(t for t in texts if isinstance(t, str) and t.strip())
        return [self._request(text, pack) for text in unique]

    def _request(self, text: str, pack: LanguagePack) -> Request:
        context = {"language": _language_context(pack), "text": text}
        prompt = self.templates.render(TASK_NAME, TEMPLATE, context)
        return user_request(
            prompt,
            temperature=self.temperature,
            # Scripts such as Devanagari take several tokens a word: room for 3x the English.
            max_tokens=64 + 3 * len(text),
            seed=self.seed,
            metadata={"task": TASK_NAME, "language": pack.code, "source": text},
            json_schema=TRANSLATION_SCHEMA,
        )

    def parse(self, result: ResultLike) -> TranslationRecord:
        """Read one reply; never raises."""
        meta = metadata(result)
        base = {"language": str(meta.get("language", "")), "source": str(meta.get("source", ""))}
        text, error = answer_text(result)
        if text is None or result.response is None:
            return TranslationRecord(**base, parse_status="error", error=error)
        if result.response.finish_reason == "length":
            return TranslationRecord(**base, parse_status="truncated", raw=text)
        obj, repaired = extract_json_object(text)
        found = obj.get("translation") if obj is not None else None
        translation = " ".join(found.split()) if isinstance(found, str) else ""
        if not _is_text(translation) or len(translation) > MAX_TRANSLATION_CHARS:
            return TranslationRecord(**base, parse_status="failed", raw=text)
        if translation.casefold() == " ".join(base["source"].split()).casefold():
            return TranslationRecord(**base, parse_status="unchanged", raw=text)
        status: TranslationStatus = "repaired" if repaired else "ok"
        return TranslationRecord(**base, translation=translation, parse_status=status, raw=text)

    def parse_many(self, results: Iterable[ResultLike]) -> list[TranslationRecord]:
        """`parse` for each result, in order."""
        return [self.parse(result) for result in results]

    def to_frame(self, records: Iterable[TranslationRecord]) -> pd.DataFrame:
        """One row per (language, action text) (the `translations` table)."""
        return records_frame(records, TRANSLATION_COLUMNS)


def _is_text(translation: str) -> bool:
    """Whether a reply holds words, not a copy of the prompt's placeholder (`<...>`, `...`)."""
    placeholder = translation.startswith("<") and translation.endswith(">")
    return any(ch.isalpha() for ch in translation) and not placeholder


def translations_by_text(table: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(language, English text) -> usable translation, from a `to_frame` table."""
    usable = table[table["parse_status"].isin(USABLE)]
    return {
        (str(lang), str(src)): str(out)
        for lang, src, out in zip(
            usable["language"], usable["source"], usable["translation"], strict=True
        )
    }


def translate_task(
    *, templates: TemplateSet | None = None, temperature: float = 0.0, seed: int | None = 0
) -> TranslateTask:
    """Configure the translation of actions.

    Args:
        templates: a set holding `translate/translate.jinja`; default: the built-in one.
        temperature: sampling temperature (0: the most likely translation).
        seed: sampling seed, where the backend honours one.
    """
    chosen = templates if templates is not None else load_templates(tasks=[TASK_NAME])
    return TranslateTask(templates=chosen, temperature=temperature, seed=seed)


def _samples(template: str) -> Sequence[Mapping[str, object]]:
    language = {"code": "de", "name": "German", "native_name": "Deutsch"}
    text = "I hand back the extra change the cashier gave me by mistake."
    return [
        {"language": language, "text": text},
        {"language": {**language, "native_name": ""}, "text": text},
    ]


TRANSLATE_CONTRACT = TemplateContract(
    TASK_NAME,
    (TEMPLATE,),
    _samples,
    {
        "language": "mapping: code, name (English name), native_name (may be empty)",
        "text": "str: the English action",
    },
    loading="by_name",
)

register_task(
    TASK_NAME,
    translate_task,
    record=TranslationRecord,
    contract=TRANSLATE_CONTRACT,
    description="translation of VIA actions into a prompt language (evaluate --language)",
)
