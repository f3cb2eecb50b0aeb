"""Predicting gaps from explanations: can an observer model tell which action a target chose?

An observer model sees one action that a target model was offered in Task 2 and predicts a
binary label (True: the target chose it; False: it preferred the other action of the pair). It
sees the action alone (`default`), with its feature attributions (`attribution`), with its
natural-language explanation (`explanation`), or with both (`attribution_explanation`), after k
labelled few-shot examples shown the same way. The answer is a JSON object `{"label": true}`.

Example:
    >>> import pandas as pd
    >>> from valuelens.tasks import predict_task
    >>> items = pd.DataFrame({"item": ["a", "b"], "action": ["I recycle.", "I litter."],
    ...     "attributions": [["recycle"], ["litter"]], "explanation": ["Green.", "Easy."],
    ...     "label": [True, False]})
    >>> task = predict_task(items.iloc[:1], settings="default,explanation")
    >>> [r.metadata["setting"] for r in task.build_requests(items.iloc[1:])]
    ['default', 'explanation']
"""

from __future__ import annotations

import ast
import json
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypedDict

import pandas as pd
from pydantic import BaseModel, ConfigDict

from valuelens._errors import ValuelensError
from valuelens.data._predictions import as_label, parse_label
from valuelens.models import Request
from valuelens.prompts import TemplateSet
from valuelens.prompts._contracts import PREDICT_TEMPLATE
from valuelens.prompts._variants import (
    PREDICT_SETTINGS,
    PredictSetting,
    predict_setting_context,
)
from valuelens.tasks._records import (
    ParseStatus,
    ResultLike,
    answer_text,
    metadata,
    records_frame,
    task_templates,
    user_request,
)

TASK_NAME: Literal["predict"] = "predict"
ITEM_COLUMNS = ("item", "action", "attributions", "explanation", "label")
PREDICT_COLUMNS = ["item", "setting", "label", "predicted", "parse_status", "raw", "error"]


class PredictAnswer(BaseModel):
    """The JSON answer: whether the target model chose the action shown."""

    model_config = ConfigDict(extra="forbid")

    label: bool


_SCHEMA = PredictAnswer.model_json_schema()


class PredictRecord(BaseModel):
    """One observer prediction for one item in one setting.

    `label` is the truth (did the target choose this action), `predicted` the observer's answer
    (None when it could not be read); `raw` keeps the reply and `parse_status` says how it was
    read: ok (as asked), repaired (read another way), failed, or error (the request failed).
    """

    model_config = ConfigDict(frozen=True)

    item: str
    setting: PredictSetting
    label: bool | None = None
    predicted: bool | None = None
    parse_status: ParseStatus = "failed"
    raw: str | None = None
    error: str | None = None


def select_settings(spec: str | Iterable[str] | None) -> tuple[PredictSetting, ...]:
    """Settings in canonical order from `all`/None, a comma-separated string or a list.

    Raises:
        ValuelensError: an unknown setting or an empty choice.
    """
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == "all"):
        return PREDICT_SETTINGS
    names = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    names = [n for n in names if n]
    unknown = [n for n in names if n not in PREDICT_SETTINGS]
    if unknown or not names:
        raise ValuelensError(
            f"unknown setting(s) {', '.join(unknown) or '(none)'}; "
            f"choose from {', '.join(PREDICT_SETTINGS)} or 'all'"
        )
    return tuple(s for s in PREDICT_SETTINGS if s in names)


def as_attributions(value: object) -> list[str]:
    """Feature attributions as a list of phrases, from a list, an array or a list-like string."""
    if value is None or (isinstance(value, float) and value != value):
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            for reader in (json.loads, ast.literal_eval):
                try:
                    parsed = reader(text)
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                    continue
                if isinstance(parsed, list | tuple):
                    return [str(p).strip() for p in parsed if str(p).strip()]
        return [text]
    if isinstance(value, Iterable):
        return [str(p).strip() for p in value if str(p).strip()]
    return [str(value)]


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None


def _entries(items: pd.DataFrame) -> list[dict[str, object]]:
    """Template-ready items: id, action, attributions (list), explanation, label."""
    missing = [c for c in ("action", "label") if c not in items.columns]
    if missing:
        raise ValuelensError(
            f"the items table lacks column(s) {', '.join(missing)}; expected "
            f"{', '.join(ITEM_COLUMNS)}"
        )
    rows = items.to_dict("records")
    ids = items["item"] if "item" in items.columns else pd.Series(items.index, dtype=object)
    entries: list[dict[str, object]] = []
    for row, item_id in zip(rows, ids, strict=True):
        entries.append(
            {
                "item": str(item_id),
                "action": _text(row.get("action")) or "",
                "attributions": as_attributions(row.get("attributions")),
                "explanation": _text(row.get("explanation")),
                "label": as_label(row.get("label")),
            }
        )
    return entries


