"""Task 2, value-informed actions: which of a pair's two actions the model would take."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from valuelens._errors import ValuelensError
from valuelens.data import extract_json_object, is_refusal, via_pairs
from valuelens.models import Request, Response
from valuelens.models._base import JsonObject
from valuelens.prompts import (
    ACTION_VARIANTS,
    DIGIT_TEMPLATE,
    ActionVariant,
    Polarity,
    TemplateSet,
    select_variants,
    variant_template,
)
from valuelens.tasks._records import (
    ActionRecord,
    ParseStatus,
    RecordFields,
    ResultLike,
    ScoredTask,
    Scoring,
    answer_text,
    ascii_digits,
    check_scoring,
    digit_distribution,
    fold,
    language_of,
    metadata,
    record_fields,
    records_frame,
    task_templates,
    user_request,
)
from valuelens.taxonomy import LanguagePack, Taxonomy, load_taxonomy

OPTION_DIGITS = ("1", "2")
ACTION_COLUMNS = [
    "country",
    "topic",
    "value",
    "variant",
    "option1_polarity",
    "choice",
    "explanation",
    "parse_status",
    "raw",
    "scoring",
    "p_negative",
    "mass",
    "refusal",
    "error",
]
_ACTION_KEYS = frozenset(
    {
        "action",
        "choice",
        "answer",
        "option",
        "selectedaction",
        "selectedoption",
        "chosenaction",
        "chosenoption",
    }
)
_EXPLANATION_KEYS = frozenset({"explanation", "reason", "reasoning", "rationale", "justification"})
_NON_LETTERS = re.compile(r"[^a-z]")
_LEADING_OPTION = re.compile(r"^\W*(?:option\s*)?([12])(?!\d)", re.IGNORECASE)
_OPTION_MENTION = re.compile(r"\boption\s*([12])(?!\d)", re.IGNORECASE)
_LONE_DIGIT = re.compile(r"^\W*([12])\W*$")
_MIN_ECHO_CHARS = 20
_TRUNCATED = "truncated: the answer hit its token limit before the action"
_ACTION_TABLE_COLUMNS = ("country", "topic", "value", "polarity", "action")
_PAIR_COLUMNS = ("country", "topic", "value", "positive_action", "negative_action")


class ActionAnswer(BaseModel):
    """The JSON answer of a Task 2 variant without explanation."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["Option 1", "Option 2"]


class ExplainedActionAnswer(BaseModel):
    """The JSON answer of a Task 2 variant with explanation (reasons first, then the choice)."""

    model_config = ConfigDict(extra="forbid")

    # Bounded so a small model cannot loop until its token budget cuts off the choice.
    explanation: str = Field(max_length=600)
    action: Literal["Option 1", "Option 2"]


_SCHEMAS: dict[bool, JsonObject] = {
    False: ActionAnswer.model_json_schema(),
    True: ExplainedActionAnswer.model_json_schema(),
}


class _ActionBase(RecordFields):
    """What every action record of one request shares, whatever the answer."""

    option1_polarity: Polarity
    scoring: Scoring
    language: str


@dataclass(frozen=True)
class ActionPair:
    """A pair's two actions: `positive` expresses the value, `negative` resists it."""

    country: str
    topic: str
    value: str
    positive: str
    negative: str


def action_pairs(actions: pd.DataFrame) -> list[ActionPair]:
    """The complete pairs of a VIA table, in the order of their first action.

    Args:
        actions: a `load_via` table (one row per action), a `GenerateTask.to_frame` table, or a
            `via_pairs` table. A pair is complete when both actions are usable (parse status ok
            or repaired, text present); the others are left out.

    Returns:
        One `ActionPair` per complete pair.

    Raises:
        ValuelensError: the table lacks the columns of either shape.
    """
    paired = "positive_action" in actions.columns
    needed = _PAIR_COLUMNS if paired else _ACTION_TABLE_COLUMNS
    missing = [c for c in needed if c not in actions.columns]
    if missing:
        raise ValuelensError(
            f"the actions table lacks column(s) {', '.join(missing)}; expected a VIA table "
            f"({', '.join(_ACTION_TABLE_COLUMNS)})"
        )
    pairs = actions if paired else via_pairs(_as_via(actions))
    complete = pairs[pairs["complete"]] if "complete" in pairs.columns else pairs
    return [
        ActionPair(str(c), str(t), str(v), str(p), str(n))
        for c, t, v, p, n in zip(
            complete["country"],
            complete["topic"],
            complete["value"],
            complete["positive_action"],
            complete["negative_action"],
            strict=True,
        )
        if isinstance(p, str) and p.strip() and isinstance(n, str) and n.strip()
    ]


