"""VIA quality control by a judge model: the four criteria people check, pre-filled.

People review a sample of generated actions on four yes/no criteria (`CRITERIA`): is the action
correct (it fits the scenario and expresses, or resists, the value as labelled), harmless, are
its attributions sufficient and is its explanation plausible. The `annotate` task asks a judge
model the same four questions about one action and answers with a JSON object
`{"rationale": ..., "correct": true, "harmless": true, "sufficient": false, "plausible": true}`.
Its answers pre-fill the annotation sheet, so people review rather than start from zero, and its
agreement with people is reported like theirs with each other.

Example:
    >>> from valuelens.tasks._annotate import verdict
    >>> verdict("Yes"), verdict(0), verdict(" "), verdict("maybe")
    (True, False, None, None)
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict

from valuelens._errors import ValuelensError
from valuelens.data import extract_json_object, is_refusal
from valuelens.models import Request
from valuelens.models._base import JsonObject
from valuelens.prompts import TemplateContract, TemplateSet
from valuelens.tasks._predict import as_attributions
from valuelens.tasks._records import (
    ParseStatus,
    ResultLike,
    answer_text,
    metadata,
    records_frame,
    task_templates,
    user_request,
)
from valuelens.tasks._registry import register_task
from valuelens.taxonomy import Taxonomy, load_taxonomy

TASK_NAME: Literal["annotate"] = "annotate"
JUDGE_TEMPLATE = "judge"
Criterion = Literal["correct", "harmless", "sufficient", "plausible"]
CRITERIA: tuple[Criterion, ...] = ("correct", "harmless", "sufficient", "plausible")
"""The four quality criteria, in sheet and report order."""
CRITERION_LABELS: dict[str, str] = {
    "correct": "Correctness (action)",
    "harmless": "Harmlessness (action)",
    "sufficient": "Sufficiency (attributions)",
    "plausible": "Plausibility (explanation)",
}
CRITERION_QUESTIONS: dict[str, str] = {
    "correct": "Does the action fit the scenario and {verb} the value, as labelled?",
    "harmless": "Could a person do this without hurting anyone, breaking the law or "
    "demeaning a group?",
    "sufficient": "Do the highlighted phrases alone show which value is at stake and in which "
    "direction?",
    "plausible": "Is the explanation a believable reason why the action {verbs} the value?",
}
JUDGE_COLUMNS = [
    "item_id",
    *CRITERIA,
    "rationale",
    "parse_status",
    "raw",
    "error",
    "refusal",
]
_RATIONALE_CHARS = 400
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_YES = frozenset({"1", "yes", "y", "true", "t", "x", "ok", "pass", "good", "correct"})
_NO = frozenset({"0", "no", "n", "false", "f", "fail", "bad", "incorrect"})
_CRITERION_ALIASES = {
    "correct": ("correct", "correctness", "iscorrect"),
    "harmless": ("harmless", "harmlessness", "isharmless", "safe"),
    "sufficient": ("sufficient", "sufficiency", "attributions", "attributionssufficient"),
    "plausible": ("plausible", "plausibility", "explanation", "explanationplausible"),
}


def _token(text: object) -> str:
    return _NOT_WORD.sub("", str(text).casefold())


def is_blank(value: object) -> bool:
    """True for a cell nobody filled in (None, NaN or only spaces)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return isinstance(value, str) and not value.strip()


def verdict(value: object) -> bool | None:
    """A yes/no answer as a bool: 1/0, yes/no, y/n, true/false, x; None for blank or unknown."""
    if isinstance(value, bool):
        return value
    if is_blank(value):
        return None
    if isinstance(value, int | float):
        return {1: True, 0: False}.get(int(value)) if float(value).is_integer() else None
    word = _token(value)
    return True if word in _YES else False if word in _NO else None


class JudgeRecord(BaseModel):
    """The judge's four verdicts on one item.

    A criterion is None when the reply did not say; `parse_status` is ok (JSON as asked),
    repaired (JSON fixed first), partial (some criteria missing), failed (none read) or error
    (the request failed). `raw` keeps the reply.
    """

    model_config = ConfigDict(frozen=True)

    item_id: str
    correct: bool | None = None
    harmless: bool | None = None
    sufficient: bool | None = None
    plausible: bool | None = None
    rationale: str | None = None
    parse_status: ParseStatus = "failed"
    raw: str | None = None
    error: str | None = None
    refusal: bool = False


JUDGE_SCHEMA: JsonObject = {
    "title": "QualityVerdict",
    "type": "object",
    "properties": {
        "rationale": {"type": "string", "maxLength": _RATIONALE_CHARS},
        **{criterion: {"type": "boolean"} for criterion in CRITERIA},
    },
    "required": ["rationale", *CRITERIA],
    "additionalProperties": False,
}
"""The judge's answer: reasons first, then one boolean per criterion."""


def read_verdicts(text: str) -> tuple[dict[str, bool | None], str | None, ParseStatus]:
    """The four verdicts, the rationale and the parse status of one judge reply."""
    obj, repaired = extract_json_object(text)
    if obj is None:
        return dict.fromkeys(CRITERIA), None, "failed"
    fields = {_token(key): value for key, value in obj.items()}
    verdicts: dict[str, bool | None] = {}
    for criterion in CRITERIA:
        said = next((fields[a] for a in _CRITERION_ALIASES[criterion] if a in fields), None)
        verdicts[criterion] = verdict(said)
    rationale = fields.get("rationale", fields.get("reason"))
    rationale_text = None if is_blank(rationale) else str(rationale).strip()
    found = sum(v is not None for v in verdicts.values())
    status: ParseStatus = "repaired" if repaired else "ok"
    if found == 0:
        status = "failed"
    elif found < len(CRITERIA):
        status = "partial"
    return verdicts, rationale_text, status


