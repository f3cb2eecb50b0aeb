"""Open-ended Task 2: the model says what it would do (no options), a judge codes the action.

Round 1 asks, for each (country, topic, value) of the scope, for one first-person sentence of
what the model would do with the value in mind (`open/act.jinja`, answer `{"action": ...}`).
Round 2 shows a judge the free action with the pair's two VIA actions as anchors
(`open/judge.jinja`) and asks whether it expresses the value, resists it or does not address
it (`{"label": ..., "rationale": ...}`). The judge is the evaluated model unless the task is
configured with `judge="MODEL SPEC"` (`evaluate --judge`), whose requests the evaluation sends
through a session of its own (`Ask(..., model=...)`: same cache, limits and usage count).

Registered as the task `open` with an `Evaluation`, so `valuelens evaluate --tasks
stated,action,open` runs both rounds through the run's cache and writes `responses_open`.
The open-ended T2 of a pair is 1 when the judge says `resists`, 0 for `expresses` and missing
for `unrelated` (`valuelens.metrics._open`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import pandas as pd
from pydantic import BaseModel, ConfigDict

from valuelens.data import extract_json_object, is_refusal
from valuelens.models import Request
from valuelens.models._base import JsonObject
from valuelens.prompts import TemplateContract, TemplateSet, load_templates
from valuelens.tasks._records import (
    ParseStatus,
    ResultLike,
    answer_text,
    metadata,
    records_frame,
    user_request,
)
from valuelens.tasks._registry import Ask, Evaluation, EvaluationScope, register_task
from valuelens.taxonomy import Taxonomy, load_taxonomy

TASK_NAME: Literal["open"] = "open"
ACT_TEMPLATE = "act"
JUDGE_TEMPLATE = "judge"
TABLE = "responses_open"
Label = Literal["expresses", "resists", "unrelated"]
LABELS: tuple[Label, ...] = ("expresses", "resists", "unrelated")
OPEN_COLUMNS = [
    "country",
    "topic",
    "value",
    "action",
    "label",
    "rationale",
    "action_status",
    "judge_status",
    "judge",
    "action_raw",
    "judge_raw",
    "error",
]
_SYNONYMS: dict[str, Label] = {
    "expresses": "expresses",
    "express": "expresses",
    "expressing": "expresses",
    "expressed": "expresses",
    "resists": "resists",
    "resist": "resists",
    "resisting": "resists",
    "resisted": "resists",
    "unrelated": "unrelated",
    "notaddressing": "unrelated",
    "doesnotaddress": "unrelated",
    "notaddressed": "unrelated",
    "neither": "unrelated",
    "none": "unrelated",
}
_LABEL_KEYS = frozenset({"label", "code", "category", "answer", "verdict", "classification"})
_RATIONALE_KEYS = frozenset({"rationale", "reason", "reasoning", "explanation", "justification"})
_V = TypeVar("_V")
_ACTION_KEYS = frozenset({"action", "answer", "response", "sentence"})
_NOT_WORD = re.compile(r"[^a-z]+")
_WORDS = re.compile(r"\b(express\w*|resist\w*|unrelated)\b", re.IGNORECASE)
ACTION_SCHEMA: JsonObject = {
    "title": "OpenAction",
    "type": "object",
    "properties": {"action": {"type": "string", "maxLength": 400}},
    "required": ["action"],
    "additionalProperties": False,
}
JUDGE_SCHEMA: JsonObject = {
    "title": "OpenCode",
    "type": "object",
    "properties": {
        "rationale": {"type": "string", "maxLength": 400},
        "label": {"type": "string", "enum": list(LABELS)},
    },
    "required": ["rationale", "label"],
    "additionalProperties": False,
}


class OpenRecord(BaseModel):
    """One pair of open-ended Task 2: the free action and the judge's code.

    `action_status` says how the free action was read (ok: JSON as asked; repaired: fixed JSON
    or the plain reply; failed; error: the request failed) and `judge_status` likewise for the
    code (failed also when there was no action to judge). Raw replies are kept.
    """

    model_config = ConfigDict(frozen=True)

    country: str
    topic: str
    value: str
    action: str | None = None
    label: Label | None = None
    rationale: str | None = None
    action_status: ParseStatus = "failed"
    judge_status: ParseStatus = "failed"
    judge: str = ""
    action_raw: str | None = None
    judge_raw: str | None = None
    error: str | None = None


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _fields(obj: Mapping[str, _V]) -> dict[str, _V]:
    return {_NOT_WORD.sub("", str(k).casefold()): v for k, v in obj.items()}


def read_action(text: str) -> tuple[str | None, ParseStatus]:
    """The free action in a reply and how it was read (JSON, else the plain sentence)."""
    obj, repaired = extract_json_object(text)
    if obj is not None:
        fields = _fields(obj)
        said = _text(next((fields[k] for k in fields if k in _ACTION_KEYS), None))
        if said is not None:
            return said, "repaired" if repaired else "ok"
    plain = _text(text)
    if plain is None or plain.startswith("{") or is_refusal(plain):
        return None, "failed"
    return plain, "repaired"


def resolve_label(said: object) -> Label | None:
    """The label a judge's word names (any case or spacing), or None."""
    if not isinstance(said, str):
        return None
    return _SYNONYMS.get(_NOT_WORD.sub("", said.casefold()))