class _PredictBase(TypedDict):
    """What a prediction record takes from its request, whatever the answer."""

    item: str
    setting: PredictSetting
    label: bool | None


@dataclass(frozen=True)
class PredictTask:
    """Builds observer requests and reads the predicted labels (see `predict_task`)."""

    templates: TemplateSet
    settings: tuple[PredictSetting, ...]
    examples: tuple[Mapping[str, object], ...]
    temperature: float
    seed: int | None
    max_tokens: int

    def build_requests(self, items: pd.DataFrame) -> list[Request]:
        """One request per setting and item (settings outer, items in table order).

        Args:
            items: columns `action`, `attributions`, `explanation`, `label` (and optionally
                `item`, an id; default: the row index). The label goes into the request's
                metadata only, never into the prompt.
        """
        entries = _entries(items)
        return [self._request(entry, setting) for setting in self.settings for entry in entries]

    def _request(self, entry: Mapping[str, object], setting: PredictSetting) -> Request:
        shown = {k: entry[k] for k in ("action", "attributions", "explanation")}
        context = {
            "setting": predict_setting_context(setting),
            "examples": list(self.examples),
            "item": shown,
        }
        prompt = self.templates.render(TASK_NAME, PREDICT_TEMPLATE, context)
        meta = {
            "task": TASK_NAME,
            "setting": setting,
            "item": entry["item"],
            "label": entry["label"],
            "shots": len(self.examples),
        }
        return user_request(
            prompt,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            seed=self.seed,
            metadata=meta,
            json_schema=_SCHEMA,
        )

    def parse(self, result: ResultLike) -> PredictRecord:
        """Read one reply into a prediction; never raises."""
        meta = metadata(result)
        setting = meta.get("setting")
        label = meta.get("label")
        base: _PredictBase = {
            "item": str(meta.get("item", "")),
            "setting": setting if setting in PREDICT_SETTINGS else "default",
            "label": label if isinstance(label, bool) else None,
        }
        text, error = answer_text(result)
        if text is None:
            return PredictRecord(**base, parse_status="error", error=error)
        predicted, status = parse_label(text)
        return PredictRecord(**base, predicted=predicted, parse_status=status, raw=text)

    def parse_many(self, results: Iterable[ResultLike]) -> list[PredictRecord]:
        """`parse` for each result, in order."""
        return [self.parse(result) for result in results]

    def to_frame(self, records: Iterable[PredictRecord]) -> pd.DataFrame:
        """One row per item and setting (the `predictions` table)."""
        return records_frame(records, PREDICT_COLUMNS)


def predict_task(
    examples: pd.DataFrame | None = None,
    *,
    settings: str | Iterable[str] | None = "all",
    templates: TemplateSet | None = None,
    temperature: float = 0.0,
    seed: int | None = 0,
    max_tokens: int = 32,
) -> PredictTask:
    """Configure the observer task once; settings, examples and templates are checked here.

    Args:
        examples: the labelled few-shot examples (columns as the items of `build_requests`,
            `label` required); None or empty for zero-shot. Shown in table order.
        settings: `all`, a comma-separated string or a list of `default`, `attribution`,
            `explanation`, `attribution_explanation`.
        templates: a template set with the `predict` task; default: the built-in template.
        temperature: sampling temperature (0: the observer is a classifier).
        seed: sampling seed, where the backend honours one.
        max_tokens: token budget of a reply.

    Raises:
        ValuelensError: an unknown setting, an example without a boolean label, or templates
            without the `predict` files.
    """
    chosen = task_templates(templates, TASK_NAME, "predict")
    shown = _entries(examples) if examples is not None else []
    unlabelled = [str(e["item"]) for e in shown if e["label"] is None]
    if unlabelled:
        raise ValuelensError(f"few-shot example(s) without a label: {', '.join(unlabelled)}")
    return PredictTask(
        templates=chosen,
        settings=select_settings(settings),
        examples=tuple(
            {k: e[k] for k in ("action", "attributions", "explanation", "label")} for e in shown
        ),
        temperature=temperature,
        seed=seed,
        max_tokens=max_tokens,
    )


