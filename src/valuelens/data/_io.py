"""Reading user-supplied tables with one-line errors instead of tracebacks."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from valuelens._errors import ValuelensError
from valuelens.taxonomy._taxonomy import one_line, shown


def read_table(path: str | Path, *, what: str) -> pd.DataFrame:
    """Read a CSV or Parquet file as strings-or-numbers, raising a one-line error on bad input.

    Args:
        path: a `.csv`, `.parquet` or `.jsonl` file.
        what: what the file should hold, for error messages ("Task 1 responses").
    """
    path = Path(path)
    if not path.is_file():
        raise ValuelensError(f"{what}: no such file: {path}")
    if path.stat().st_size == 0:
        raise ValuelensError(f"{what}: {path} is empty")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            table = pd.read_parquet(path)
        elif suffix in {".jsonl", ".ndjson"}:
            table = pd.read_json(path, lines=True)
        else:
            table = pd.read_csv(path, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValuelensError(f"{what}: {path} is not UTF-8 text (re-save it as UTF-8)") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError) as exc:
        reason = (
            one_line(str(exc).strip().splitlines()[0]) if str(exc).strip() else type(exc).__name__
        )
        raise ValuelensError(f"{what}: cannot read {path}: {reason}") from None
    if table.empty:
        raise ValuelensError(f"{what}: {path} has no rows")
    return table


def require_columns(
    table: pd.DataFrame, columns: Iterable[str], *, what: str, path: str | Path
) -> None:
    """Raise a one-line error naming the missing columns and the columns that were found."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        found = ", ".join(shown(str(c), 40) for c in table.columns[:12])
        raise ValuelensError(
            f"{what}: {path} lacks column(s) {', '.join(missing)} (found: {found})"
        )