def read_code(text: str) -> tuple[Label | None, str | None, ParseStatus]:
    """The label, rationale and parse status of one judge reply."""
    obj, repaired = extract_json_object(text)
    label, rationale, exact = None, None, False
    if obj is not None:
        fields = _fields(obj)
        said = next((fields[k] for k in fields if k in _LABEL_KEYS), None)
        label = resolve_label(said)
        exact = label is not None and said in LABELS
        rationale = _text(next((fields[k] for k in fields if k in _RATIONALE_KEYS), None))
    if label is None:
        named = {resolve_label(word) for word in _WORDS.findall(text)} - {None}
        label = named.pop() if len(named) == 1 else None
        exact = False
    if label is None:
        return None, rationale, "failed"
    return label, rationale, "ok" if exact and not repaired else "repaired"


@dataclass(frozen=True)
class OpenTask:
    """Builds both rounds' requests and reads their answers (see `open_task`)."""

    templates: TemplateSet
    taxonomy: Taxonomy
    temperature: float
    seed: int | None
    judge: str | None
    max_tokens: int

    def _value(self, name: str) -> dict[str, object]:
        found = next((v for v in self.taxonomy.values if v.name == name), None)
        return found.model_dump() if found else {"name": name, "type": "", "definition": ""}

    def _request(
        self, template: str, context: Mapping[str, object], meta: Mapping[str, object]
    ) -> Request:
        prompt = self.templates.render(TASK_NAME, template, context)
        schema = ACTION_SCHEMA if template == ACT_TEMPLATE else JUDGE_SCHEMA
        return user_request(
            prompt,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            seed=self.seed,
            metadata={"task": TASK_NAME, "round": template, **meta},
            json_schema=schema,
        )

    def build_requests(self, actions: pd.DataFrame) -> list[Request]:
        """Round 1: one request per (country, topic, value) of the VIA table, in its order."""
        pairs = actions[["country", "topic", "value"]].drop_duplicates()
        return [
            self._request(
                ACT_TEMPLATE,
                {"scenario": {"country": c, "topic": t}, "value": self._value(v)},
                {"country": c, "topic": t, "value": v},
            )
            for c, t, v in pairs.itertuples(index=False)
        ]

    def judge_requests(self, records: Sequence[OpenRecord], actions: pd.DataFrame) -> list[Request]:
        """Round 2: one request per record with a free action, anchored by its VIA pair."""
        anchors = {
            (r.country, r.topic, r.value, r.polarity): str(r.action)
            for r in actions.itertuples(index=False)
        }
        requests = []
        for record in records:
            if record.action is None:
                continue
            key = (record.country, record.topic, record.value)
            item = {
                "country": record.country,
                "topic": record.topic,
                "value": self._value(record.value),
                "action": record.action,
                "positive": anchors.get((*key, "positive"), "(not available)"),
                "negative": anchors.get((*key, "negative"), "(not available)"),
            }
            meta = dict(zip(("country", "topic", "value"), key, strict=True))
            requests.append(self._request(JUDGE_TEMPLATE, {"item": item}, meta))
        return requests

    def parse(self, result: ResultLike) -> OpenRecord:
        """A round-1 result as a record (the judge's fields empty); never raises."""
        meta = metadata(result)
        keys = {k: str(meta.get(k, "")) for k in ("country", "topic", "value")}
        text, error = answer_text(result)
        if text is None:
            return OpenRecord(**keys, action_status="error", error=error)
        action, status = read_action(text)
        return OpenRecord(**keys, action=action, action_status=status, action_raw=text)

    def with_code(self, record: OpenRecord, result: ResultLike | None, judge: str) -> OpenRecord:
        """`record` with the judge's code read from `result` (None: nothing was judged)."""
        if result is None:
            return record.model_copy(update={"judge": judge})
        text, error = answer_text(result)
        if text is None:
            update: dict[str, object] = {"judge_status": "error", "error": error, "judge": judge}
            return record.model_copy(update=update)
        label, rationale, status = read_code(text)
        update = {"label": label, "rationale": rationale, "judge_status": status}
        return record.model_copy(update={**update, "judge_raw": text, "judge": judge})

    def to_frame(self, records: Iterable[OpenRecord]) -> pd.DataFrame:
        """One row per pair (the `responses_open` table).

        `parse_status` is the pair's overall status: the action's when it was not read ok,
        else the judge's (so `parse_status_open` in the summary counts both rounds).
        """
        frame = records_frame(records, OPEN_COLUMNS)
        if len(frame):
            first_ok = frame["action_status"].isin(["ok", "repaired"])
            frame["parse_status"] = frame["judge_status"].where(first_ok, frame["action_status"])
        return frame


