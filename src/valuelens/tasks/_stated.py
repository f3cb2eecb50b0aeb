"""Task 1, stated values: how much the model agrees with each value in a scenario (Likert 1..4)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypedDict

import pandas as pd

from valuelens.data import (
    extract_json_object,
    is_refusal,
    likert_from_answer,
    load_value_aliases,
    parse_stated_response,
)
from valuelens.models import Request
from valuelens.models._base import JsonObject
from valuelens.prompts import (
    DIGIT_TEMPLATE,
    STATED_VARIANTS,
    TemplateSet,
    select_variants,
    variant_template,
)
from valuelens.tasks._records import (
    ResultLike,
    ScoredTask,
    Scoring,
    StatedRecord,
    answer_text,
    ascii_digits,
    check_scoring,
    digit_distribution,
    fold,
    language_of,
    metadata,
    name_list,
    pack_likert,
    records_frame,
    task_templates,
    user_request,
)
from valuelens.taxonomy import LanguagePack, Taxonomy, load_taxonomy

LIKERT_DIGITS = ("1", "2", "3", "4")
STATED_COLUMNS = [
    "country",
    "topic",
    "value",
    "variant",
    "likert",
    "parse_status",
    "raw",
    "scoring",
    "attempt",
    "refusal",
    "error",
]
_PROBABILITY_COLUMNS = ["p1", "p2", "p3", "p4"]


def stated_schema(value_names: Sequence[str]) -> JsonObject:
    """JSON schema of a Task 1 answer: each value name mapped to "1".."4"."""
    return {
        "type": "object",
        "properties": {
            name: {"type": "string", "enum": list(LIKERT_DIGITS)} for name in value_names
        },
        "required": list(value_names),
        "additionalProperties": False,
    }


class _StatedBase(TypedDict):
    """What every record of one Task 1 request shares, whatever the answer."""

    country: str
    topic: str
    variant: int
    attempt: int
    language: str


class _StatedValueBase(_StatedBase):
    """`_StatedBase` for a request about one value (log-probability scoring)."""

    value: str


@dataclass(frozen=True)
class StatedTask(ScoredTask):
    """Builds Task 1 requests and reads the answers into per-value records (see `stated_task`)."""

    templates: TemplateSet
    taxonomy: Taxonomy
    variants: tuple[int, ...]
    scoring: Scoring
    temperature: float
    seed: int | None
    top_logprobs: int
    max_reasks: int
    aliases: Mapping[str, str] | None
    language: LanguagePack | None = None

    def build_requests(
        self,
        countries: str | Sequence[str] | None = None,
        topics: str | Sequence[str] | None = None,
        values: str | Sequence[str] | None = None,
    ) -> list[Request]:
        """Requests for every scenario and variant, in taxonomy order.

        In generate scoring there is one request per scenario and variant that rates all the
        chosen values at once; in logprob scoring, one per scenario, value and variant.

        Args:
            countries: names (a list or a comma-separated string); None or "all" for all.
            topics: as `countries`.
            values: as `countries`.

        Raises:
            ValuelensError: an unknown name (with close matches).
        """
        tax = self.taxonomy
        chosen = tax.resolve_many("value", name_list(values))
        scenarios = [
            (country, topic)
            for country in tax.resolve_many("country", name_list(countries))
            for topic in tax.resolve_many("topic", name_list(topics))
        ]
        if self.scoring == "logprob":
            return [
                self._digit_request(country, topic, value, variant)
                for country, topic in scenarios
                for value in chosen
                for variant in self.variants
            ]
        return [
            self._json_request(country, topic, chosen, variant, attempt=0)
            for country, topic in scenarios
            for variant in self.variants
        ]

    def _json_request(
        self, country: str, topic: str, values: Sequence[str], variant: int, *, attempt: int
    ) -> Request:
        contexts = [self._value_context(v) for v in values]
        keys = [c["name"] for c in contexts]  # the JSON keys: the names as the prompt shows them
        context = {
            **self._place(country, topic),
            "values": contexts,
            "value_names": keys,
            "variant": STATED_VARIANTS[variant].as_context(),
        }
        prompt = self.templates.render("stated", variant_template(variant), context)
        meta = {
            "task": "stated",
            "scoring": "generate",
            "variant": variant,
            "country": country,
            "topic": topic,
            "values": list(values),
            "attempt": attempt,
            **self._language_meta(),
        }
        return user_request(
            prompt,
            temperature=self.temperature,
            max_tokens=self._token_budget(64 + 24 * len(values)),
            # A re-ask of all values would otherwise repeat the first request (and its cache key).
            seed=None if self.seed is None else self.seed + attempt,
            metadata=meta,
            json_schema=stated_schema(keys),
        )

    def _digit_request(self, country: str, topic: str, value: str, variant: int) -> Request:
        context = {
            **self._place(country, topic),
            "value": self._value_context(value),
            "variant": STATED_VARIANTS[variant].as_context(),
        }
        prompt = self.templates.render("stated", DIGIT_TEMPLATE, context)
        meta = {
            "task": "stated",
            "scoring": "logprob",
            "variant": variant,
            "country": country,
            "topic": topic,
            "value": value,
            "attempt": 0,
            **self._language_meta(),
        }
        # No JSON schema here: the answer is the first token, and its alternatives are the data.
        return user_request(
            prompt,
            temperature=self.temperature,
            max_tokens=1,
            seed=self.seed,
            metadata=meta,
            top_logprobs=self.top_logprobs,
        )

    def parse(self, result: ResultLike) -> list[StatedRecord]:
        """Read one answer into one record per value asked about; never raises."""
        meta = metadata(result)
        base: _StatedBase = {
            "country": str(meta.get("country", "")),
            "topic": str(meta.get("topic", "")),
            "variant": int(meta.get("variant", 0)),
            "attempt": int(meta.get("attempt", 0)),
            "language": language_of(meta),
        }
        if meta.get("scoring") == "logprob":
            return [_digit_record(result, {**base, "value": str(meta.get("value", ""))})]
        names = [str(v) for v in meta.get("values", [])]
        return self._json_records(result, base, names)

    def _json_records(
        self, result: ResultLike, base: _StatedBase, names: list[str]
    ) -> list[StatedRecord]:
        text, error = answer_text(result)
        if text is None:
            return [
                StatedRecord(**base, value=n, scoring="generate", parse_status="error", error=error)
                for n in names
            ]
        # Other scripts' digits ("२", "۳") are read as ASCII ones; `raw` keeps the text as given.
        parsed = parse_stated_response(ascii_digits(text), names, aliases=self.aliases)
        found_status = "repaired" if _was_repaired(text, parsed.status) else "ok"
        status = {name: found_status for name in parsed.scores}
        scores = dict(parsed.scores)
        if self.language is not None:
            found = _pack_answers(ascii_digits(text), parsed.missing, self.language)
            for name, score in found.items():
                scores[name], status[name] = score, found_status
        missing = [name for name in parsed.missing if name not in scores]
        for name, score in _loose_answers(ascii_digits(text), missing, self.aliases).items():
            scores[name], status[name] = score, "repaired"
        refusal = not scores and is_refusal(text)
        return [
            StatedRecord(
                **base,
                value=name,
                scoring="generate",
                likert=scores.get(name),
                parse_status=status.get(name, "failed"),
                raw=text,
                refusal=refusal,
            )
            for name in names
        ]

    def parse_many(self, results: Iterable[ResultLike]) -> list[StatedRecord]:
        """`parse` for each result, flattened in order."""
        return [record for result in results for record in self.parse(result)]

    def reask_requests(self, records: Iterable[StatedRecord]) -> list[Request]:
        """Ask again, per scenario and variant, for the values no answer has given yet.

        Only in generate scoring, and at most `max_reasks` times per scenario and variant;
        failed requests (status `error`) are left to the runner's retries. The new request lists
        only the missing values and uses a different seed, so it is a new cache entry.

        Returns:
            The re-ask requests (empty when nothing is missing or the limit is reached).
        """
        if self.scoring != "generate" or self.max_reasks <= 0:
            return []
        answered: set[tuple[str, str, int, str]] = set()
        missing: dict[tuple[str, str, int], dict[str, None]] = {}
        last_attempt: dict[tuple[str, str, int], int] = {}
        for r in records:
            scenario = (r.country, r.topic, r.variant)
            last_attempt[scenario] = max(last_attempt.get(scenario, 0), r.attempt)
            if r.likert is not None:
                answered.add((*scenario, r.value))
            elif r.parse_status == "failed":
                missing.setdefault(scenario, {})[r.value] = None
        requests = []
        for scenario, names in missing.items():
            still = [n for n in names if (*scenario, n) not in answered]
            attempt = last_attempt[scenario] + 1
            if still and attempt <= self.max_reasks:
                country, topic, variant = scenario
                requests.append(self._json_request(country, topic, still, variant, attempt=attempt))
        return requests

    def to_frame(self, records: Iterable[StatedRecord]) -> pd.DataFrame:
        """One row per country, topic, value and variant (the `responses_stated` table).

        When a value was asked again, the row is its first answer that gave a score, or else
        its latest attempt. Logprob scoring adds p1..p4 and mass.
        """
        chosen = _best_attempts(records)
        if self.scoring == "logprob":
            frame = records_frame(chosen, STATED_COLUMNS, exclude=("probs",))
            probs = [r.probs or (None, None, None, None) for r in chosen]
            for i, column in enumerate(_PROBABILITY_COLUMNS):
                frame[column] = pd.Series([p[i] for p in probs], dtype=float)
            return frame
        return records_frame(chosen, STATED_COLUMNS, exclude=("probs", "mass"))


def _loose_answers(
    text: str, names: Iterable[str], aliases: Mapping[str, str] | None = None
) -> dict[str, float]:
    """`"Value": "2"` pairs found outside any readable JSON object (e.g. a fence without braces).

    Only for values the JSON did not give, and only answers that map to 1..4; a value's
    aliases count as its name, and spacing inside a name is matched loosely.
    """
    spellings: dict[str, list[str]] = {}
    for alias, canonical in (aliases or {}).items():
        spellings.setdefault(canonical, []).append(alias)
    found: dict[str, float] = {}
    for name in names:
        options = "|".join(
            r"\s*" + r"\s+".join(map(re.escape, s.split())) + r"\s*"
            for s in (name, *spellings.get(name, ()))
            if s.split()
        )
        pattern = r'"(?:' + options + r')"\s*:\s*"?([^",}\n]*)'
        answers = re.findall(pattern, text, flags=re.IGNORECASE)
        scores = {s for s in map(likert_from_answer, answers) if s is not None}
        if len(scores) == 1:
            found[name] = scores.pop()
    return found


def _pack_answers(text: str, names: Iterable[str], pack: LanguagePack) -> dict[str, float]:
    """Answers written in the pack's Likert words (`"सहमत"`) for values still missing."""
    wanted = set(names)
    obj, _ = extract_json_object(text)
    if obj is None or not wanted:
        return {}
    canonical = {fold(alias): name for alias, name in pack.value_aliases.items()}
    canonical |= {fold(name): name for name in wanted}
    found: dict[str, float] = {}
    for key, answer in obj.items():
        name = canonical.get(fold(str(key)))
        if name in wanted and name not in found and isinstance(answer, str):
            score = pack_likert(answer, pack)
            if score is not None:
                found[name] = score
    return found


