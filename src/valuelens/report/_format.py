"""How the report writes things: numbers, headline cards, taxonomy labels and embedded JSON.

Headline cards come from the measures table (`valuelens.metrics.headline_measures`), so a card's
label, format and description are the ones the terminal summary uses.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from markupsafe import Markup

from valuelens.metrics import Measure, Summary, format_number, headline_measures, measures
from valuelens.taxonomy import Taxonomy

_JSON_SCRIPT_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_JSON_SCRIPT_RE = re.compile("[<>&\u2028\u2029]")


def embed_json(data: object) -> Markup:
    r"""JSON that is safe inside a `<script type="application/json">` element.

    `<`, `>` and `&` are written as \\u escapes so no model text can close the element or open a
    comment; U+2028/2029 are escaped for old JavaScript parsers. NaN becomes null.
    """
    try:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:  # NaN or infinity somewhere: take the slow path that replaces them
        text = json.dumps(
            _json_safe(data), ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )
    return Markup(_JSON_SCRIPT_RE.sub(lambda m: _JSON_SCRIPT_ESCAPES[m.group(0)], text))


def _json_safe(data: object) -> object:
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {str(k): _json_safe(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_json_safe(v) for v in data]
    return data


@dataclass
class Headline:
    """One number on a headline card."""

    label: str
    value: str
    detail: str = ""
    hint: str = ""


def headlines(summary: Summary, kind: str) -> list[Headline]:
    """One card per headline measure of `kind` (optional ones only when the run has them)."""
    return [_headline(m, summary, kind) for m in headline_measures(kind) if m.shown_for(summary)]


def _headline(m: Measure, summary: Summary, kind: str) -> Headline:
    value = m.value_in(summary)
    detail = m.interval_text(summary) or _share(m, value, summary, kind) or m.note
    return Headline(m.title, m.format_value(value), detail, m.description)


def _share(m: Measure, value: float | None, summary: Summary, kind: str) -> str:
    """E.g. 'of 7,212 pairs scored (12.4%)' for a count that is part of another."""
    if m.of_key is None:
        return ""
    whole = next((w for w in measures(kind) if w.key == m.of_key), None)
    total = whole.value_in(summary) if whole else None
    if total is None:
        return ""
    share = f" ({100 * value / total:.1f}%)" if value is not None and total else ""
    return f"of {format_number(total, 'int')} {whole.label if whole else m.of_key}{share}"


def num(x: object, digits: int = 3) -> str:
    """A number with `digits` decimals; a dash when it is missing."""
    return format_number(x, f".{digits}f")


def integer(x: object) -> str:
    """A count with thousands separators; a dash when it is missing."""
    return format_number(x, "int")


def percent(x: object) -> str:
    """A share as a percentage with one decimal; a dash when it is missing."""
    return format_number(x, "percent")


def axis_labels(taxonomy: Taxonomy, axis: str, names: Iterable[str]) -> list[str]:
    """Display labels of countries or topics (other names are shown as they are)."""
    if axis in ("country", "topic"):
        return [taxonomy.label(axis, n) for n in names]  # type: ignore[arg-type]
    return list(names)


def slug(text: str) -> str:
    """`text` as a lower-case id fragment."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"
