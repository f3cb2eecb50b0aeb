"""Typed records of the three tasks, and the small readers they share for raw model answers."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import Any, Literal, Protocol, TypedDict

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from valuelens._errors import ValuelensError
from valuelens.models import Capabilities, Message, Request, Response
from valuelens.models._base import JsonObject
from valuelens.prompts import Polarity, TemplateSet, load_templates
from valuelens.taxonomy import ENGLISH, LanguagePack, Taxonomy

# ok: read as asked; repaired: read after fixing the JSON or finding the answer another way;
# partial: usable but incomplete (a choice without the asked-for explanation, a digit without
# its probabilities); failed: nothing usable for this item; error: the request itself failed.
ParseStatus = Literal["ok", "repaired", "partial", "failed", "error"]
# Generated actions use the statuses of the VIA table (`valuelens.data.load_via`) plus `error`.
GenerationStatus = Literal["ok", "repaired", "refusal", "failed", "error"]
Scoring = Literal["generate", "logprob"]
SCORINGS: tuple[Scoring, ...] = ("generate", "logprob")


class ResultLike(Protocol):
    """What the tasks read from a runner result: the request, and a response or an error."""

    @property
    def request(self) -> Request: ...

    @property
    def response(self) -> Response | None: ...

    @property
    def error(self) -> str | None: ...


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)

    country: str
    topic: str
    value: str
    variant: int
    raw: str | None = None
    error: str | None = None
    refusal: bool = False


class GeneratedAction(_Record):
    """One generated VIA action with its validation flags.

    `parse_status`: ok / repaired / refusal / failed as in the VIA table, or error when the
    request failed. `valid` is True when the action was read and passes every check.
    """

    polarity: Polarity
    action: str | None = None
    attributions: list[str] = Field(default_factory=list)
    explanation: str | None = None
    parse_status: GenerationStatus = "failed"
    has_all_keys: bool = False
    first_person: bool = False
    within_length: bool = False
    single_sentence: bool = False
    attributions_found: bool = False
    valid: bool = False


class StatedRecord(_Record):
    """One Task 1 answer: a value's Likert score under one prompt variant.

    `likert` is the parsed answer (1 = strongly agree ... 4 = strongly disagree), or in logprob
    scoring the expected score under `probs` (P(1)..P(4), renormalised over the four digits);
    `mass` is the probability the model put on the four digits before renormalising. `attempt`
    is 0 for the first question and n for the n-th re-ask of values missing from an answer.
    `language` is the prompt's language code (`en`, or a language pack's code).
    """

    scoring: Scoring
    likert: float | None = None
    probs: tuple[float, float, float, float] | None = None
    mass: float | None = None
    parse_status: ParseStatus = "failed"
    attempt: int = 0
    language: str = ENGLISH


class ActionRecord(_Record):
    """One Task 2 answer: which action the model chose under one prompt variant.

    `option1_polarity` says which action was shown as Option 1. `p_negative` (logprob scoring)
    is the probability of the option that held the negative action, renormalised over "1"/"2";
    `mass` is the probability the model put on "1" and "2" before renormalising. `language`
    is the prompt's language code.
    """

    scoring: Scoring
    option1_polarity: Polarity
    choice: Polarity | None = None
    p_negative: float | None = None
    mass: float | None = None
    explanation: str | None = None
    parse_status: ParseStatus = "failed"
    language: str = ENGLISH


def check_scoring(scoring: str) -> None:
    """Fail on a scoring mode other than those in `SCORINGS`.

    Raises:
        ValuelensError: an unknown scoring mode.
    """
    if scoring not in SCORINGS:
        raise ValuelensError(f"unknown scoring {scoring!r}; choose {' or '.join(SCORINGS)}")


def task_templates(templates: TemplateSet | None, task: str, files: str) -> TemplateSet:
    """The given templates (default: the built-in ones for `task`), checked to cover `task`.

    Raises:
        ValuelensError: the templates have no files for `task` (named `files` in the message).
    """
    chosen = templates or load_templates(tasks=(task,))
    if task not in chosen.tasks:
        raise ValuelensError(f"the templates from {chosen.source} have no {files} files")
    return chosen


class ScoredTask:
    """What Task 1 and Task 2 share: value definitions for the prompts and the backend check.

    With a language pack (`language`), the prompts get the pack's names and definitions.
    """

    taxonomy: Taxonomy
    scoring: Scoring
    language: LanguagePack | None = None

    @property
    def language_code(self) -> str:
        """The prompts' language code (`en` without a pack)."""
        return ENGLISH if self.language is None else self.language.code

    def _place(self, country: str, topic: str) -> dict[str, str]:
        """The `country` and `topic` template variables, in the prompts' language."""
        if self.language is None:
            return {"country": country, "topic": topic}
        return {"country": self.language.country(country), "topic": self.language.topic(topic)}

    def _token_budget(self, tokens: int) -> int:
        """`max_tokens` for an answer: more room in a pack's language (other scripts cost more)."""
        return tokens if self.language is None else tokens * NON_ENGLISH_TOKEN_FACTOR

    def _language_meta(self) -> dict[str, str]:
        """Request metadata naming the prompt language (none for English, as before)."""
        return {} if self.language is None else {"language": self.language.code}

    @cached_property
    def _value_contexts(self) -> dict[str, dict[str, str]]:
        pack = self.language
        if pack is not None:
            return {v.name: pack.value_context(v.name, v.type) for v in self.taxonomy.values}
        return {v.name: v.model_dump() for v in self.taxonomy.values}

    def _value_context(self, name: str) -> dict[str, str]:
        """A value's template context; a name outside the taxonomy gets no type or definition."""
        return self._value_contexts.get(name) or {"name": name, "type": "", "definition": ""}

    def check_backend(self, capabilities: Capabilities) -> None:
        """Fail early when logprob scoring meets a backend without log-probabilities.

        Raises:
            ValuelensError: the scoring mode needs what the backend cannot give.
        """
        if self.scoring == "logprob" and not capabilities.logprobs:
            raise ValuelensError(
                "this model backend returns no log-probabilities; use --scoring generate"
            )