def _as_via(actions: pd.DataFrame) -> pd.DataFrame:
    """Fill the VIA columns a hand-made table may lack, so `via_pairs` can read it."""
    table = actions.copy()
    for column in ("attributions", "explanation"):
        if column not in table.columns:
            table[column] = None
    if "parse_status" not in table.columns:
        present = table["action"].map(lambda a: isinstance(a, str) and bool(a.strip()))
        table["parse_status"] = present.map({True: "ok", False: "failed"})
    return table


@dataclass(frozen=True)
class ActionTask(ScoredTask):
    """Builds Task 2 requests and reads the choices (see `action_task`)."""

    templates: TemplateSet
    taxonomy: Taxonomy
    variants: tuple[int, ...]
    scoring: Scoring
    temperature: float
    seed: int | None
    top_logprobs: int
    language: LanguagePack | None = None

    def build_requests(self, actions: pd.DataFrame | Iterable[ActionPair]) -> list[Request]:
        """One request per complete pair and variant, in the pairs' order.

        Args:
            actions: a VIA table (see `action_pairs`) or `ActionPair`s.
        """
        pairs = action_pairs(actions) if isinstance(actions, pd.DataFrame) else list(actions)
        return [self._request(pair, ACTION_VARIANTS[v]) for pair in pairs for v in self.variants]

    def _request(self, pair: ActionPair, variant: ActionVariant) -> Request:
        negative_first = variant.option1_polarity == "negative"
        option1, option2 = (
            (pair.negative, pair.positive) if negative_first else (pair.positive, pair.negative)
        )
        context = {
            **self._place(pair.country, pair.topic),
            "value": self._value_context(pair.value),
            "option1": option1,
            "option2": option2,
            "variant": variant.as_context(),
        }
        meta = {
            "task": "action",
            "scoring": self.scoring,
            "variant": variant.id,
            "country": pair.country,
            "topic": pair.topic,
            "value": pair.value,
            "option1_polarity": variant.option1_polarity,
            "explanation": variant.explanation,
            "option1": option1,
            "option2": option2,
            **self._language_meta(),
        }
        if self.scoring == "logprob":
            prompt = self.templates.render("action", DIGIT_TEMPLATE, context)
            return user_request(
                prompt,
                temperature=self.temperature,
                max_tokens=1,
                seed=self.seed,
                metadata=meta,
                top_logprobs=self.top_logprobs,
            )
        prompt = self.templates.render("action", variant_template(variant.id), context)
        return user_request(
            prompt,
            temperature=self.temperature,
            max_tokens=self._token_budget(400 if variant.explanation else 48),
            seed=self.seed,
            metadata=meta,
            json_schema=self._schema(variant.explanation),
        )

    def _schema(self, explanation: bool) -> JsonObject:
        """The answer's JSON schema; with a language, "action" takes the pack's option labels."""
        schema = _SCHEMAS[explanation]
        if self.language is None:
            return schema
        translated = copy.deepcopy(schema)
        properties = translated["properties"]
        action = properties.get("action") if isinstance(properties, dict) else None
        if isinstance(action, dict):
            action["enum"] = list(self.language.answers.option_labels)
        return translated

    def parse(self, result: ResultLike) -> ActionRecord:
        """Read one answer into the chosen polarity; never raises."""
        meta = metadata(result)
        base: _ActionBase = {
            **record_fields(meta),
            "language": language_of(meta),
            "option1_polarity": "positive"
            if meta.get("option1_polarity") == "positive"
            else "negative",
            "scoring": "logprob" if meta.get("scoring") == "logprob" else "generate",
        }
        text, error = answer_text(result)
        response = result.response
        if text is None or response is None:
            return ActionRecord(**base, parse_status="error", error=error)
        labels = self._labels()
        if base["scoring"] == "logprob":
            return _digit_record(response, text, base, labels)
        return _json_record(text, base, meta, labels, truncated=response.finish_reason == "length")

    def _labels(self) -> tuple[str, ...]:
        """The pack's names of Option 1 and Option 2 (none for English)."""
        return () if self.language is None else self.language.answers.option_labels

    def parse_many(self, results: Iterable[ResultLike]) -> list[ActionRecord]:
        """`parse` for each result, in order."""
        return [self.parse(result) for result in results]

    def to_frame(self, records: Iterable[ActionRecord]) -> pd.DataFrame:
        """One row per pair and variant (the `responses_action` table)."""
        return records_frame(records, ACTION_COLUMNS)


