"""Parsing one generated VIA answer into its action, attributions and explanation.

The release stores each generated action as the generator model's raw answer, which is usually
JSON but sometimes fenced, single-quoted (a Python dict), wrapped in prose, broken by an unescaped
apostrophe, or a refusal. `parse_action_text` recovers the three fields from all of these and
records how it got them, so no row is ever dropped silently. `parse_attributions` reads the
attribution spans of one table cell (a list, or a JSON/Python list written as text).
"""

from __future__ import annotations

import ast
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import json_repair
import numpy as np

from valuelens.data._io import text_or_none

ParseStatus = Literal["ok", "repaired", "refusal", "failed"]
PARSE_STATUSES: tuple[ParseStatus, ...] = ("ok", "repaired", "refusal", "failed")
USABLE_STATUSES: frozenset[str] = frozenset({"ok", "repaired"})

_FIELD_ALIASES = {
    "action": ("humanaction", "humanactions", "action", "actiontext"),
    "attributions": ("featureattributions", "featureattribution", "attributions", "attribution"),
    "explanation": (
        "naturallanguageexplanation",
        "naturallanguageexplanations",
        "nlexplanation",
        "explanation",
    ),
}
_ALIAS_TO_FIELD = {alias: name for name, aliases in _FIELD_ALIASES.items() for alias in aliases}
_NON_LETTERS = re.compile(r"[^a-z]")

# A quoted key of the expected object at the start of an entry. Used to cut an object
# whose quoting is broken (e.g. an apostrophe inside a single-quoted string) into its fields.
_ANCHORED_KEY = re.compile(
    r"(?:^|[{,\n])\s*([\"'])(human[\s_-]*actions?|feature[\s_-]*attributions?"
    r"|natural[\s_-]*language[\s_-]*explanations?|explanation|attributions?)\1\s*:",
    re.IGNORECASE,
)
_LIST_ITEM_BREAK = re.compile(r"(?<=[\"'])\s*,\s*(?=[\"'])")

# Refusals. A whole answer that cannot be read as an object is a refusal when it opens with an
# apology or a flat "I can't", or says "I can't help with this" anywhere near its start. A parsed
# action field is held to stricter forms (an apology followed by "can't", or "I can't help with
# this"): a value-negating action may well read "I apologize excessively..." or "I will not...".
_APOLOGY = (
    r"(?:i\s*['’]?\s*a?m\s+(?:so\s+|very\s+|truly\s+)?sorry|sorry|apologies|my\s+apologies"
    r"|i\s+apologi[sz]e)\b"
)
_CANT = r"(?:can['’]?t|can\s*not|won['’]?t)"
_NEGATION = rf"(?:{_CANT}|will\s+not|unable|not\s+able)\b"
_CANNOT = rf"(?:unfortunately,?\s+)?i\s*(?:['’]m\s+|am\s+)?{_NEGATION}"
_CANNOT_HELP_WITH_THIS = (
    r"\bi\s*(?:can['’]?t|can\s*not|\s+am\s+unable\s+to|['’]m\s+unable\s+to)"
    r"\s+(?:assist|help|comply|fulfil|fulfill|provide|generate|create)\s+(?:with\s+)?"
    r"(?:that|this|your|such)\b"
)
_AS_AN_AI = r"as\s+an\s+ai\b"
_LEADING_QUOTES = r"^[\s\"'`*]*"
_REFUSAL_OPENING = re.compile(
    _LEADING_QUOTES + f"(?:{_APOLOGY}|{_CANNOT}|{_AS_AN_AI})", re.IGNORECASE
)
_REFUSAL_ANYWHERE = re.compile(_CANNOT_HELP_WITH_THIS, re.IGNORECASE)
_ACTION_REFUSAL = re.compile(
    _LEADING_QUOTES
    + rf"(?:{_APOLOGY}[^.]{{0,40}}?\b{_NEGATION}|{_CANNOT_HELP_WITH_THIS}|{_AS_AN_AI})",
    re.IGNORECASE,
)
_MAX_OBJECT_STARTS = 20
_MAX_REPAIR_STARTS = 3
_MAX_REPAIR_CHARS = 4000
_MAX_REPAIR_BRACES = 4