def _was_repaired(text: str, status: str) -> bool:
    """Whether the JSON needed repair (a partial answer's status does not say)."""
    if status != "partial":
        return status == "repaired"
    return extract_json_object(text)[1]


def _best_attempts(records: Iterable[StatedRecord]) -> list[StatedRecord]:
    best: dict[tuple[str, str, str, int], StatedRecord] = {}
    for record in sorted(records, key=lambda r: r.attempt):
        key = (record.country, record.topic, record.value, record.variant)
        current = best.get(key)
        if current is None or current.likert is None:
            best[key] = record
    return list(best.values())


def _digit_record(result: ResultLike, base: _StatedValueBase) -> StatedRecord:
    text, error = answer_text(result)
    if text is None or result.response is None:
        return StatedRecord(**base, scoring="logprob", parse_status="error", error=error)
    found = digit_distribution(result.response, LIKERT_DIGITS)
    if found is None:
        digit = _leading_digit(text)
        return StatedRecord(
            **base,
            scoring="logprob",
            likert=float(digit) if digit else None,
            parse_status="partial" if digit else "failed",
            raw=text,
            refusal=digit is None and is_refusal(text),
        )
    probs, position, mass = found
    return StatedRecord(
        **base,
        scoring="logprob",
        likert=sum((i + 1) * p for i, p in enumerate(probs)),
        probs=(probs[0], probs[1], probs[2], probs[3]),
        mass=mass,
        parse_status="ok" if position == 0 else "repaired",
        raw=text,
    )


