"""Checks shared by the importers of model outputs: names, variant ids, numbers, repeated rows.

Each fails with one line naming the file and the data row (data row 1 is the first row under the
header). Repeated rows are an error unless the caller picks a policy (`duplicates`): keep the
first, keep the last, or count each repeat as one more variant.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import pandas as pd

from valuelens._errors import ValuelensError
from valuelens.data._io import canonical_column, short_repr
from valuelens.prompts._variants import ACTION_VARIANTS
from valuelens.taxonomy import Taxonomy

Duplicates = Literal["error", "first", "last", "variants"]
DUPLICATE_POLICIES: tuple[Duplicates, ...] = get_args(Duplicates)
PAIR_KEYS = ["country", "topic", "value"]
_MAX_VARIANT = 1_000_000


def check_policy(duplicates: str) -> None:
    if duplicates not in DUPLICATE_POLICIES:
        raise ValuelensError(
            f"duplicates must be one of {', '.join(DUPLICATE_POLICIES)}, not {duplicates!r}"
        )


def canonical_axes(
    table: pd.DataFrame, taxonomy: Taxonomy, axes: tuple[str, ...], path: Path, what: str
) -> pd.DataFrame:
    """Canonicalise names column by column (each distinct name is resolved once)."""
    for axis in axes:
        table[axis] = canonical_column(
            table[axis],
            functools.partial(taxonomy.resolve, axis),  # type: ignore[arg-type]
            where=f"{what}: {path}",
            what=axis,
        )
    return table


def to_numbers(column: pd.Series) -> pd.Series:
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


def variant_ids(table: pd.DataFrame, column: str, path: Path, what: str) -> pd.Series:
    """The column as whole numbers from 0 (0 everywhere when the file has no such column)."""
    if column not in table.columns:
        return pd.Series(0, index=table.index, dtype=int)
    numbers = to_numbers(table[column])
    whole = np.isfinite(numbers) & (numbers % 1 == 0) & numbers.between(0, _MAX_VARIANT)
    if not whole.all():
        row = int(np.flatnonzero(~whole.to_numpy())[0])
        raise ValuelensError(
            f"{what}: {path} data row {row + 1}: {column} {short_repr(table[column].iloc[row])} "
            "is not a whole number from 0"
        )
    return numbers.astype(int)


def settle_repeats(
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