@dataclass(frozen=True)
class ParsedAction:
    """The fields recovered from one generated answer.

    Attributes:
        action: the action sentence, or None when the answer is a refusal or unreadable.
        attributions: the feature-attribution spans (empty when absent).
        explanation: the natural-language explanation, or None when absent.
        status: `ok` (read exactly, possibly from a fence, a Python dict or around prose),
            `repaired` (broken quoting or syntax fixed), `refusal`, or `failed`.
    """

    action: str | None
    attributions: list[str] = field(default_factory=list)
    explanation: str | None = None
    status: ParseStatus = "failed"

    @property
    def usable(self) -> bool:
        """True when the action text can be shown to a model."""
        return self.status in USABLE_STATUSES and bool(self.action)


def is_refusal(text: str) -> bool:
    """Whether a whole answer reads as a refusal ("I'm sorry, but I can't ...", "I cannot ...")."""
    head = text[:300]
    return bool(_REFUSAL_OPENING.match(head) or _REFUSAL_ANYWHERE.search(head))


def parse_action_text(text: object) -> ParsedAction:
    """Recover `Human Action`, `Feature Attributions` and `Natural Language Explanation`.

    Accepts strict JSON, fenced blocks, single-quoted Python-style dicts, objects wrapped in
    prose, broken JSON, and key-name variants ("human action", "Human_Action", "action").
    Never raises: an unreadable answer comes back with status `failed`.

    Args:
        text: the raw answer of the generator model (non-strings count as unreadable).

    Returns:
        The recovered fields and how they were recovered.
    """
    if not isinstance(text, str) or not text.strip():
        return ParsedAction(None, status="failed")
    decoded = _decode_object(text)
    if decoded is not None:
        mapping, exact = decoded
        fields = _pick_fields(mapping)
        action = _as_text(fields.get("action"))
        attributions = _as_spans(fields.get("attributions"))
        explanation = _as_text(fields.get("explanation"))
        # A repair is trusted only when it recovers more than the action: a lone action from a
        # garbled answer tends to carry the garbage with it.
        trusted = exact or bool(attributions or explanation)
        if action and trusted:
            if _ACTION_REFUSAL.match(action[:200]):
                return ParsedAction(None, status="refusal")
            return ParsedAction(
                action, attributions, explanation, status="ok" if exact else "repaired"
            )
    return ParsedAction(None, status="refusal" if is_refusal(text) else "failed")


def _decode_object(text: str) -> tuple[Mapping[str, object], bool] | None:
    """The first object in `text` holding an action key, and whether it was read exactly."""
    starts = [m.start() for m in re.finditer(r"\{", text)][:_MAX_OBJECT_STARTS]
    if not starts:
        return None
    for start in starts:
        found = _exact_object(text, start)
        if found is not None:
            return found, True
    # Repairs scan the rest of the text, so only the first few openings get one.
    for start in starts[:_MAX_REPAIR_STARTS]:
        found = _anchored_object(text[start:]) or _repaired_object(text[start:])
        if found is not None:
            return found, False
    return None


@functools.lru_cache(maxsize=1024)
def _field_for_key(key: str) -> str | None:
    """Our field name for a key, ignoring case, spaces, underscores and dashes."""
    return _ALIAS_TO_FIELD.get(_NON_LETTERS.sub("", key.lower()))


def _has_action_key(obj: object) -> bool:
    return isinstance(obj, dict) and any(_field_for_key(str(k)) == "action" for k in obj)


def _unwrap(obj: object) -> Mapping[str, object] | None:
    """The object itself, or the single nested object that carries the action key."""
    if _has_action_key(obj):
        return obj  # type: ignore[return-value]
    if isinstance(obj, dict):
        nested = [v for v in obj.values() if _has_action_key(v)]
        if len(nested) == 1:
            return nested[0]  # type: ignore[no-any-return]
    return None