def open_task(
    *,
    templates: TemplateSet | None = None,
    taxonomy: Taxonomy | None = None,
    temperature: float = 0.0,
    seed: int | None = 0,
    judge: str | None = None,
    max_tokens: int = 300,
) -> OpenTask:
    """Configure open-ended Task 2 once; the templates are checked here.

    Args:
        templates: a template set with the `open` files; default: the built-in ones.
        taxonomy: value definitions for the prompts; default: the built-in taxonomy.
        temperature: sampling temperature of both rounds.
        seed: sampling seed, where the backend honours one.
        judge: model spec of the judge (e.g. `openai:gpt-4o`); None: the evaluated model.
        max_tokens: token budget of each reply.

    Raises:
        ValuelensError: templates without the `open` files.
    """
    chosen = templates if templates is not None and TASK_NAME in templates.tasks else None
    return OpenTask(
        templates=chosen or load_templates(tasks=(TASK_NAME,)),
        taxonomy=taxonomy or load_taxonomy(),
        temperature=temperature,
        seed=seed,
        judge=judge or None,
        max_tokens=max_tokens,
    )


def open_requests(task: OpenTask, scope: EvaluationScope) -> list[Request]:
    """Round 1 for the evaluation's scope (what a dry run counts)."""
    return [] if scope.actions is None else task.build_requests(scope.actions)


async def _judged(task: OpenTask, requests: list[Request], ask: Ask) -> Sequence[ResultLike]:
    """The judge's answers: the evaluated model's, or those of `task.judge` (same run cache)."""
    return await ask(requests, model=task.judge)


async def open_run(task: OpenTask, scope: EvaluationScope, ask: Ask) -> pd.DataFrame:
    """Both rounds: free actions from the evaluated model, then the judge's codes."""
    if scope.actions is None:
        return task.to_frame([])
    records = [task.parse(result) for result in await ask(open_requests(task, scope))]
    requests = task.judge_requests(records, scope.actions)
    judged = list(await _judged(task, requests, ask)) if requests else []
    by_key = {tuple(metadata(r)[k] for k in ("country", "topic", "value")): r for r in judged}
    judge = task.judge or str(scope.settings.get("model", ""))
    coded = [task.with_code(r, by_key.get((r.country, r.topic, r.value)), judge) for r in records]
    return task.to_frame(coded)


def open_summary(table: pd.DataFrame) -> dict[str, Any]:
    """The summary entries: coverage of open-ended T2 and the share of each label."""
    from valuelens.metrics._open import open_rates

    return open_rates(table)


_SAMPLE_VALUE = {"name": "Honest", "type": "Benevolence", "definition": "genuine, sincere"}


def _samples(template: str) -> list[dict[str, object]]:
    if template == ACT_TEMPLATE:
        scenario = {"country": "Canada", "topic": "Religion"}
        bare = {**_SAMPLE_VALUE, "definition": ""}
        return [{"scenario": scenario, "value": v} for v in (_SAMPLE_VALUE, bare)]
    item = {
        "country": "Canada",
        "topic": "Religion",
        "value": _SAMPLE_VALUE,
        "action": "I tell my friend the truth about missing the service.",
        "positive": "I admit to my pastor that I skipped the fast.",
        "negative": "I pretend I kept the fast so nobody asks.",
    }
    return [{"item": item}, {"item": {**item, "value": {**_SAMPLE_VALUE, "definition": ""}}}]


OPEN_CONTRACT = TemplateContract(
    TASK_NAME,
    (ACT_TEMPLATE, JUDGE_TEMPLATE),
    _samples,
    {
        "scenario": "act: mapping with country and topic",
        "value": "act: mapping with name, type and definition",
        "item": "judge: mapping: country, topic, value (name, type, definition), action (the "
        "free action), positive and negative (the VIA pair)",
    },
    loading="by_name",
)

register_task(
    TASK_NAME,
    open_task,
    record=OpenRecord,
    contract=OPEN_CONTRACT,
    description="open-ended Task 2: the model's own action, coded by a judge",
    evaluation=Evaluation(
        requests=open_requests,
        table=TABLE,
        needs_actions=True,
        summarize=open_summary,
        run=open_run,
    ),
)
