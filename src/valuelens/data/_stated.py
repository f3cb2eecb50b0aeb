"""Import of Task 1 stated answers, in the authors' raw format or our tidy one.

Example:
    >>> from valuelens.data import load_stated  # doctest: +SKIP
    >>> stated = load_stated("task1_results_gpt_35_turbo.csv")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from valuelens.data._io import read_table, require_columns
from valuelens.data._likert import likert_from_answer, parse_stated_response
from valuelens.data._rows import (
    PAIR_KEYS,
    Duplicates,
    canonical_axes,
    check_policy,
    settle_repeats,
    to_numbers,
    variant_ids,
)
from valuelens.taxonomy import Taxonomy, load_taxonomy

STATED_COLUMNS = ["country", "topic", "value", "variant", "likert", "parse_status"]


def load_stated(
    path: str | Path,
    *,
    taxonomy: Taxonomy | None = None,
    paper_compat: bool = False,
    duplicates: Duplicates = "error",
) -> pd.DataFrame:
    """Load Task 1 answers as a long table, one row per (country, topic, value, variant).

    Accepts the authors' raw format (columns country, topic, response, prompt_index; one JSON
    reply with all values per row) or a tidy table (country, topic, value, variant, likert) such as
    `responses_stated` from `valuelens evaluate`. In the raw format a reply that yields no value
    still appears, with likert NaN for every value and parse_status `failed`. In a tidy table a
    likert that is not a number (nor a Likert word such as "agree") becomes NaN with parse_status
    `failed`.

    Args:
        path: the file (CSV, Parquet or JSON lines).
        taxonomy: the axes to resolve names against (default: the built-in taxonomy).
        paper_compat: parse replies with the authors' strict recipe.
        duplicates: what to do with a (country, topic, prompt_index) that appears more than once
            (tidy: a repeated (country, topic, value, variant)): `error` (default), keep the
            `first` or the `last`, or count each repeat as one more `variants`.

    Returns:
        columns country, topic, value, variant, likert (float, NaN when unanswered), parse_status.

    Raises:
        ValuelensError: one line naming the file and data row, for unreadable files, unknown
            names, variants that are not whole numbers and (by default) repeated rows.
    """
    taxonomy = taxonomy or load_taxonomy()
    path = Path(path)
    what = "Task 1 responses"
    check_policy(duplicates)
    table = read_table(path, what=what).reset_index(drop=True)
    if "response" in table.columns:
        require_columns(table, ["country", "topic", "response"], what=what, path=path)
        table = canonical_axes(table.copy(), taxonomy, ("country", "topic"), path, what)
        table["variant"] = variant_ids(table, "prompt_index", path, what)
        table = settle_repeats(
            table, ["country", "topic", "variant"], duplicates, path, what, "prompt_index"
        )
        return _explode_raw_stated(table, taxonomy, paper_compat=paper_compat)
    require_columns(table, ["country", "topic", "value", "likert"], what=what, path=path)
    table = canonical_axes(table.copy(), taxonomy, ("country", "topic", "value"), path, what)
    table["variant"] = variant_ids(table, "variant", path, what)
    table = settle_repeats(table, [*PAIR_KEYS, "variant"], duplicates, path, what, "variant")
    likert = _tidy_likert(table["likert"], paper_compat=paper_compat)
    status = pd.Series(np.where(likert.isna(), "failed", "ok"), index=table.index, dtype=object)
    if "parse_status" in table.columns:
        given = table["parse_status"].astype(object)
        keep = given.notna() & ~(likert.isna() & given.isin(["ok", "repaired"]))
        status = given.where(keep, status).astype(str)
    table["likert"] = likert
    table["parse_status"] = status
    return table[STATED_COLUMNS].reset_index(drop=True)


def _tidy_likert(column: pd.Series, *, paper_compat: bool) -> pd.Series:
    """Numbers as they are (robust mode: only 1..4), Likert words mapped, anything else NaN."""
    numbers = to_numbers(column)
    words = numbers.isna() & column.notna()
    if words.any():
        mapped = [
            likert_from_answer(str(text), paper_compat=paper_compat) for text in column[words]
        ]
        numbers[words] = np.array([np.nan if m is None else m for m in mapped], dtype=float)
    numbers = numbers.astype(float)
    readable = np.isfinite(numbers) if paper_compat else numbers.between(1.0, 4.0)
    return numbers.where(readable)


def _explode_raw_stated(
    table: pd.DataFrame, taxonomy: Taxonomy, *, paper_compat: bool
) -> pd.DataFrame:
    values = taxonomy.value_names
    n_rows, n_values = len(table), len(values)
    likert = np.full((n_rows, n_values), np.nan)
    statuses = []
    for i, text in enumerate(table["response"].astype(object).fillna("").astype(str)):
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
            "variant": np.repeat(table["variant"].to_numpy(), n_values),
            "likert": likert.ravel(),
            "parse_status": np.repeat(np.asarray(statuses, dtype=object), n_values),
        }
    )
