"""Import of Task 2 choices, in the authors' prompt-robustness layout or our long one.

Every importer reads a whole file or fails with one line naming the file and the data row (data
row 1 is the first row under the header). Repeated rows are an error unless the caller picks a
policy (`duplicates`): keep the first, keep the last, or count each repeat as one more variant.

Example:
    >>> from valuelens.data import load_choices  # doctest: +SKIP
    >>> choices = load_choices("task2_results_gpt_35_turbo.csv")  # doctest: +SKIP
    >>> choices.attrs["layout"], choices["parse_status"].value_counts()["ok"]  # doctest: +SKIP
    ('robustness', 400)
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from valuelens._errors import ValuelensError
from valuelens.data._io import is_blank, read_table, require_columns, short_repr
from valuelens.data._rows import (
    PAIR_KEYS,
    Duplicates,
    canonical_axes,
    check_policy,
    settle_repeats,
    to_numbers,
    variant_ids,
)
from valuelens.data._via_parse import is_refusal
from valuelens.prompts._variants import ACTION_VARIANTS, DEFAULT_VARIANTS
from valuelens.taxonomy import Taxonomy, load_taxonomy

ChoiceStatus = Literal["ok", "repaired", "refused", "both", "failed", "missing"]
ChoicesLayout = Literal["long", "robustness"]

CHOICE_COLUMNS = ["country", "topic", "value", "variant", "choice", "raw", "parse_status"]
_AUTHORS_CHOICE = "t2_chosen_polarity"
_CHOICE_ALIASES = ("choice", _AUTHORS_CHOICE)
# The authors ran Task 2 on variant 5 only; their per-pair files have no variant column.
_AUTHORS_VARIANT = DEFAULT_VARIANTS["action"][0]
_WIDE_PREFIX = "evaluation_"
_ANSWER_KEYS = ("action", "choice", "answer", "option")
_MAX_DECODE_CHARS = 20_000  # longer cells are searched with a regex, never decoded
# "Option 2", "option 2: I would ...", "2", "2.", "(1)": the answer opens with one option.
_LEADING_OPTION = re.compile(r"^\(?(?:option\s*)?([12])\)?(?:\s*$|\s*[:.)\-\u2013\u2014,]|\s+-)")
_OPTION_MENTION = re.compile(r"\boption\s*([12])\b")
_BOTH = re.compile(r"^(?:both\b|option\s*1\s*(?:and|&|,)\s*option\s*2\b|1\s*(?:and|&|,)\s*2$)")
_NEITHER = re.compile(r"^(?:neither|none)\b")
_ACTION_FIELD = re.compile(
    r"""["'](?:action|choice|answer|option)["']\s*:\s*"""
    r"""(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(-?\d+(?:\.\d+)?))""",
    re.IGNORECASE,
)
_SPACES = re.compile(r"\s+")


