"""VIA (Value-Informed Actions): read the authors' release or our own tidy files into one table.

The release stores each generated action as the generator model's raw answer, which is usually
JSON but sometimes fenced, single-quoted (a Python dict), wrapped in prose, broken by an unescaped
apostrophe, or a refusal. `parse_action_text` recovers the three fields from all of these and
records how it got them, so no row is ever dropped silently.
"""

from __future__ import annotations

import ast
import functools
import io
import json
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import json_repair
import numpy as np
import pandas as pd

from valuelens._errors import ValuelensError
from valuelens.taxonomy import Taxonomy, load_taxonomy
from valuelens.taxonomy._taxonomy import one_line, shown

ParseStatus = Literal["ok", "repaired", "refusal", "failed"]
PARSE_STATUSES: tuple[ParseStatus, ...] = ("ok", "repaired", "refusal", "failed")
USABLE_STATUSES: frozenset[str] = frozenset({"ok", "repaired"})

PAIR_KEYS = ["country", "topic", "value"]
ACTION_KEYS = [*PAIR_KEYS, "polarity"]
VIA_COLUMNS = [
    *ACTION_KEYS,
    "action",
    "attributions",
    "explanation",
    "raw",
    "parse_status",
]
_RELEASE_REQUIRED = frozenset({*ACTION_KEYS, "generation_prompt"})
_TIDY_REQUIRED = frozenset({*ACTION_KEYS, "action"})
_POLARITY_WORDS = {
    "positive": "positive",
    "pos": "positive",
    "+": "positive",
    "negative": "negative",
    "neg": "negative",
    "-": "negative",
}

# ---------------------------------------------------------------------------------------------
# Parsing one generation
# ---------------------------------------------------------------------------------------------

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


def _decode_object(text: str) -> tuple[Mapping[str, Any], bool] | None:
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


def _unwrap(obj: object) -> Mapping[str, Any] | None:
    """The object itself, or the single nested object that carries the action key."""
    if _has_action_key(obj):
        return obj  # type: ignore[return-value]
    if isinstance(obj, dict):
        nested = [v for v in obj.values() if _has_action_key(v)]
        if len(nested) == 1:
            return nested[0]  # type: ignore[no-any-return]
    return None


def _exact_object(text: str, start: int) -> Mapping[str, Any] | None:
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


def _anchored_object(text: str) -> Mapping[str, Any] | None:
    """Cut an object with broken quoting into fields at its known keys."""
    keys = list(_ANCHORED_KEY.finditer(text))
    if not keys:
        return None
    mapping: dict[str, Any] = {}
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


def _repaired_object(text: str) -> Mapping[str, Any] | None:
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


