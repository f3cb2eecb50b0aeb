"""Import of model outputs: Task 1 stated answers and Task 2 choices, in the authors' or our format.

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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from valuelens._errors import UnknownNameError, ValuelensError
from valuelens.data._io import read_table, require_columns
from valuelens.data._likert import likert_from_answer, parse_stated_response
from valuelens.data._via import is_refusal
from valuelens.prompts._variants import ACTION_VARIANTS
from valuelens.taxonomy import Taxonomy, load_taxonomy

Duplicates = Literal["error", "first", "last", "variants"]
DUPLICATE_POLICIES: tuple[Duplicates, ...] = get_args(Duplicates)
ChoiceStatus = Literal["ok", "repaired", "refused", "both", "failed", "missing"]
ChoicesLayout = Literal["long", "robustness"]

STATED_COLUMNS = ["country", "topic", "value", "variant", "likert", "parse_status"]
CHOICE_COLUMNS = ["country", "topic", "value", "variant", "choice", "raw", "parse_status"]
PAIR_KEYS = ["country", "topic", "value"]
_CHOICE_ALIASES = ("choice", "t2_chosen_polarity")
_WIDE_PREFIX = "evaluation_"
_ANSWER_KEYS = ("action", "choice", "answer", "option")
_MAX_DECODE_CHARS = 20_000  # longer cells are searched with a regex, never decoded
_MAX_VARIANT = 1_000_000
_MAX_NAME_IN_MESSAGE = 60

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
    _check_policy(duplicates)
    table = read_table(path, what=what).reset_index(drop=True)
    if "response" in table.columns:
        require_columns(table, ["country", "topic", "response"], what=what, path=path)
        table = _canonical_axes(table.copy(), taxonomy, ("country", "topic"), path, what)
        table["variant"] = _variant_ids(table, "prompt_index", path, what)
        table = _settle_repeats(
            table, ["country", "topic", "variant"], duplicates, path, what, "prompt_index"
        )
        return _explode_raw_stated(table, taxonomy, paper_compat=paper_compat)
    require_columns(table, ["country", "topic", "value", "likert"], what=what, path=path)
    table = _canonical_axes(table.copy(), taxonomy, ("country", "topic", "value"), path, what)
    table["variant"] = _variant_ids(table, "variant", path, what)
    table = _settle_repeats(table, [*PAIR_KEYS, "variant"], duplicates, path, what, "variant")
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
    numbers = _to_numbers(column)
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


def load_choices(
    path: str | Path, *, taxonomy: Taxonomy | None = None, duplicates: Duplicates = "error"
) -> pd.DataFrame:
    """Load Task 2 choices: columns country, topic, value and `choice` (or `t2_chosen_polarity`).

    A choice is `positive`, `negative` or empty (no answer). An optional `variant` column keeps
    several prompt variants apart. The authors' prompt-robustness files (one row per pair,
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
    _check_policy(duplicates)
    table = read_table(path, what=what).reset_index(drop=True)
    layout: ChoicesLayout = "robustness" if f"{_WIDE_PREFIX}0" in table.columns else "long"
    if layout == "robustness":
        require_columns(table, PAIR_KEYS, what=what, path=path)
        table = _canonical_axes(table.copy(), taxonomy, tuple(PAIR_KEYS), path, what)
        table = _settle_repeats(table, PAIR_KEYS, duplicates, path, what, None)
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
    table = _canonical_axes(table.copy(), taxonomy, tuple(PAIR_KEYS), path, what)
    table["variant"] = _variant_ids(table, "variant", path, what)
    table = _settle_repeats(table, [*PAIR_KEYS, "variant"], duplicates, path, what, "variant")
    raw = table[column].astype(object).fillna("").astype(str).str.strip()
    folded = raw.str.lower()
    bad = ~folded.isin(["positive", "negative", "", "nan", "none"])
    if bad.any():
        row = int(table.index[np.flatnonzero(bad.to_numpy())[0]])
        raise ValuelensError(
            f"{what}: {path} data row {row + 1}: {column} {_short(table[column].loc[row])} is not "
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
        table["p_negative"] = _to_numbers(table["p_negative"])
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
                raw=["" if _is_empty(cell) else str(cell) for cell in cells],
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
    if _is_empty(cell):
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


def _is_empty(cell: object) -> bool:
    if cell is None:
        return True
    if isinstance(cell, float) and cell != cell:  # NaN
        return True
    return isinstance(cell, str) and not cell.strip()


# --- shared checks -----------------------------------------------------------------------------


def _check_policy(duplicates: str) -> None:
    if duplicates not in DUPLICATE_POLICIES:
        raise ValuelensError(
            f"duplicates must be one of {', '.join(DUPLICATE_POLICIES)}, not {duplicates!r}"
        )


def _canonical_axes(
    table: pd.DataFrame, taxonomy: Taxonomy, axes: tuple[str, ...], path: Path, what: str
) -> pd.DataFrame:
    """Canonicalise names column by column (each distinct name is resolved once)."""
    for axis in axes:
        if table[axis].isna().any():
            row = int(np.flatnonzero(table[axis].isna().to_numpy())[0])
            raise ValuelensError(f"{what}: {path} has an empty {axis} (data row {row + 1})")
        names = table[axis].map(lambda name: name if isinstance(name, str) else str(name))
        mapping = {}
        for name in names.unique():
            try:
                mapping[name] = taxonomy.resolve(axis, name)  # type: ignore[arg-type]
            except UnknownNameError as exc:
                row = int(np.flatnonzero((names == name).to_numpy())[0])
                raise UnknownNameError(
                    f"{what}: {path} data row {row + 1}: {_name_problem(axis, name, exc)}"
                ) from None
        table[axis] = names.map(mapping)
    return table


def _name_problem(axis: str, name: str, exc: UnknownNameError) -> str:
    """The taxonomy's message, shortened for huge names, with a hint for broken CSV quoting."""
    message = str(exc)
    if len(name) > _MAX_NAME_IN_MESSAGE:
        message = f"unknown {axis} {_short(name)}"
    if "," in name or "\n" in name:
        message += " (the name holds a comma or a line break: is a quote unbalanced in the file?)"
    return message


def _short(value: object) -> str:
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= _MAX_NAME_IN_MESSAGE else f"{text[:_MAX_NAME_IN_MESSAGE]}...'"


def _to_numbers(column: pd.Series) -> pd.Series:
    """Floats where the cell reads as a number, NaN elsewhere (never raises)."""
    try:
        numbers = pd.to_numeric(column, errors="coerce").astype(float)
    except (TypeError, ValueError, OverflowError):
        numbers = pd.Series(np.nan, index=column.index, dtype=float)
    retry = numbers.isna() & column.notna()
    if retry.any():
        numbers[retry] = np.array([_number(cell) for cell in column[retry]], dtype=float)
    return numbers


def _number(cell: object) -> float:
    if isinstance(cell, bool) or not isinstance(cell, str | int | float):
        return float("nan")
    try:
        return float(cell.strip() if isinstance(cell, str) else cell)
    except (TypeError, ValueError, OverflowError):
        return float("nan")


def _variant_ids(table: pd.DataFrame, column: str, path: Path, what: str) -> pd.Series:
    """The column as whole numbers from 0 (0 everywhere when the file has no such column)."""
    if column not in table.columns:
        return pd.Series(0, index=table.index, dtype=int)
    numbers = _to_numbers(table[column])
    whole = np.isfinite(numbers) & (numbers % 1 == 0) & numbers.between(0, _MAX_VARIANT)
    if not whole.all():
        row = int(np.flatnonzero(~whole.to_numpy())[0])
        raise ValuelensError(
            f"{what}: {path} data row {row + 1}: {column} {_short(table[column].iloc[row])} "
            "is not a whole number from 0"
        )
    return numbers.astype(int)


def _settle_repeats(
    table: pd.DataFrame,
    keys: Sequence[str],
    policy: Duplicates,
    path: Path,
    what: str,
    variant_label: str | None,
) -> pd.DataFrame:
    """Apply the repeated-rows policy; `table` must have a positional index (data row - 1).

    With `variants` the k-th repeat (k = 1, 2, ...) of a row gets variant + k * (largest
    variant + 1), so every repeat is a variant of its own and the file's variants keep their ids.
    A table without a `variant` column gets one (0 for first occurrences).
    """
    repeated = table.duplicated(list(keys), keep="first")
    if "variant" not in table.columns:
        table = table.assign(variant=0)
    if not repeated.any():
        return table
    if policy == "error":
        position = int(np.flatnonzero(repeated.to_numpy())[0])
        offending = table[list(keys)].iloc[position]
        same = (table[list(keys)] == offending).all(axis=1)
        first = int(table.index[np.flatnonzero(same.to_numpy())[0]])
        row = int(table.index[position])
        labels = [variant_label if k == "variant" else k for k in keys]
        shown = ", ".join(f"{k}={offending[key]}" for k, key in zip(labels, keys, strict=True))
        raise ValuelensError(
            f"{what}: {path} repeats {int(repeated.sum())} row(s) for the same "
            f"({', '.join(str(k) for k in labels)}); the first is {shown} in data rows {first + 1} "
            f"and {row + 1} (choose duplicates first, last or variants: --duplicates on the "
            "command line)"
        )
    if policy in ("first", "last"):
        return table[~table.duplicated(list(keys), keep=policy)]
    occurrence = table.groupby(list(keys), sort=False).cumcount()
    step = int(table["variant"].max()) + 1 if variant_label else len(ACTION_VARIANTS)
    table["variant"] = table["variant"] + occurrence * step
    return table