def load_choices(
    path: str | Path, *, taxonomy: Taxonomy | None = None, duplicates: Duplicates = "error"
) -> pd.DataFrame:
    """Load Task 2 choices: columns country, topic, value and `choice` (or `t2_chosen_polarity`).

    A choice is `positive`, `negative` or empty (no answer). An optional `variant` column keeps
    several prompt variants apart; the authors' files (`t2_chosen_polarity`, no `variant`)
    hold Task 2 variant 5, the only one the paper ran, and get that id. The authors'
    prompt-robustness files (one row per pair,
    `evaluation_0` ... `evaluation_7` holding each variant's answer, such as
    `{'action': 'Option 1'}`, `{'action': '2'}` or `{'action': 2}`) are read too, with the
    option order of `ACTION_VARIANTS` (the file's `option1` is the negative action; variants 2,
    3, 6 and 7 showed it second). An answer that names no single option is kept: `raw` holds it
    and `parse_status` says why it has no choice (`refused`, `both`, `failed`, `missing`).

    The table's `attrs["layout"]` is `robustness` for the authors' layout (a sample of pairs) and
    `long` otherwise.

    Args:
        path: the file (CSV, Parquet or JSON lines).
        taxonomy: the axes to resolve names against (default: the built-in taxonomy).
        duplicates: what to do with a (country, topic, value, variant) that appears more than once
            (robustness layout: a repeated pair): `error` (default), keep the `first` or the
            `last`, or count each repeat as one more `variants` (a repeat gets its own variant id).

    Returns:
        columns country, topic, value, variant, choice ('positive' | 'negative' | None), raw (the
        answer as written) and parse_status (`ok`, `repaired`, `refused`, `both`, `failed`,
        `missing`; a file's own `raw` and `parse_status` columns are kept), plus `p_negative`
        when the file has it (`valuelens evaluate --scoring logprob`).

    Raises:
        ValuelensError: one line naming the file and data row, for unreadable files, unknown
            names, choices that are not positive/negative/empty, variants that are not whole
            numbers and (by default) repeated rows.
    """
    taxonomy = taxonomy or load_taxonomy()
    path = Path(path)
    what = "Task 2 choices"
    check_policy(duplicates)
    table = read_table(path, what=what).reset_index(drop=True)
    layout: ChoicesLayout = "robustness" if f"{_WIDE_PREFIX}0" in table.columns else "long"
    if layout == "robustness":
        require_columns(table, PAIR_KEYS, what=what, path=path)
        table = canonical_axes(table.copy(), taxonomy, tuple(PAIR_KEYS), path, what)
        table = settle_repeats(table, PAIR_KEYS, duplicates, path, what, None)
        choices = _explode_variant_choices(table)
    else:
        choices = _long_choices(table, taxonomy, duplicates, path, what)
    choices.attrs["layout"] = layout
    return choices


def _long_choices(
    table: pd.DataFrame, taxonomy: Taxonomy, duplicates: Duplicates, path: Path, what: str
) -> pd.DataFrame:
    column = next((c for c in _CHOICE_ALIASES if c in table.columns), None)
    require_columns(table, PAIR_KEYS, what=what, path=path)
    if column is None:
        found = ", ".join(map(str, table.columns[:12]))
        raise ValuelensError(
            f"{what}: {path} lacks column choice (t2_chosen_polarity is also accepted, or "
            f"evaluation_0 ... evaluation_7 for the authors' robustness layout; found: {found})"
        )
    authors_file = column == _AUTHORS_CHOICE and "variant" not in table.columns
    table = canonical_axes(table.copy(), taxonomy, tuple(PAIR_KEYS), path, what)
    table["variant"] = variant_ids(table, "variant", path, what)
    if authors_file:
        table["variant"] += _AUTHORS_VARIANT
    table = settle_repeats(table, [*PAIR_KEYS, "variant"], duplicates, path, what, "variant")
    raw = table[column].astype(object).fillna("").astype(str).str.strip()
    folded = raw.str.lower()
    bad = ~folded.isin(["positive", "negative", "", "nan", "none"])
    if bad.any():
        row = int(table.index[np.flatnonzero(bad.to_numpy())[0]])
        raise ValuelensError(
            f"{what}: {path} data row {row + 1}: {column} {short_repr(table[column].loc[row])} is not "
            "'positive', 'negative' or empty"
        )
    answered = folded.isin(["positive", "negative"])
    table["choice"] = pd.Series(
        [text if ok else None for text, ok in zip(folded, answered, strict=True)],
        index=table.index,
        dtype=object,
    )
    # A `responses_action` table of `valuelens evaluate` brings its own raw text, parse status
    # and option probabilities (`p_negative`, read from log-probabilities): keep them.
    computed = pd.Series(np.where(answered, "ok", "missing"), index=table.index, dtype=object)
    table["raw"] = table["raw"].astype(object).fillna("").astype(str) if "raw" in table else raw
    if "parse_status" in table.columns:
        given = table["parse_status"].astype(object)
        table["parse_status"] = given.where(given.notna(), computed).astype(str)
    else:
        table["parse_status"] = computed
    extra = ["p_negative"] if "p_negative" in table.columns else []
    if extra:
        table["p_negative"] = to_numbers(table["p_negative"])
    return table[CHOICE_COLUMNS + extra].reset_index(drop=True)


