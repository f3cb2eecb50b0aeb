"""Parsing of 4-point Likert answers (1 = strongly agree / very much like me ... 4 = not like me at all).

Two modes, because reproducing published numbers and parsing robustly pull in different directions:

* robust (default): repair broken JSON, find the object inside prose or code fences, match value
  names ignoring case and spacing, and map words ("strongly agree", "not like me") to numbers;
  answers outside 1..4 are rejected.
* paper-compatible: the authors' recipe. Take the text between the first pair of ``` fences (a
  leading `json` tag dropped), `json.loads` it strictly (any failure drops the whole response),
  match keys ignoring case and surrounding spaces, replace the phrases below in order and read the
  first character as a digit, whatever digit it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import json_repair

ParseStatus = Literal["ok", "repaired", "partial", "failed"]

# Longer phrases first: "not like me at all" contains "like me", "strongly agree" contains "agree".
_PHRASES: tuple[tuple[str, str], ...] = (
    ("not like me at all", "4"),
    ("not like me", "3"),
    ("very much like me", "1"),
    ("like me", "2"),
    ("strongly disagree", "4"),
    ("disagree", "3"),
    ("strongly agree", "1"),
    ("agree", "2"),
)
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_SPACES = re.compile(r"\s+")
_DIGITS = "0123456789"
_DIGITS_SET = set(_DIGITS)


def likert_from_answer(answer: object, *, paper_compat: bool = False) -> float | None:
    """Map one answer ("2", 2, "2: agree", "Not like me at all") to a Likert number, or None.

    In robust mode only 1..4 are accepted; in paper-compatible mode any leading digit is taken.
    """
    if answer is None or isinstance(answer, bool):
        return None
    if isinstance(answer, int | float):
        number = float(answer)
        if number != number:  # NaN
            return None
        return number if paper_compat or number in (1.0, 2.0, 3.0, 4.0) else None
    text = phrases_to_digits(str(answer).strip())
    if not text or text[0] not in _DIGITS:
        return None
    number = float(text[0])
    if paper_compat:
        return number
    return number if 1.0 <= number <= 4.0 and text[1:2] not in _DIGITS_SET else None


def phrases_to_digits(text: str) -> str:
    """`text` in lower case, each Likert phrase replaced by its digit (longer phrases first).

    This is also the authors' replacement step, so both parsing modes use it.
    """
    text = text.lower()
    for phrase, digit in _PHRASES:
        text = text.replace(phrase, digit)
    return text


def extract_json_object(
    text: str, *, paper_compat: bool = False
) -> tuple[dict[str, object] | None, bool]:
    """Find the JSON object in a model's reply.

    Returns:
        (object or None, repaired): `repaired` is True when the strict parse failed and the object
        came from the repair step (never in paper-compatible mode).
    """
    if paper_compat:
        return _paper_object(text), False
    candidates = [m.group(1) for m in _FENCE.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        candidates.append(text[start : end + 1])
    candidates.append(text)
    for candidate in candidates:
        try:
            parsed = json.loads(candidate)
        except (ValueError, RecursionError):  # RecursionError: nested past Python's limit
            continue
        if isinstance(parsed, dict):
            return parsed, False
    tail = text[start:] if start != -1 else text
    try:
        repaired = json_repair.loads(tail)
    except Exception:  # json-repair can raise on pathological input; treat as unparsable
        return None, False
    return (repaired, True) if isinstance(repaired, dict) and repaired else (None, False)


def _paper_object(text: str) -> dict[str, object] | None:
    if "```" in text:
        parts = text.split("```")
        if len(parts) >= 3:
            text = parts[1]
            if text.startswith("json"):
                text = text[4:]
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested past Python's limit
        return None
    return parsed if isinstance(parsed, dict) else None


def name_key(name: str) -> str:
    """Case- and whitespace-insensitive key used to match value names in model output."""
    return _SPACES.sub(" ", name).strip().casefold()


@dataclass
class StatedParse:
    """The Likert answers found in one Task-1 style response."""

    scores: dict[str, float]
    status: ParseStatus
    missing: list[str] = field(default_factory=list)
    unknown_keys: list[str] = field(default_factory=list)


def parse_stated_response(
    text: str,
    value_names: Iterable[str],
    *,
    paper_compat: bool = False,
    aliases: Mapping[str, str] | None = None,
) -> StatedParse:
    """Parse a reply that rates many values at once (one JSON object, value name -> answer).

    Args:
        text: the raw reply.
        value_names: the values that were asked for (canonical names).
        paper_compat: follow the authors' strict recipe (see the module docstring).
        aliases: extra spellings, alias -> canonical name (robust mode only).

    Returns:
        the parsed scores by canonical value name, with a status: `ok` (every value answered),
        `repaired` (JSON needed repair), `partial` (some values missing or unreadable), `failed`.
    """
    names = list(value_names)
    obj, repaired = extract_json_object(str(text), paper_compat=paper_compat)
    if obj is None:
        return StatedParse({}, "failed", missing=names)
    lookup = {name_key(n): n for n in names}
    if aliases and not paper_compat:
        lookup.update({name_key(a): c for a, c in aliases.items() if c in names})
    scores: dict[str, float] = {}
    unknown: list[str] = []
    for key, answer in obj.items():
        canonical = lookup.get(name_key(str(key)))
        if canonical is None:
            unknown.append(str(key))
            continue
        score = likert_from_answer(answer, paper_compat=paper_compat)
        if score is not None and canonical not in scores:
            scores[canonical] = score
    missing = [n for n in names if n not in scores]
    status: ParseStatus = (
        "failed" if not scores else "partial" if missing else "repaired" if repaired else "ok"
    )
    return StatedParse(scores, status, missing=missing, unknown_keys=unknown)