class RecordFields(TypedDict):
    """The fields every scenario record shares, as `record_fields` reads them."""

    country: str
    topic: str
    value: str
    variant: int


def language_of(meta: Mapping[str, Any]) -> str:
    """The prompt language a request's metadata names (`en` when it names none)."""
    return str(meta.get("language") or ENGLISH)


# Zeros of the decimal digit blocks answers may use (Arabic-Indic, Extended Arabic-Indic as in
# Urdu and Persian, Devanagari, Bengali, Gurmukhi, Gujarati, Tamil, Telugu, Kannada, Malayalam,
# Thai, fullwidth); each block holds 0..9 in order.
_DIGIT_ZEROS = (
    0x0660, 0x06F0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66, 0x0E50,
    0xFF10,
)  # fmt: skip
_ASCII_DIGITS = {zero + i: str(i) for zero in _DIGIT_ZEROS for i in range(10)}
# Arabic harakat, shadda, sukun and the like (U+064B-065F), superscript alef, tatweel.
_ARABIC_MARKS = re.compile("[\u064b-\u065f\u0670\u0640]")
# Spellings that differ only by keyboard: Arabic vs Urdu/Persian yeh and kaf, curly quotes.
_FOLDED_LETTERS = str.maketrans(
    {"\u064a": "\u06cc", "\u0649": "\u06cc", "\u0643": "\u06a9", "\u2019": "'", "\u2018": "'"}
)
_LEADING_DIGIT = re.compile(r"^\W*\d")
# Punctuation around a one-word answer (with the Devanagari danda and Arabic comma and marks).
_EDGE_PUNCTUATION = "\"'`*()[]{}.,;:!?-\u0964\u0965\u060c\u061b\u061f\u06d4\u00bf\u00a1 "
# A pack's Task 1 and Task 2 answers take more tokens in non-Latin scripts.
NON_ENGLISH_TOKEN_FACTOR = 3


def ascii_digits(text: str) -> str:
    """`text` with decimal digits of other scripts (`٢`, `२`, `۳`) written as ASCII digits."""
    return text.translate(_ASCII_DIGITS)


def fold(text: str) -> str:
    """The form names and answer words are compared in (never stored or shown).

    NFKC (so precomposed and decomposed nukta agree), case folded, curly apostrophes made
    straight, Arabic diacritics and tatweel dropped, Arabic yeh/kaf read as the Urdu letters,
    digits in ASCII and runs of whitespace collapsed.
    """
    folded = unicodedata.normalize("NFKC", ascii_digits(text)).casefold()
    folded = _ARABIC_MARKS.sub("", folded.translate(_FOLDED_LETTERS))
    return " ".join(folded.split())


def _bare_word(text: str) -> str:
    """A folded answer without a leading digit and without punctuation around it."""
    word = _LEADING_DIGIT.sub("", fold(text))
    return word.strip(_EDGE_PUNCTUATION) if word else ""