def _explode_variant_choices(table: pd.DataFrame) -> pd.DataFrame:
    """One row per pair and variant from the authors' wide robustness layout."""
    variants = [v for v in ACTION_VARIANTS if f"{_WIDE_PREFIX}{v.id}" in table.columns]
    parts = []
    for variant in variants:
        cells = table[f"{_WIDE_PREFIX}{variant.id}"].astype(object)
        parsed = [parse_option_answer(cell) for cell in cells]
        other = "positive" if variant.option1_polarity == "negative" else "negative"
        parts.append(
            table[[*PAIR_KEYS, "variant"]].assign(
                variant=table["variant"] + variant.id,
                choice=pd.Series(
                    [
                        None if p.option is None else variant.option1_polarity
                        if p.option == 1 else other
                        for p in parsed
                    ],
                    index=table.index,
                    dtype=object,
                ),
                raw=["" if is_blank(cell) else str(cell) for cell in cells],
                parse_status=[p.status for p in parsed],
            )
        )  # fmt: skip
    return pd.concat(parts, ignore_index=True)[CHOICE_COLUMNS]


@dataclass(frozen=True)
class OptionAnswer:
    """The option (1 or 2) a Task 2 answer names, or None, and how it was read."""

    option: int | None
    status: ChoiceStatus


def parse_option_answer(cell: object) -> OptionAnswer:
    """Read one answer of the authors' robustness files (`{'action': 'Option 1'}` and kin).

    The cell may be a stringified dict (Python or JSON quoting, with or without an explanation)
    whose `action` is "Option 1", "1", 1, "option 2" ..., or a bare answer. An answer that opens
    with one option is `ok`; a free text that mentions exactly one option is `repaired`; "Both",
    refusals ("I cannot select an option ...", "Neither ..."), empty cells and anything else
    have no option and the status `both`, `refused`, `missing` or `failed`. Never raises.

    Args:
        cell: the cell as read from the file (a string, a number, or NaN).

    Returns:
        The option number (None when the answer names none) and the parse status.
    """
    if is_blank(cell):
        return OptionAnswer(None, "missing")
    answer = _answer_field(cell)
    if answer is None or isinstance(answer, bool):
        return OptionAnswer(None, "failed")
    if isinstance(answer, int | float):
        return OptionAnswer(int(answer), "ok") if answer in (1, 2) else OptionAnswer(None, "failed")
    text = _SPACES.sub(" ", str(answer)).strip().strip("\"'`*").strip().casefold()
    if not text:
        return OptionAnswer(None, "missing")
    if _BOTH.match(text):
        return OptionAnswer(None, "both")
    leading = _LEADING_OPTION.match(text)
    if leading:
        return OptionAnswer(int(leading.group(1)), "ok")
    if _NEITHER.match(text) or is_refusal(text):
        return OptionAnswer(None, "refused")
    mentioned = {m.group(1) for m in _OPTION_MENTION.finditer(text)}
    if len(mentioned) == 1:
        return OptionAnswer(int(mentioned.pop()), "repaired")
    return OptionAnswer(None, "both" if len(mentioned) == 2 else "failed")


def _answer_field(cell: object) -> object:
    """The `action` entry of a stringified dict, or the whole cell when it is not one."""
    if not isinstance(cell, str):
        return cell
    text = cell.strip()
    if text.startswith("{") and len(text) <= _MAX_DECODE_CHARS:
        decoded = _decode_dict(text)
        if decoded is not None:
            keys = {str(k).strip().casefold(): v for k, v in decoded.items()}
            return next((keys[k] for k in _ANSWER_KEYS if k in keys), None)
    if text.startswith("{"):
        found = _ACTION_FIELD.search(text)
        if found is None:
            return None
        quoted = found.group(1) if found.group(1) is not None else found.group(2)
        return quoted if quoted is not None else float(found.group(3))
    return text


def _decode_dict(text: str) -> dict[Any, Any] | None:
    """A dict written as JSON or as a Python literal (never evaluated as code)."""
    for decode in (json.loads, ast.literal_eval):
        try:
            decoded = decode(text)
        except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError):
            continue
        if isinstance(decoded, dict):
            return decoded
    return None