def _leading_digit(text: str) -> str | None:
    stripped = ascii_digits(text).strip().lstrip("\"'`*([{ ")
    return stripped[0] if stripped[:1] in LIKERT_DIGITS else None


def stated_task(
    *,
    variants: str | int | Iterable[int] | None = None,
    scoring: Scoring = "generate",
    templates: TemplateSet | None = None,
    taxonomy: Taxonomy | None = None,
    temperature: float = 0.2,
    seed: int | None = 0,
    top_logprobs: int = 10,
    max_reasks: int = 0,
    aliases: Mapping[str, str] | None = None,
    language: LanguagePack | None = None,
) -> StatedTask:
    """Configure Task 1 once; templates, variants and scoring are checked here.

    Args:
        variants: variant ids (see `valuelens.prompts.select_variants`); default: all eight.
        scoring: `generate` (one JSON answer rating all values per scenario and variant) or
            `logprob` (one single-digit question per value; reads P(1)..P(4)).
        templates: a loaded template set; default: the built-in templates.
        taxonomy: the names and value definitions; default: the built-in taxonomy.
        temperature: sampling temperature.
        seed: sampling seed, where the backend honours one.
        top_logprobs: alternatives per token asked for in logprob scoring.
        max_reasks: how many times `reask_requests` may ask again for missing values.
        aliases: other spellings of value names in answers, alias -> canonical name, on top
            of the built-in ones (`valuelens.data.load_value_aliases`). Keys of an answer are
            matched to names and aliases ignoring case and runs of whitespace.
        language: a language pack (`valuelens.taxonomy.load_language`): the prompts show its
            names and definitions (pass templates loaded with the same `language`), the JSON
            keys are its value names, and answers in its Likert words are read too. None:
            English.

    Returns:
        The task, whose `build_requests`, `parse`, `reask_requests` and `to_frame` do the
        per-item work.

    Raises:
        ValuelensError: an unknown scoring mode or variant, or templates without Task 1.
    """
    check_scoring(scoring)
    return StatedTask(
        templates=task_templates(templates, "stated", "Task 1"),
        taxonomy=taxonomy or load_taxonomy(),
        variants=select_variants(variants, "stated"),
        scoring=scoring,
        temperature=temperature,
        seed=seed,
        top_logprobs=top_logprobs,
        max_reasks=max(0, max_reasks),
        aliases={
            **load_value_aliases(),
            **(aliases or {}),
            **(language.value_aliases if language is not None else {}),
        },
        language=language,
    )