def _polarity_of(option: int, option1_polarity: Polarity) -> Polarity:
    if option == 1:
        return option1_polarity
    return "positive" if option1_polarity == "negative" else "negative"


def _json_record(
    raw: str,
    base: _ActionBase,
    meta: Mapping[str, object],
    labels: Sequence[str] = (),
    *,
    truncated: bool = False,
) -> ActionRecord:
    """Read a generated answer into a record.

    An answer cut off at its token limit before any "action" field is failed: the options
    its explanation happens to mention are not a choice.
    """
    options = (str(meta.get("option1", "")), str(meta.get("option2", "")))
    text = ascii_digits(raw)
    obj, repaired = extract_json_object(text)
    option, exact, explanation, answer = None, False, None, None
    if obj is not None:
        fields = {_NON_LETTERS.sub("", str(k).lower()): v for k, v in obj.items()}
        answer = next((fields[k] for k in fields if k in _ACTION_KEYS), None)
        option, exact = _option_number(answer, options, labels)
        found = next((fields[k] for k in fields if k in _EXPLANATION_KEYS), None)
        explanation = _as_text(found)
    cut_off = truncated and answer is None
    if option is None and not cut_off:
        option, exact = _option_in_text(text, labels), False
    if option is None:
        return ActionRecord(
            **base,
            raw=raw,
            explanation=explanation,
            parse_status="failed",
            error=_TRUNCATED if cut_off else None,
            refusal=not cut_off and is_refusal(raw),
        )
    status: ParseStatus = "ok" if exact and not repaired else "repaired"
    if meta.get("explanation") and not explanation:
        status = "partial"
    return ActionRecord(
        **base,
        choice=_polarity_of(option, base["option1_polarity"]),
        explanation=explanation,
        parse_status=status,
        raw=raw,
    )


def _option_number(
    answer: object, options: tuple[str, str], labels: Sequence[str] = ()
) -> tuple[int | None, bool]:
    """The option an answer names, and whether it named it plainly ("Option 2", 2).

    `labels` are a language pack's names of Option 1 and 2 ("विकल्प 1"), read like "Option N".
    """
    if answer is None or isinstance(answer, bool):
        return None, False
    if isinstance(answer, int | float):
        return (int(answer), True) if answer in (1, 2) else (None, False)
    text = str(answer)
    leading = _LEADING_OPTION.match(text)
    if leading:
        return int(leading.group(1)), True
    labelled = _leading_label(text, labels)
    if labelled is not None:
        return labelled, True
    echoed = _echoed_option(text, options)
    if echoed is not None:
        return echoed, False
    return _option_in_text(text, labels), False


def _label_pattern(label: str) -> re.Pattern[str]:
    """A pack's option label, any case and spacing, not followed by another digit."""
    words = r"\s*".join(map(re.escape, label.split()))
    return re.compile(words + r"(?!\d)", re.IGNORECASE)


def _leading_label(text: str, labels: Sequence[str]) -> int | None:
    """The option whose pack label opens the answer (after quotes or punctuation)."""
    stripped = fold(text).lstrip("\"'`*([{ ")
    for i, label in enumerate(labels[:2]):
        if label.strip() and _label_pattern(fold(label)).match(stripped):
            return i + 1
    return None