def _pick_fields(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Our field names to their values; the first spelling of a field wins."""
    fields: dict[str, Any] = {}
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


# ---------------------------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------------------------


@dataclass
class _Loaded:
    table: pd.DataFrame
    source_format: Literal["release", "tidy"]
    issues: list[str] = field(default_factory=list)
    n_bad_polarity: int = 0


def load_via(path: str | Path, *, taxonomy: Taxonomy | None = None) -> pd.DataFrame:
    """Read VIA actions into a tidy table, one row per action, in the file's row order.

    Accepts the authors' release CSV (`generation_prompt` column), the release zip that holds
    it, or a table written by `valuelens generate` (CSV or Parquet with an `action` column).

    Args:
        path: the CSV, zip or Parquet file.
        taxonomy: names to canonicalise against (the built-in one by default; pass an extended
            taxonomy for your own countries, topics or values).

    Returns:
        Columns country, topic, value, polarity ('positive'/'negative'), action (str or None),
        attributions (list of str), explanation (str or None), raw (the original answer or
        None) and parse_status ('ok', 'repaired', 'refusal' or 'failed').

    Raises:
        ValuelensError: unreadable file, wrong columns, an unknown name or a bad polarity.
    """
    return _load(Path(path), taxonomy or load_taxonomy(), strict=True).table


def _load(path: Path, taxonomy: Taxonomy, *, strict: bool) -> _Loaded:
    frame = _read_frame(path)
    if frame.empty:
        raise ValuelensError(f"{path.name} holds no rows")
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    columns = set(frame.columns)
    if columns >= _RELEASE_REQUIRED:
        fmt: Literal["release", "tidy"] = "release"
        parsed = _from_release(frame)
    elif columns >= _TIDY_REQUIRED:
        fmt = "tidy"
        parsed = _from_tidy(frame, path)
    else:
        found = ", ".join(shown(c, 40) for c in sorted(columns)[:12])
        raise ValuelensError(
            f"{path.name}: not a VIA table; found columns [{found}], expected "
            f"{sorted(_RELEASE_REQUIRED)} (the authors' release) or {sorted(_TIDY_REQUIRED)} "
            "(valuelens)"
        )
    for axis in ("country", "topic", "value"):
        parsed[axis] = _canonical_names(frame[axis], axis, taxonomy, path)
    polarity, bad = _canonical_polarity(frame["polarity"])
    loaded = _Loaded(parsed, fmt)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        message = (
            f"{int(bad.sum())} rows have a missing or unknown polarity (first: data row "
            f"{first + 1}, {shown(frame['polarity'].iloc[first])}); expected 'positive' or 'negative'"
        )
        if strict:
            raise ValuelensError(f"{path.name}: {message}")
        loaded.issues.append(message)
        loaded.n_bad_polarity = int(bad.sum())
    parsed["polarity"] = polarity
    loaded.table = parsed.loc[~bad, VIA_COLUMNS].reset_index(drop=True)
    return loaded


def _read_frame(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ValuelensError(f"VIA file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".zip":
            return _read_zip(path)
        if suffix in {".parquet", ".pq"}:
            return pd.read_parquet(path)
        return _read_csv(path.read_bytes(), path.name)
    except ValuelensError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ValuelensError(f"cannot read {path.name}: {_first_line(exc)}") from None


def _read_zip(path: Path) -> pd.DataFrame:
    with zipfile.ZipFile(path) as archive:
        members = [
            m
            for m in archive.namelist()
            if m.lower().endswith(".csv") and not m.startswith("__MACOSX/")
        ]
        if not members:
            raise ValuelensError(f"{path.name}: the zip holds no CSV file")
        member = next((m for m in members if "full_data" in m), members[0])
        return _read_csv(archive.read(member), f"{path.name}:{member}")


def _read_csv(data: bytes, name: str) -> pd.DataFrame:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValuelensError(
            f"{name} is not UTF-8 text (bad byte at offset {exc.start}); re-save it as UTF-8"
        ) from None
    if not text.strip():
        raise ValuelensError(f"{name} is empty")
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise ValuelensError(f"{name} is not a readable CSV: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return one_line(lines[0]) if lines else type(exc).__name__


def _from_release(frame: pd.DataFrame) -> pd.DataFrame:
    raws = [_none_if_blank(v) for v in frame["generation_prompt"].tolist()]
    parsed = [parse_action_text(raw) for raw in raws]
    return pd.DataFrame(
        {
            "action": pd.Series([p.action for p in parsed], dtype=object),
            "attributions": pd.Series([p.attributions for p in parsed], dtype=object),
            "explanation": pd.Series([p.explanation for p in parsed], dtype=object),
            "raw": pd.Series(raws, dtype=object),
            "parse_status": pd.Series([p.status for p in parsed], dtype=str),
        }
    )


def _from_tidy(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    n = len(frame)
    actions = [_none_if_blank(v) for v in frame["action"].tolist()]
    column = frame.get("attributions")
    attributions = [
        _spans_from_cell(v) for v in (column.tolist() if column is not None else [None] * n)
    ]
    explanations = _optional_text(frame, "explanation")
    raws = _optional_text(frame, "raw")
    if "parse_status" in frame.columns:
        statuses = [str(s).strip().lower() for s in frame["parse_status"].tolist()]
        unknown = sorted(set(statuses) - set(PARSE_STATUSES))
        if unknown:
            raise ValuelensError(
                f"{path.name}: unknown parse_status {shown(unknown[0])}; expected one of "
                f"{', '.join(PARSE_STATUSES)}"
            )
    else:
        statuses = ["ok" if a else "failed" for a in actions]
    return pd.DataFrame(
        {
            "action": pd.Series(actions, dtype=object),
            "attributions": pd.Series(attributions, dtype=object),
            "explanation": pd.Series(explanations, dtype=object),
            "raw": pd.Series(raws, dtype=object),
            "parse_status": pd.Series(statuses, dtype=str),
        }
    )


def _optional_text(frame: pd.DataFrame, column: str) -> list[str | None]:
    if column not in frame.columns:
        return [None] * len(frame)
    return [_none_if_blank(v) for v in frame[column].tolist()]


def _none_if_blank(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value)
    return text if text.strip() else None


def _spans_from_cell(value: object) -> list[str]:
    """Attributions from a Parquet list, or from a CSV cell holding a JSON/Python list."""
    if isinstance(value, np.ndarray):
        return _as_spans(value.tolist())
    if isinstance(value, list | tuple):
        return _as_spans(value)
    text = _none_if_blank(value)
    if text is None:
        return []
    for reader in (json.loads, ast.literal_eval):
        try:
            decoded = reader(text)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
        return _as_spans(decoded)
    return [text.strip()]


def _canonical_names(
    column: pd.Series, axis: Literal["country", "topic", "value"], taxonomy: Taxonomy, path: Path
) -> pd.Series:
    cells = [_none_if_blank(v) for v in column.tolist()]
    missing = [i for i, c in enumerate(cells) if c is None]
    if missing:
        raise ValuelensError(
            f"{path.name}: {len(missing)} rows have no {axis} (first: data row {missing[0] + 1})"
        )
    names = [c or "" for c in cells]
    try:
        mapping = {name: taxonomy.resolve(axis, name) for name in dict.fromkeys(names)}
    except ValuelensError as exc:
        raise ValuelensError(f"{path.name}: {exc}") from None
    return pd.Series([mapping[n] for n in names], dtype=str)


def _canonical_polarity(column: pd.Series) -> tuple[pd.Series, np.ndarray]:
    words = [
        _POLARITY_WORDS.get(str(v).strip().lower()) if v is not None else None
        for v in column.tolist()
    ]
    bad = np.array([w is None for w in words], dtype=bool)
    return pd.Series([w or "" for w in words], dtype=str), bad


# ---------------------------------------------------------------------------------------------
# Pairs and validation
# ---------------------------------------------------------------------------------------------


def via_pairs(actions: pd.DataFrame) -> pd.DataFrame:
    """One row per (country, topic, value), with its positive and negative action side by side.

    Args:
        actions: a table from `load_via`. Duplicate rows for the same side keep the first.

    Returns:
        Columns country, topic, value, then for each side `positive_`/`negative_` + action,
        attributions, explanation and parse_status, and `complete` (both sides usable). Pairs
        appear in the order of their first action.
    """
    keys = actions[PAIR_KEYS].drop_duplicates().reset_index(drop=True)
    side_fields = ["action", "attributions", "explanation", "parse_status"]
    pairs = keys
    for polarity in ("positive", "negative"):
        side = actions.loc[actions["polarity"] == polarity, [*PAIR_KEYS, *side_fields]]
        side = side.drop_duplicates(PAIR_KEYS).rename(
            columns={name: f"{polarity}_{name}" for name in side_fields}
        )
        pairs = pairs.merge(side, on=PAIR_KEYS, how="left", sort=False)
    for polarity in ("positive", "negative"):
        column = f"{polarity}_attributions"
        pairs[column] = [v if isinstance(v, list) else [] for v in pairs[column].tolist()]
        for name in ("action", "explanation"):
            pairs[f"{polarity}_{name}"] = (
                pairs[f"{polarity}_{name}"]
                .astype(object)
                .where(pairs[f"{polarity}_{name}"].notna(), None)
            )
    pairs["complete"] = _usable(pairs, "positive") & _usable(pairs, "negative")
    return pairs


def _usable(pairs: pd.DataFrame, polarity: str) -> pd.Series:
    status = pairs[f"{polarity}_parse_status"].isin(USABLE_STATUSES)
    return status & pairs[f"{polarity}_action"].notna()


def validate_via(path: str | Path, *, taxonomy: Taxonomy | None = None) -> dict[str, Any]:
    """Check a VIA file and count what it holds.

    Rows with a missing or unknown polarity are counted and reported instead of failing.

    Args:
        path: a file that `load_via` accepts.
        taxonomy: names to canonicalise against (the built-in one by default).

    Returns:
        A JSON-ready dict: `n_actions`, `n_pairs`, `n_complete_pairs`, `n_refusals`,
        `n_parse_failures`, `n_repaired`, `n_pairs_with_refusal`, `n_truncated` (answers cut off
        inside their object, whether repaired or not), `n_pairs_with_parse_failure`,
        `n_pairs_with_truncated_answer` (pairs kept only because a cut-off side was repaired),
        `n_pairs_unusable_strict` (pairs with a refusal, a parse failure or a cut-off answer on a
        side: what a reader without repair, like the authors' Task 2 run, leaves out), duplicate
        and missing-side counts, counts per country and topic, and `issues` (one sentence each).

    Raises:
        ValuelensError: the file cannot be read as a VIA table.
    """
    taxonomy = taxonomy or load_taxonomy()
    loaded = _load(Path(path), taxonomy, strict=False)
    table = loaded.table
    pairs = via_pairs(table)
    status = table["parse_status"]
    duplicates = int(table.duplicated(ACTION_KEYS).sum())
    sides = table.drop_duplicates(ACTION_KEYS).groupby(PAIR_KEYS, sort=False).size()
    refusal_pairs = table.loc[status == "refusal", PAIR_KEYS].drop_duplicates()
    truncated = table["raw"].map(_is_truncated).astype(bool)
    strict = _pairs_where(table, (status == "refusal") | (status == "failed") | truncated)
    report: dict[str, Any] = {
        "path": str(path),
        "format": loaded.source_format,
        "taxonomy_version": taxonomy.version,
        "n_actions": len(table),
        "n_pairs": len(pairs),
        "n_complete_pairs": int(pairs["complete"].sum()),
        "n_expected_pairs": len(taxonomy.country_names)
        * len(taxonomy.topic_names)
        * len(taxonomy.value_names),
        "n_ok": int((status == "ok").sum()),
        "n_repaired": int((status == "repaired").sum()),
        "n_refusals": int((status == "refusal").sum()),
        "n_parse_failures": int((status == "failed").sum()),
        "n_pairs_with_refusal": len(refusal_pairs),
        "n_truncated": int(truncated.sum()),
        "n_pairs_with_parse_failure": len(_pairs_where(table, status == "failed")),
        "n_pairs_with_truncated_answer": len(
            _pairs_where(table, truncated & status.isin(USABLE_STATUSES))
        ),
        "n_pairs_unusable_strict": len(strict),
        "n_pairs_missing_a_side": int((sides < 2).sum()),
        "n_duplicate_actions": duplicates,
        "n_missing_polarity": loaded.n_bad_polarity,
        "n_actions_without_attributions": int(
            sum(
                1
                for a, s in zip(table["attributions"], status, strict=True)
                if s in USABLE_STATUSES and not a
            )
        ),
        "n_attributions_not_in_action": _count_unmatched_spans(table),
        "by_country": _counts_by(table, pairs, "country", taxonomy.country_names),
        "by_topic": _counts_by(table, pairs, "topic", taxonomy.topic_names),
    }
    report["issues"] = loaded.issues + _issue_sentences(report)
    return report


def _is_truncated(raw: object) -> bool:
    """An answer cut off inside its object: it opens more braces than it closes."""
    return isinstance(raw, str) and "{" in raw and raw.count("{") > raw.count("}")


def _pairs_where(table: pd.DataFrame, rows: pd.Series) -> pd.DataFrame:
    """The distinct pairs with at least one of the given rows."""
    return table.loc[rows.to_numpy(), PAIR_KEYS].drop_duplicates()


def _count_unmatched_spans(table: pd.DataFrame) -> int:
    """Usable actions with at least one attribution span that is not in the action text."""
    count = 0
    for action, spans in zip(table["action"], table["attributions"], strict=True):
        if isinstance(action, str) and spans:
            lowered = action.lower()
            count += any(span.lower() not in lowered for span in spans)
    return count


def _counts_by(
    table: pd.DataFrame, pairs: pd.DataFrame, axis: str, order: Iterable[str]
) -> dict[str, dict[str, int]]:
    actions = table.groupby(axis, sort=False).size()
    refusals = table.loc[table["parse_status"] == "refusal"].groupby(axis, sort=False).size()
    complete = pairs.groupby(axis, sort=False)["complete"].sum()
    return {
        name: {
            "n_actions": int(actions.get(name, 0)),
            "n_refusals": int(refusals.get(name, 0)),
            "n_complete_pairs": int(complete.get(name, 0)),
        }
        for name in order
        if name in actions.index
    }


def _issue_sentences(report: Mapping[str, Any]) -> list[str]:
    checks = [
        ("n_duplicate_actions", "rows that repeat an earlier (country, topic, value, polarity)"),
        ("n_pairs_missing_a_side", "pairs with only one polarity"),
        ("n_pairs_with_refusal", "pairs with a refusal on at least one side"),
        ("n_parse_failures", "answers that could not be parsed"),
        ("n_truncated", "answers cut off before their object closes"),
        ("n_repaired", "answers that needed repair (broken quoting or JSON)"),
        ("n_actions_without_attributions", "parsed actions without feature attributions"),
        ("n_attributions_not_in_action", "actions with an attribution span not found in the text"),
    ]
    sentences = [f"{text}: {report[key]}" for key, text in checks if report[key]]
    if report["n_pairs_with_truncated_answer"]:
        sentences.append(_strict_reading_sentence(report))
    return sentences


def _strict_reading_sentence(report: Mapping[str, Any]) -> str:
    """Why a strict reader (the authors' Task 2 run) leaves out more pairs than the refusals."""
    return (
        f"pairs a strict reader leaves out: {report['n_pairs_unusable_strict']} (with a refusal, "
        f"an unreadable answer or a cut-off answer on one side; the authors' Task 2 skipped such "
        f"pairs); valuelens repairs the cut-off answer of "
        f"{report['n_pairs_with_truncated_answer']} of them and scores those pairs"
    )
