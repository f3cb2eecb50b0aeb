"""Generating VIA actions: one first-person action per (country, topic, value, polarity)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from valuelens._errors import ValuelensError
from valuelens.data import parse_action_text, same_action
from valuelens.models import Request
from valuelens.models._base import JsonObject
from valuelens.prompts import (
    GENERATE_VARIANTS,
    Polarity,
    TemplateSet,
    select_variants,
    variant_template,
)
from valuelens.tasks._records import (
    GeneratedAction,
    RecordFields,
    ResultLike,
    answer_text,
    metadata,
    name_list,
    record_fields,
    records_frame,
    task_templates,
    user_request,
)
from valuelens.taxonomy import Taxonomy, load_taxonomy

POLARITIES: tuple[Polarity, ...] = ("positive", "negative")
# The tidy VIA columns of `valuelens.data.load_via`, then ours.
GENERATED_COLUMNS = [
    "country",
    "topic",
    "value",
    "polarity",
    "action",
    "attributions",
    "explanation",
    "raw",
    "parse_status",
    "variant",
    "valid",
    "refusal",
    "has_all_keys",
    "first_person",
    "within_length",
    "single_sentence",
    "attributions_found",
    "sides_differ",
    "error",
]
_PAIR_OF_SIDES = ["country", "topic", "value", "variant"]

MAX_ACTION_CHARS = 400
_FIRST_PERSON = re.compile(r"\bI\b|\b(?i:me|my|mine|myself|we|us|our|ours|ourselves)\b")
_SENTENCE_BREAK = re.compile(r"[.!?]+[\"')\]]*\s+(?=[A-Z])")


class GenerationAnswer(BaseModel):
    """The JSON object a generator model is asked for (its schema is sent with the request)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # The bounds stop small models from looping until the token budget runs out (a
    # truncated answer is lost); they are far above what a valid answer needs.
    human_action: str = Field(alias="Human Action", min_length=1, max_length=MAX_ACTION_CHARS)
    feature_attributions: list[Annotated[str, Field(max_length=80)]] = Field(
        alias="Feature Attributions", min_length=1, max_length=6
    )
    natural_language_explanation: str = Field(
        alias="Natural Language Explanation", max_length=MAX_ACTION_CHARS
    )


GENERATION_SCHEMA: JsonObject = GenerationAnswer.model_json_schema(by_alias=True)


class _GeneratedBase(RecordFields):
    """What every generated action of one request shares, whatever the answer."""

    polarity: Polarity


@dataclass(frozen=True)
class GenerateTask:
    """Builds generation requests and reads the answers into VIA rows (see `generate_task`)."""

    templates: TemplateSet
    taxonomy: Taxonomy
    variants: tuple[int, ...]
    temperature: float
    seed: int | None
    max_words: int
    max_tokens: int

    def build_requests(
        self,
        countries: str | Sequence[str] | None = None,
        topics: str | Sequence[str] | None = None,
        values: str | Sequence[str] | None = None,
        polarities: Iterable[Polarity] = POLARITIES,
    ) -> list[Request]:
        """One request per country x topic x value x polarity x variant, in taxonomy order.

        Args:
            countries: names (a list or a comma-separated string); None or "all" for all.
            topics: as `countries`.
            values: as `countries`.
            polarities: which sides to generate.

        Raises:
            ValuelensError: an unknown name (with close matches) or polarity.
        """
        sides = tuple(polarities)
        if not sides or any(p not in POLARITIES for p in sides):
            raise ValuelensError(f"polarities must be 'positive' and/or 'negative', got {sides}")
        tax = self.taxonomy
        chosen_values = tax.resolve_many("value", name_list(values))
        definitions = {v.name: v.model_dump() for v in tax.values}
        return [
            self._request(country, topic, definitions[value], polarity, variant)
            for country in tax.resolve_many("country", name_list(countries))
            for topic in tax.resolve_many("topic", name_list(topics))
            for value in chosen_values
            for polarity in sides
            for variant in self.variants
        ]

    def _request(
        self, country: str, topic: str, value: dict[str, str], polarity: Polarity, variant: int
    ) -> Request:
        context = {
            "country": country,
            "topic": topic,
            "value": value,
            "polarity": polarity,
            "max_words": self.max_words,
            "variant": GENERATE_VARIANTS[variant].as_context(),
        }
        prompt = self.templates.render("generate", variant_template(variant), context)
        meta = {
            "task": "generate",
            "variant": variant,
            "country": country,
            "topic": topic,
            "value": value["name"],
            "polarity": polarity,
        }
        return user_request(
            prompt,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            seed=self.seed,
            metadata=meta,
            json_schema=GENERATION_SCHEMA,
        )

    def parse(self, result: ResultLike) -> GeneratedAction:
        """Read one answer into a generated action with its checks; never raises."""
        meta = metadata(result)
        base: _GeneratedBase = {
            **record_fields(meta),
            "polarity": "negative" if meta.get("polarity") == "negative" else "positive",
        }
        text, error = answer_text(result)
        if text is None:
            return GeneratedAction(**base, parse_status="error", error=error)
        parsed = parse_action_text(text)
        action = parsed.action if parsed.usable else None
        checks = _checks(action, parsed.attributions, parsed.explanation, self.max_words)
        return GeneratedAction(
            **base,
            action=action,
            attributions=parsed.attributions if action else [],
            explanation=parsed.explanation if action else None,
            raw=text,
            parse_status=parsed.status,
            refusal=parsed.status == "refusal",
            **checks,
        )

    def parse_many(self, results: Iterable[ResultLike]) -> list[GeneratedAction]:
        """`parse` for each result, in order."""
        return [self.parse(result) for result in results]

    def to_frame(self, records: Iterable[GeneratedAction]) -> pd.DataFrame:
        """A VIA table (`load_via`'s columns first) plus variant, checks and error columns.

        A failed request appears with parse_status `failed` (the VIA vocabulary) and its
        message in `error`, so the table can be saved and read back with `load_via`.
        `sides_differ` is False for both actions of a pair whose positive and negative
        actions are the same text (ignoring case and spacing); such actions are not `valid`.
        """
        frame = records_frame(records, [c for c in GENERATED_COLUMNS if c != "sides_differ"])
        if len(frame):
            frame["parse_status"] = frame["parse_status"].replace({"error": "failed"})
        frame.insert(GENERATED_COLUMNS.index("sides_differ"), "sides_differ", _sides_differ(frame))
        frame["valid"] = frame["valid"].astype(bool) & frame["sides_differ"]
        return frame