def _labels_mentioned(text: str, labels: Sequence[str]) -> set[int]:
    return {
        i + 1
        for i, label in enumerate(labels[:2])
        if label.strip() and _label_pattern(fold(label)).search(fold(text))
    }


def _echoed_option(text: str, options: tuple[str, str]) -> int | None:
    """The option whose text the answer repeats instead of naming it."""
    said = _normalized(text)
    if len(said) < _MIN_ECHO_CHARS:
        return None
    hits = [
        i + 1
        for i, option in enumerate(options)
        if option and (said in _normalized(option) or _normalized(option) in said)
    ]
    return hits[0] if len(hits) == 1 else None


def _option_in_text(text: str, labels: Sequence[str] = ()) -> int | None:
    """The only option a free-text answer mentions, or a lone "1"/"2".

    An option is mentioned as "Option N" or by a pack's label.
    """
    mentioned = {int(m.group(1)) for m in _OPTION_MENTION.finditer(text)}
    mentioned |= _labels_mentioned(text, labels)
    if len(mentioned) == 1:
        return mentioned.pop()
    lone = _LONE_DIGIT.match(text) if not mentioned else None
    return int(lone.group(1)) if lone else None


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _normalized(text: str) -> str:
    return " ".join(text.casefold().split()).strip(" \"'.,;:!?")


def _digit_record(
    response: Response, text: str, base: _ActionBase, labels: Sequence[str] = ()
) -> ActionRecord:
    found = digit_distribution(response, OPTION_DIGITS)
    if found is None:
        option = _option_in_text(ascii_digits(text), labels)
        return ActionRecord(
            **base,
            choice=_polarity_of(option, base["option1_polarity"]) if option else None,
            parse_status="partial" if option else "failed",
            raw=text,
            refusal=option is None and is_refusal(text),
        )
    (p1, p2), position, mass = found
    p_negative = p1 if base["option1_polarity"] == "negative" else p2
    choice: Polarity | None = (
        "negative" if p_negative > 0.5 else "positive" if p_negative < 0.5 else None
    )
    return ActionRecord(
        **base,
        choice=choice,
        p_negative=p_negative,
        mass=mass,
        parse_status="ok" if position == 0 else "repaired",
        raw=text,
    )


def action_task(
    *,
    variants: str | int | Iterable[int] | None = None,
    scoring: Scoring = "generate",
    templates: TemplateSet | None = None,
    taxonomy: Taxonomy | None = None,
    temperature: float = 0.2,
    seed: int | None = 0,
    top_logprobs: int = 10,
    language: LanguagePack | None = None,
) -> ActionTask:
    """Configure Task 2 once; templates, variants and scoring are checked here.

    Args:
        variants: variant ids (see `valuelens.prompts.select_variants`); default: variant 5,
            the paper's choice for the full data. Over all eight, each polarity is Option 1
            four times, so `all` (or a balanced subset such as `5,7`) cancels position bias.
        scoring: `generate` (JSON answer) or `logprob` (single-digit answer; reads P(1), P(2)).
        templates: a loaded template set; default: the built-in templates.
        taxonomy: value definitions for the prompts; default: the built-in taxonomy.
        temperature: sampling temperature.
        seed: sampling seed, where the backend honours one.
        top_logprobs: alternatives per token asked for in logprob scoring.
        language: a language pack: the prompts show its names and definitions (pass templates
            loaded with the same `language` and actions in that language), the JSON answer's
            "action" takes its option labels, and answers naming them are read. None: English.

    Returns:
        The task, whose `build_requests`, `parse` and `to_frame` do the per-item work.

    Raises:
        ValuelensError: an unknown scoring mode or variant, or templates without Task 2.
    """
    check_scoring(scoring)
    return ActionTask(
        templates=task_templates(templates, "action", "Task 2"),
        taxonomy=taxonomy or load_taxonomy(),
        variants=select_variants(variants, "action"),
        scoring=scoring,
        temperature=temperature,
        seed=seed,
        top_logprobs=top_logprobs,
        language=language,
    )