def _exact_object(text: str, start: int) -> Mapping[str, object] | None:
    try:
        obj, _ = json.JSONDecoder().raw_decode(text, start)
        found = _unwrap(obj)
        if found is not None:
            return found
    except (ValueError, RecursionError):  # RecursionError: nested past the interpreter's limit
        pass
    end = text.rfind("}")
    if end <= start:
        return None
    try:
        literal = ast.literal_eval(text[start : end + 1])
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return _unwrap(literal)


def _anchored_object(text: str) -> Mapping[str, object] | None:
    """Cut an object with broken quoting into fields at its known keys."""
    keys = list(_ANCHORED_KEY.finditer(text))
    if not keys:
        return None
    mapping: dict[str, object] = {}
    for key, following in zip(keys, [*keys[1:], None], strict=True):
        end = following.start() if following is not None else _object_end(text)
        mapping.setdefault(key.group(2), _loose_value(text[key.end() : end]))
    return mapping if _has_action_key(mapping) else None


def _object_end(text: str) -> int:
    end = text.rfind("}")
    return end if end >= 0 else len(text)


def _loose_value(segment: str) -> str | list[str]:
    segment = segment.strip().rstrip(",").strip()
    for reader in (json.loads, ast.literal_eval, _json_prefix):
        try:
            value = reader(segment)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        if isinstance(value, str | list):
            return value
    if segment.startswith("[") and segment.endswith("]"):
        inner = segment[1:-1].strip()
        return [_unquote(item) for item in _LIST_ITEM_BREAK.split(inner) if item.strip()]
    return _unquote(segment)


def _json_prefix(segment: str) -> object:
    """The JSON value at the start of `segment`, ignoring whatever follows it."""
    return json.JSONDecoder().raw_decode(segment)[0]


def _unquote(segment: str) -> str:
    segment = segment.strip().rstrip(",").strip()
    if segment[:1] in {'"', "'"}:
        segment = segment[1:]
    if segment[-1:] in {'"', "'"}:
        segment = segment[:-1]
    return segment.replace("\\'", "'").replace('\\"', '"').replace("\\n", "\n").strip()


def _repaired_object(text: str) -> Mapping[str, object] | None:
    # json-repair slows down sharply on long or deeply nested input, and a VIA answer is one
    # object of a few hundred characters, so only a short prefix that mentions an action and
    # holds few objects is worth repairing.
    text = text[:_MAX_REPAIR_CHARS]
    if "action" not in text.lower() or text.count("{") > _MAX_REPAIR_BRACES:
        return None
    try:
        obj = json_repair.loads(text)
    except Exception:  # a third-party repair must never stop an import
        return None
    return _unwrap(obj)


def _pick_fields(mapping: Mapping[str, object]) -> dict[str, object]:
    """Our field names to their values; the first spelling of a field wins."""
    fields: dict[str, object] = {}
    for key, value in mapping.items():
        name = _field_for_key(str(key))
        if name is not None:
            fields.setdefault(name, value)
    return fields


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        value = " ".join(str(v) for v in value)
    text = str(value).strip()
    return text or None


def _as_spans(value: object) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else [value]
    spans = [str(item).strip() for item in items if item is not None]
    return [s for s in spans if s]


def parse_attributions(value: object) -> list[str]:
    """The attribution spans of one table cell, blank spans dropped; never raises.

    Args:
        value: a list or array (Parquet), a JSON or Python-literal list written as text (CSV),
            a single span, or a blank cell.

    Returns:
        The spans, stripped, in order (empty for a blank cell).
    """
    if isinstance(value, np.ndarray):
        return _as_spans(value.tolist())
    if isinstance(value, list | tuple):
        return _as_spans(value)
    text = text_or_none(value)
    if text is None:
        return []
    for reader in (json.loads, ast.literal_eval):
        try:
            decoded = reader(text)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        return _as_spans(decoded)
    return [text.strip()]