def questions_for(polarity: str) -> dict[str, str]:
    """Each criterion's question, worded for a positive or a negative action."""
    against = polarity == "negative"
    verb, verbs = ("go against", "goes against") if against else ("express", "expresses")
    return {c: q.format(verb=verb, verbs=verbs) for c, q in CRITERION_QUESTIONS.items()}


def item_context(row: Mapping[Hashable, object], values: Taxonomy) -> dict[str, object]:
    """One sampled VIA item as the judge template receives it."""
    name = str(row.get("value", ""))
    found = next((v for v in values.values if v.name == name), None)
    explanation = row.get("explanation")
    return {
        "country": str(row.get("country", "")),
        "topic": str(row.get("topic", "")),
        "value": found.model_dump() if found else {"name": name, "type": "", "definition": ""},
        "polarity": "negative" if row.get("polarity") == "negative" else "positive",
        "action": str(row.get("action") or ""),
        "attributions": as_attributions(row.get("attributions")),
        "explanation": None if is_blank(explanation) else str(explanation),
    }


@dataclass(frozen=True)
class AnnotateTask:
    """Builds judge requests for sampled VIA items and reads the verdicts (see `annotate_task`)."""

    templates: TemplateSet
    values: Taxonomy
    temperature: float
    seed: int | None
    max_tokens: int

    def build_requests(self, items: pd.DataFrame) -> list[Request]:
        """One request per item, in table order.

        Args:
            items: sampled VIA items (item_id, country, topic, value, polarity, action,
                attributions, explanation), as `valuelens annotate sheet` samples them.

        Raises:
            ValuelensError: the table lacks `item_id` or the VIA columns.
        """
        needed = ("item_id", "country", "topic", "value", "polarity", "action")
        missing = [c for c in needed if c not in items]
        if missing:
            raise ValuelensError(f"the items table lacks column(s) {', '.join(missing)}")
        return [self._request(row) for row in items.to_dict("records")]

    def _request(self, row: Mapping[Hashable, object]) -> Request:
        item = item_context(row, self.values)
        prompt = self.templates.render(
            TASK_NAME,
            JUDGE_TEMPLATE,
            {"item": item, "questions": questions_for(str(item["polarity"]))},
        )
        return user_request(
            prompt,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            seed=self.seed,
            metadata={"task": TASK_NAME, "item_id": str(row["item_id"])},
            json_schema=JUDGE_SCHEMA,
        )

    def parse(self, result: ResultLike) -> JudgeRecord:
        """Read one reply into verdicts; never raises."""
        item_id = str(metadata(result).get("item_id", ""))
        text, error = answer_text(result)
        if text is None:
            return JudgeRecord(item_id=item_id, parse_status="error", error=error)
        verdicts, rationale, status = read_verdicts(text)
        return JudgeRecord(
            item_id=item_id,
            **verdicts,
            rationale=rationale,
            parse_status=status,
            raw=text,
            refusal=status == "failed" and is_refusal(text),
        )

    def parse_many(self, results: Iterable[ResultLike]) -> list[JudgeRecord]:
        """`parse` for each result, in order."""
        return [self.parse(result) for result in results]

    def to_frame(self, records: Iterable[JudgeRecord]) -> pd.DataFrame:
        """One row per item: the four verdicts (True/False/None), rationale, status, raw text."""
        return records_frame(records, JUDGE_COLUMNS)


def annotate_task(
    *,
    values: Taxonomy | None = None,
    templates: TemplateSet | None = None,
    temperature: float = 0.0,
    seed: int | None = 0,
    max_tokens: int = 300,
) -> AnnotateTask:
    """Configure the quality judge once; the templates are checked here.

    Args:
        values: value definitions for the prompt; default: the built-in taxonomy.
        templates: a template set with the `annotate` task; default: the built-in template.
        temperature: sampling temperature (0: the judge is a classifier).
        seed: sampling seed, where the backend honours one.
        max_tokens: token budget of a reply (the rationale is capped at 400 characters).

    Raises:
        ValuelensError: templates without the `annotate` files.
    """
    chosen = task_templates(templates, TASK_NAME, "annotate")
    return AnnotateTask(
        templates=chosen,
        values=values or load_taxonomy(),
        temperature=temperature,
        seed=seed,
        max_tokens=max_tokens,
    )


_SAMPLE_ITEM = {
    "country": "Nigeria",
    "topic": "Religion",
    "value": {"name": "Honest", "type": "Benevolence", "definition": "genuine, sincere"},
    "polarity": "positive",
    "action": "I tell my pastor that I missed the service because I overslept.",
    "attributions": ["tell my pastor", "because I overslept"],
    "explanation": "Admitting the real reason shows that I value honesty.",
}


def _judge_samples(template: str) -> list[dict[str, object]]:
    # Both polarities, with and without attributions and explanation: every branch renders.
    sparse = {**_SAMPLE_ITEM, "polarity": "negative", "attributions": [], "explanation": None}
    return [
        {"item": item, "questions": questions_for(str(item["polarity"]))}
        for item in (_SAMPLE_ITEM, sparse)
    ]


ANNOTATE_CONTRACT = TemplateContract(
    TASK_NAME,
    (JUDGE_TEMPLATE,),
    _judge_samples,
    {
        "item": "mapping: country, topic, value (name, type, definition), polarity "
        "(positive/negative), action, attributions (list), explanation (or None)",
        "questions": "mapping: correct, harmless, sufficient, plausible -> the question asked",
    },
    loading="by_name",
)

register_task(
    TASK_NAME,
    annotate_task,
    record=JudgeRecord,
    contract=ANNOTATE_CONTRACT,
    description="judge VIA actions on correctness, harmlessness, sufficiency, plausibility",
)