def pack_likert(answer: str, pack: LanguagePack) -> float | None:
    """The Likert number of an answer that is exactly one of the pack's Likert words, else None.

    The word must be the whole answer after folding (`fold`), a leading digit and surrounding
    punctuation set aside: "सहमत नहीं" is not read as "सहमत". Both scales are tried (survey,
    then portrait); "1" is the first word of each.
    """
    words: dict[str, float] = {}
    for scale in (pack.answers.likert_survey, pack.answers.likert_portrait):
        for i, word in enumerate(scale):
            words.setdefault(fold(word), float(i + 1))
    return words.get(_bare_word(answer))


def record_fields(meta: Mapping[str, Any]) -> RecordFields:
    """A record's country, topic, value and variant, read back from its request's metadata."""
    return {
        "country": str(meta.get("country", "")),
        "topic": str(meta.get("topic", "")),
        "value": str(meta.get("value", "")),
        "variant": int(meta.get("variant", 0)),
    }


def user_request(
    prompt: str,
    *,
    temperature: float,
    max_tokens: int,
    seed: int | None,
    metadata: dict[str, Any],
    json_schema: JsonObject | None = None,
    top_logprobs: int | None = None,
) -> Request:
    """A one-message request (the rendered template is the user message)."""
    return Request(
        messages=(Message(role="user", content=prompt),),
        temperature=temperature,
        max_tokens=max_tokens,
        json_schema=json_schema,
        top_logprobs=top_logprobs,
        seed=seed,
        metadata=metadata,
    )


def name_list(names: str | Sequence[str] | None) -> str | list[str] | None:
    """A taxonomy selection as `Taxonomy.resolve_many` takes it (a tuple becomes a list)."""
    return names if names is None or isinstance(names, str) else list(names)


def answer_text(result: ResultLike) -> tuple[str | None, str | None]:
    """The response text, or None and the error message when the request failed."""
    response = result.response
    if response is None:
        return None, result.error or "no response"
    return str(response.text or ""), None


def metadata(result: ResultLike) -> dict[str, Any]:
    """The request's bookkeeping, tolerating a request built elsewhere."""
    meta = getattr(result.request, "metadata", None)
    return meta if isinstance(meta, dict) else {}


def digit_distribution(
    response: Response, digits: Sequence[str], *, max_positions: int = 8
) -> tuple[list[float], int, float] | None:
    """Probabilities of single-digit answers read from the top log-probabilities.

    The answer position is the first generated token that is one of `digits` (a model may
    open with a space or a quote), or failing that the first position offering any of them.

    Returns:
        (probabilities in the order of `digits`, renormalised to sum to 1; the position they
        were read at; the raw probability mass on the digits there), or None when no position
        offers a digit or the backend returned no log-probabilities.
    """
    positions = list(response.logprobs or ())[:max_positions]
    masses = [_digit_masses(token.token, token.logprob, token.top, digits) for token in positions]
    generated = [
        i for i, token in enumerate(positions) if _token_key(token.token) in digits and masses[i]
    ]
    offered = [i for i, mass in enumerate(masses) if mass]
    chosen = generated[0] if generated else offered[0] if offered else None
    if chosen is None:
        return None
    found = masses[chosen]
    total = sum(found.values())
    return [found.get(d, 0.0) / total for d in digits], chosen, total


def _digit_masses(
    token: str, logprob: float, top: dict[str, float], digits: Sequence[str]
) -> dict[str, float]:
    candidates = dict(top) if isinstance(top, dict) else {}
    candidates.setdefault(token, logprob)
    masses: dict[str, float] = {}
    for text, value in candidates.items():
        key = _token_key(text)
        if key in digits and isinstance(value, int | float) and math.isfinite(value):
            masses[key] = masses.get(key, 0.0) + math.exp(min(value, 0.0))
    return {k: v for k, v in masses.items() if v > 0.0}


def _token_key(token: object) -> str:
    # Tokenizers mark a leading space with U+2581 (SentencePiece) or U+0120 (byte-level BPE).
    return str(token).strip().lstrip("\u2581\u0120").strip()


def records_frame(
    records: Iterable[BaseModel], columns: Sequence[str], *, exclude: Iterable[str] = ()
) -> pd.DataFrame:
    """A table of records: `columns` first, in that order, then the other fields."""
    skip = set(exclude)
    rows = [{k: v for k, v in r.model_dump().items() if k not in skip} for r in records]
    frame = pd.DataFrame(rows, columns=None if rows else list(columns))
    leading = [c for c in columns if c in frame.columns]
    return frame[leading + [c for c in frame.columns if c not in leading]]
