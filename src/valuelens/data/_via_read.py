"""Reading VIA (Value-Informed Actions) files, the authors' release or our own, into one table.

The release CSV (or its zip) holds each action as the generator model's raw answer, parsed here
with `parse_action_text`; a table written by `valuelens generate` holds the fields already.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from valuelens._errors import ValuelensError
from valuelens.data import _via_cache
from valuelens.data._io import canonical_column, read_table, text_or_none
from valuelens.data._via_parse import PARSE_STATUSES, parse_action_text, parse_attributions
from valuelens.taxonomy import Taxonomy, load_taxonomy
from valuelens.taxonomy._taxonomy import shown

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


@dataclass
class Loaded:
    """A VIA file as read: its table, its layout and what a lenient read let through."""

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
    return load_table(Path(path), taxonomy or load_taxonomy(), strict=True).table


def load_table(path: Path, taxonomy: Taxonomy, *, strict: bool) -> Loaded:
    """Read and canonicalise a VIA file; with `strict=False` bad polarities are counted, not fatal.

    A large file is parsed once: later reads of the same bytes with the same taxonomy come from
    its parsed copy in the cache folder (`valuelens.data._via_cache`).
    """
    copy = _via_cache.copy_path(path, taxonomy)
    cached = _via_cache.read_copy(copy) if copy is not None else None
    if cached is not None:
        table, layout, issues, n_bad = cached
        loaded = Loaded(table, layout, issues, n_bad)
    else:
        loaded = _parse_file(path, taxonomy)
        if copy is not None:
            parsed = (loaded.table, loaded.source_format, loaded.issues, loaded.n_bad_polarity)
            _via_cache.write_copy(copy, parsed)
    if strict and loaded.n_bad_polarity:
        raise ValuelensError(f"{path.name}: {loaded.issues[0]}")
    return loaded


def _parse_file(path: Path, taxonomy: Taxonomy) -> Loaded:
    """Read and canonicalise a VIA file, counting rows with a bad polarity (in `issues`)."""
    frame = _read_frame(path)
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    fmt, parsed = _parse_frame(frame, path)
    resolvers = {
        "country": taxonomy.resolve_country,
        "topic": taxonomy.resolve_topic,
        "value": taxonomy.resolve_value,
    }
    for axis, resolve in resolvers.items():
        names = canonical_column(frame[axis], resolve, where=path.name, what=axis)
        parsed[axis] = names.astype(str)
    polarity, bad = _canonical_polarity(frame["polarity"])
    loaded = Loaded(parsed, fmt)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        loaded.issues.append(
            f"{int(bad.sum())} rows have a missing or unknown polarity (first: data row "
            f"{first + 1}, {shown(frame['polarity'].iloc[first])}); expected 'positive' or 'negative'"
        )
        loaded.n_bad_polarity = int(bad.sum())
    parsed["polarity"] = polarity
    loaded.table = parsed.loc[~bad, VIA_COLUMNS].reset_index(drop=True)
    return loaded


def _read_frame(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ValuelensError(f"VIA file not found: {path}")
    return read_table(path, what="VIA file", text=True, zip_member="full_data")


def _parse_frame(
    frame: pd.DataFrame, path: Path
) -> tuple[Literal["release", "tidy"], pd.DataFrame]:
    """The file's layout and its action fields, read from whichever layout it has."""
    columns = set(frame.columns)
    if columns >= _RELEASE_REQUIRED:
        return "release", _from_release(frame)
    if columns >= _TIDY_REQUIRED:
        return "tidy", _from_tidy(frame, path)
    found = ", ".join(shown(c, 40) for c in sorted(columns)[:12])
    raise ValuelensError(
        f"{path.name}: not a VIA table; found columns [{found}], expected "
        f"{sorted(_RELEASE_REQUIRED)} (the authors' release) or {sorted(_TIDY_REQUIRED)} "
        "(valuelens)"
    )


def _from_release(frame: pd.DataFrame) -> pd.DataFrame:
    raws = [text_or_none(v) for v in frame["generation_prompt"].tolist()]
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
    actions = [text_or_none(v) for v in frame["action"].tolist()]
    column = frame.get("attributions")
    attributions = [
        parse_attributions(v) for v in (column.tolist() if column is not None else [None] * n)
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
    return [text_or_none(v) for v in frame[column].tolist()]


def _canonical_polarity(column: pd.Series) -> tuple[pd.Series, np.ndarray]:
    words = [
        _POLARITY_WORDS.get(str(v).strip().lower()) if v is not None else None
        for v in column.tolist()
    ]
    bad = np.array([w is None for w in words], dtype=bool)
    return pd.Series([w or "" for w in words], dtype=str), bad