_PAIR_KEYS = ["country", "topic", "value"]


def predict_items(actions: pd.DataFrame, responses: pd.DataFrame) -> pd.DataFrame:
    """The observer's items from an `evaluate` run: both actions of every decided pair.

    A pair's choice is the majority polarity over its Task 2 answers (all prompt variants);
    pairs without an answer or with a tie are left out. The chosen action gets label True, the
    other one False.

    Args:
        actions: the run's `actions` table (country, topic, value, polarity, action,
            attributions, explanation).
        responses: the run's `responses_action` table (country, topic, value, choice).

    Returns:
        Columns item, country, topic, value, polarity, action, attributions, explanation,
        label, n_answers (Task 2 answers behind the label); two rows per pair.

    Raises:
        ValuelensError: a table lacks its columns.
    """
    for name, table, needed in (
        ("actions", actions, [*_PAIR_KEYS, "polarity", "action"]),
        ("responses_action", responses, [*_PAIR_KEYS, "choice"]),
    ):
        missing = [c for c in needed if c not in table.columns]
        if missing:
            raise ValuelensError(f"the {name} table lacks column(s) {', '.join(missing)}")
    votes: dict[tuple[str, str, str], Counter[str]] = {}
    for country, topic, value, choice in zip(
        responses["country"],
        responses["topic"],
        responses["value"],
        responses["choice"],
        strict=True,
    ):
        if choice in ("positive", "negative"):
            key = (str(country), str(topic), str(value))
            votes.setdefault(key, Counter())[str(choice)] += 1
    chosen = {
        key: ("positive" if c["positive"] > c["negative"] else "negative", c.total())
        for key, c in votes.items()
        if c["positive"] != c["negative"]
    }
    rows: list[dict[str, object]] = []
    usable = actions
    if "parse_status" in actions.columns:
        usable = actions[actions["parse_status"].isin(["ok", "repaired"])]
    sides = {
        (str(r["country"]), str(r["topic"]), str(r["value"]), str(r["polarity"])): r
        for r in usable.to_dict("records")
        if _text(r.get("action"))
    }
    for key, (polarity, n_answers) in chosen.items():
        pair = [sides.get((*key, p)) for p in ("positive", "negative")]
        if any(side is None for side in pair):
            continue
        for side in pair:
            assert side is not None
            rows.append(
                {
                    "item": "|".join((*key, str(side["polarity"]))),
                    "country": key[0],
                    "topic": key[1],
                    "value": key[2],
                    "polarity": str(side["polarity"]),
                    "action": _text(side.get("action")),
                    "attributions": as_attributions(side.get("attributions")),
                    "explanation": _text(side.get("explanation")),
                    "label": side["polarity"] == polarity,
                    "n_answers": n_answers,
                }
            )
    columns = [*ITEM_COLUMNS[:1], *_PAIR_KEYS, "polarity", *ITEM_COLUMNS[1:], "n_answers"]
    return pd.DataFrame(rows, columns=columns)


def split_examples(
    items: pd.DataFrame, shots: int, *, seed: int = 0, max_pairs: int | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Few-shot examples and test items from `predict_items`, with no pair on both sides.

    `shots` pairs are drawn with `seed`; both their actions become examples (so `shots`
    chosen and `shots` rejected ones, shuffled). The other pairs are the test items, or
    `max_pairs` of them drawn with the same seed.

    Raises:
        ValuelensError: fewer than `shots` + 1 pairs, or a negative `shots`.
    """
    if shots < 0:
        raise ValuelensError(f"--shots cannot be negative ({shots})")
    pair_of = items[_PAIR_KEYS].astype(str).agg("|".join, axis=1)
    pairs: Sequence[str] = sorted(set(pair_of))
    if len(pairs) <= shots:
        raise ValuelensError(
            f"{len(pairs)} decided pair(s) cannot give {shots} example pair(s) and test items"
        )
    rng = random.Random(seed)
    drawn = rng.sample(list(pairs), len(pairs))
    example_pairs, test_pairs = set(drawn[:shots]), drawn[shots:]
    if max_pairs is not None:
        test_pairs = test_pairs[:max_pairs]
    examples = items[pair_of.isin(example_pairs)]
    examples = examples.sample(frac=1.0, random_state=seed) if len(examples) else examples
    tests = items[pair_of.isin(set(test_pairs))]
    return examples.reset_index(drop=True), tests.reset_index(drop=True)
