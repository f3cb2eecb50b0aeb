"""Import of model outputs: Task 1 stated answers and Task 2 choices, in the authors' or our format."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from valuelens._errors import ValuelensError
from valuelens.data._io import read_table, require_columns
from valuelens.data._likert import parse_stated_response
from valuelens.prompts._variants import ACTION_VARIANTS
from valuelens.taxonomy import Taxonomy, load_taxonomy

STATED_COLUMNS = ["country", "topic", "value", "variant", "likert", "parse_status"]
CHOICE_COLUMNS = ["country", "topic", "value", "variant", "choice"]
_CHOICE_ALIASES = ("choice", "t2_chosen_polarity")
_WIDE_PREFIX = "evaluation_"
_OPTION = re.compile(r"option\s*([12])", re.IGNORECASE)


def _canonical_axes(
    table: pd.DataFrame, taxonomy: Taxonomy, axes: tuple[str, ...], path: Path, what: str
) -> pd.DataFrame:
    """Canonicalise names column by column (each distinct name is resolved once)."""
    for axis in axes:
        if table[axis].isna().any():
            row = int(np.flatnonzero(table[axis].isna().to_numpy())[0])
            raise ValuelensError(f"{what}: {path} has an empty {axis} (data row {row + 1})")
        mapping = {name: taxonomy.resolve(axis, str(name)) for name in table[axis].unique()}  # type: ignore[arg-type]
        table[axis] = table[axis].map(mapping)
    return table


def load_stated(
    path: str | Path, *, taxonomy: Taxonomy | None = None, paper_compat: bool = False
) -> pd.DataFrame:
    """Load Task 1 answers as a long table, one row per (country, topic, value, variant).

    Accepts the authors' raw format (columns country, topic, response, prompt_index; one JSON
    reply with all values per row) or a tidy table (country, topic, value, variant, likert) such as
    `responses_stated` from `valuelens evaluate`. In the raw format a reply that yields no value
    still appears, with likert NaN for every value and parse_status `failed`.

    Returns:
        columns country, topic, value, variant, likert (float, NaN when unanswered), parse_status.
    """
    taxonomy = taxonomy or load_taxonomy()
    path = Path(path)
    what = "Task 1 responses"
    table = read_table(path, what=what)
    if "response" in table.columns:
        require_columns(table, ["country", "topic", "response"], what=what, path=path)
        table = _canonical_axes(table, taxonomy, ("country", "topic"), path, what)
        return _explode_raw_stated(table, taxonomy, paper_compat=paper_compat)
    require_columns(table, ["country", "topic", "value", "likert"], what=what, path=path)
    table = _canonical_axes(table.copy(), taxonomy, ("country", "topic", "value"), path, what)
    if "variant" not in table.columns:
        table["variant"] = 0
    if "parse_status" not in table.columns:
        table["parse_status"] = np.where(table["likert"].isna(), "failed", "ok")
    table["likert"] = pd.to_numeric(table["likert"], errors="coerce")
    return table[STATED_COLUMNS].reset_index(drop=True)


def _explode_raw_stated(
    table: pd.DataFrame, taxonomy: Taxonomy, *, paper_compat: bool
) -> pd.DataFrame:
    values = taxonomy.value_names
    variants = (
        table["prompt_index"]
        if "prompt_index" in table.columns
        else pd.Series(0, index=table.index)
    )
    n_rows, n_values = len(table), len(values)
    likert = np.full((n_rows, n_values), np.nan)
    statuses = []
    for i, text in enumerate(table["response"].fillna("").astype(str)):
        parsed = parse_stated_response(text, values, paper_compat=paper_compat)
        statuses.append(parsed.status)
        for j, name in enumerate(values):
            if name in parsed.scores:
                likert[i, j] = parsed.scores[name]
    return pd.DataFrame(
        {
            "country": np.repeat(table["country"].to_numpy(), n_values),
            "topic": np.repeat(table["topic"].to_numpy(), n_values),
            "value": np.tile(np.asarray(values, dtype=object), n_rows),
            "variant": np.repeat(variants.to_numpy(), n_values),
            "likert": likert.ravel(),
            "parse_status": np.repeat(np.asarray(statuses, dtype=object), n_values),
        }
    )


def load_choices(path: str | Path, *, taxonomy: Taxonomy | None = None) -> pd.DataFrame:
    """Load Task 2 choices: columns country, topic, value and `choice` (or `t2_chosen_polarity`).

    A choice is `positive`, `negative` or empty (no answer). An optional `variant` column keeps
    several prompt variants apart. The authors' prompt-robustness files (one row per pair,
    `evaluation_0` ... `evaluation_7` holding each variant's answer, such as
    `{'action': 'Option 1'}`) are read too, with the option order of `ACTION_VARIANTS`.

    Returns:
        columns country, topic, value, variant, choice ('positive' | 'negative' | None).
    """
    taxonomy = taxonomy or load_taxonomy()
    path = Path(path)
    what = "Task 2 choices"
    table = read_table(path, what=what)
    if f"{_WIDE_PREFIX}0" in table.columns:
        require_columns(table, ["country", "topic", "value"], what=what, path=path)
        table = _canonical_axes(table.copy(), taxonomy, ("country", "topic", "value"), path, what)
        return _explode_variant_choices(table)
    column = next((c for c in _CHOICE_ALIASES if c in table.columns), None)
    if column is None:
        require_columns(table, ["country", "topic", "value", "choice"], what=what, path=path)
    require_columns(table, ["country", "topic", "value"], what=what, path=path)
    table = _canonical_axes(table.copy(), taxonomy, ("country", "topic", "value"), path, what)
    raw = table[column].fillna("").astype(str).str.strip().str.lower()
    bad = ~raw.isin(["positive", "negative", "", "nan", "none"])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValuelensError(
            f"{what}: {path} row {row + 1}: choice {table[column].iloc[row]!r} is not "
            "'positive', 'negative' or empty"
        )
    table["choice"] = pd.Series(
        [c if c in ("positive", "negative") else None for c in raw], index=table.index, dtype=object
    )
    if "variant" not in table.columns:
        table["variant"] = 0
    return table[CHOICE_COLUMNS].reset_index(drop=True)


def _explode_variant_choices(table: pd.DataFrame) -> pd.DataFrame:
    """One row per pair and variant from the authors' wide robustness layout."""
    variants = [v for v in ACTION_VARIANTS if f"{_WIDE_PREFIX}{v.id}" in table.columns]
    parts = []
    for variant in variants:
        answers = table[f"{_WIDE_PREFIX}{variant.id}"].astype(object).fillna("").astype(str)
        parts.append(
            table[["country", "topic", "value"]].assign(
                variant=variant.id,
                choice=pd.Series(
                    [_chosen_polarity(text, variant.option1_polarity) for text in answers],
                    index=table.index,
                    dtype=object,
                ),
            )
        )
    return pd.concat(parts, ignore_index=True)[CHOICE_COLUMNS]


def _chosen_polarity(answer: str, option1_polarity: str) -> str | None:
    """'positive'/'negative' from an answer naming Option 1 or 2 under its `action` key."""
    action = re.search(r"""["']action["']\s*:\s*["']([^"']*)["']""", answer)
    found = _OPTION.search(action.group(1) if action else answer)
    if found is None:
        return None
    other = "positive" if option1_polarity == "negative" else "negative"
    return option1_polarity if found.group(1) == "1" else other