def _sides_differ(frame: pd.DataFrame) -> pd.Series:
    """False for each action of a pair whose other side is the same text."""
    if frame.empty:
        return pd.Series(dtype=bool, index=frame.index)
    positive = frame[frame["polarity"] == "positive"].drop_duplicates(_PAIR_OF_SIDES)
    negative = frame[frame["polarity"] == "negative"].drop_duplicates(_PAIR_OF_SIDES)
    both = positive.merge(negative, on=_PAIR_OF_SIDES, suffixes=("_pos", "_neg"))
    same = {
        tuple(row[_PAIR_OF_SIDES])
        for _, row in both.iterrows()
        if same_action(row["action_pos"], row["action_neg"])
    }
    keys = frame[_PAIR_OF_SIDES].itertuples(index=False, name=None)
    return pd.Series([key not in same for key in keys], index=frame.index, dtype=bool)


def _checks(
    action: str | None, attributions: list[str], explanation: str | None, max_words: int
) -> dict[str, bool]:
    if not action:
        return {}
    flags = {
        "has_all_keys": bool(attributions) and bool(explanation),
        "first_person": bool(_FIRST_PERSON.search(action)),
        "within_length": len(action.split()) <= max_words,
        "single_sentence": not _SENTENCE_BREAK.search(action.strip()),
        "attributions_found": bool(attributions)
        and all(_normalized(span) in _normalized(action) for span in attributions),
    }
    return {**flags, "valid": all(flags.values())}


def _normalized(text: str) -> str:
    return " ".join(text.casefold().split()).strip(" \"'.,;:!?")


def generate_task(
    *,
    variants: str | int | Iterable[int] | None = None,
    templates: TemplateSet | None = None,
    taxonomy: Taxonomy | None = None,
    temperature: float = 0.2,
    seed: int | None = 0,
    max_words: int = 50,
    max_tokens: int = 300,
) -> GenerateTask:
    """Configure action generation once; templates and variants are checked here.

    Args:
        variants: variant ids (see `valuelens.prompts.select_variants`); default: variant 5,
            the one the authors generated the VIA set with.
            Several variants give several actions per side, told apart by `variant`.
        templates: a loaded template set; default: the built-in templates.
        taxonomy: the names and value definitions; default: the built-in taxonomy.
        temperature: sampling temperature.
        seed: sampling seed, where the backend honours one.
        max_words: the length limit asked for and checked.
        max_tokens: the answer's token budget.

    Returns:
        The task, whose `build_requests`, `parse` and `to_frame` do the per-item work.

    Raises:
        ValuelensError: an unknown variant, or templates without the generation files.
    """
    return GenerateTask(
        templates=task_templates(templates, "generate", "generation"),
        taxonomy=taxonomy or load_taxonomy(),
        variants=select_variants(variants, "generate"),
        temperature=temperature,
        seed=seed,
        max_words=max_words,
        max_tokens=max_tokens,
    )
