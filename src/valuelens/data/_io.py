"""Reading user-supplied tables with one-line errors instead of tracebacks.

Every importer in `valuelens.data` reads its files through `read_table` and resolves its name
columns through `canonical_column`, so a damaged file fails the same way whichever importer
reads it: one line that names the file (and, for a bad cell, the row).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from valuelens._errors import UnknownNameError, ValuelensError
from valuelens.taxonomy._taxonomy import one_line, read_mapping_file, shown

_PARQUET = frozenset({".parquet", ".pq"})
_JSON_LINES = frozenset({".jsonl", ".ndjson"})
_MAX_NAME_IN_MESSAGE = 60


def read_table(
    path: str | Path, *, what: str, text: bool = False, zip_member: str = ""
) -> pd.DataFrame:
    """Read a CSV, Parquet, JSON-lines or zipped CSV file, raising a one-line error on bad input.

    Args:
        path: a `.csv`, `.parquet`, `.jsonl` or `.zip` (holding a CSV) file.
        what: what the file should hold, for error messages ("Task 1 responses").
        text: read every CSV cell as text, empty cells as "" (default: numbers as numbers and
            empty cells as NaN).
        zip_member: in a zip, read the first CSV whose name holds this (default: the first CSV).

    Raises:
        ValuelensError: no such file, an empty file, a file that is not UTF-8 or not a readable
            table, or a table without rows.
    """
    path = Path(path)
    if not path.is_file():
        raise ValuelensError(f"{what}: no such file: {path}")
    if path.stat().st_size == 0:
        raise ValuelensError(f"{what}: {path} is empty")
    suffix = path.suffix.lower()
    try:
        if suffix in _PARQUET:
            table = pd.read_parquet(path)
        elif suffix in _JSON_LINES:
            table = pd.read_json(path, lines=True)
        elif suffix == ".zip":
            table = _read_zipped_csv(path, what=what, text=text, member_hint=zip_member)
        else:
            table = _read_csv(path.read_bytes(), str(path), what=what, text=text)
    except ValuelensError:
        raise
    except (
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        ValueError,
        OSError,
        zipfile.BadZipFile,
    ) as exc:
        raise ValuelensError(f"{what}: cannot read {path}: {_first_line(exc)}") from None
    if table.empty:
        raise ValuelensError(f"{what}: {path} has no rows")
    return table


def _read_zipped_csv(path: Path, *, what: str, text: bool, member_hint: str) -> pd.DataFrame:
    with zipfile.ZipFile(path) as archive:
        members = [
            m
            for m in archive.namelist()
            if m.lower().endswith(".csv") and not m.startswith("__MACOSX/")
        ]
        if not members:
            raise ValuelensError(f"{what}: {path}: the zip holds no CSV file")
        member = next((m for m in members if member_hint and member_hint in m), members[0])
        return _read_csv(archive.read(member), f"{path}:{member}", what=what, text=text)


def _read_csv(data: bytes, name: str, *, what: str, text: bool) -> pd.DataFrame:
    try:
        decoded = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValuelensError(
            f"{what}: {name} is not UTF-8 text (bad byte at offset {exc.start}); "
            "re-save it as UTF-8"
        ) from None
    if not decoded.strip():
        raise ValuelensError(f"{what}: {name} is empty")
    _check_delimiter(decoded, name, what)
    source = io.StringIO(decoded)
    try:
        if text:
            return pd.read_csv(source, dtype=str, keep_default_na=False)
        return pd.read_csv(source, keep_default_na=False, na_values=[""])
    except pd.errors.ParserError as exc:
        raise ValuelensError(f"{what}: {name} {_csv_problem(exc, decoded)}") from None


_OTHER_DELIMITERS = {";": "';'", "\t": "tab", "|": "'|'"}
_UNCLOSED_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")
_FIELD_COUNT = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _check_delimiter(decoded: str, name: str, what: str) -> None:
    """Refuse a file whose header is split by semicolons or tabs instead of commas."""
    header = decoded.lstrip().split("\n", 1)[0]
    if "," in header:
        return
    counts = {sep: header.count(sep) for sep in _OTHER_DELIMITERS}
    separator = max(counts, key=lambda sep: counts[sep])
    if counts[separator]:
        word = _OTHER_DELIMITERS[separator]
        raise ValuelensError(
            f"{what}: {name} line 1 (the header) has no comma but {counts[separator]} {word} "
            f"separator(s): the file looks {word}-separated; save it as comma-separated CSV"
        )


def _csv_problem(exc: pd.errors.ParserError, decoded: str) -> str:
    """The tokenizer's error as `line N: what went wrong` (N a line of the file, from 1)."""
    message = str(exc)
    if found := _UNCLOSED_QUOTE.search(message):
        line = _physical_line(decoded, int(found.group(1)) + 1)
        return (
            f'line {line}: a quoted cell opens here and its closing quote (") never comes; '
            "is a quote unbalanced?"
        )
    if found := _FIELD_COUNT.search(message):
        expected, record, saw = found.groups()
        line = _physical_line(decoded, int(record))
        return (
            f"line {line}: {saw} cells where the header has {expected} (a cell that holds a "
            'comma must be quoted: "a, b")'
        )
    return f"is not a readable CSV file: {_first_line(exc)}"


def _physical_line(decoded: str, record: int) -> int:
    """The file line a CSV record (1-based, the header is record 1) starts on.

    pandas counts records; a quoted cell with line breaks makes a record span several lines.
    """
    reader = csv.reader(io.StringIO(decoded))
    start = 1
    try:
        for index, _ in enumerate(reader, start=1):
            if index == record:
                return start
            start = reader.line_num + 1
    except csv.Error:
        pass
    return start


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return one_line(lines[0]) if lines else type(exc).__name__


def read_yaml_mapping(path: Path, what: str, keys: Iterable[str]) -> dict[str, Any]:
    """A YAML file's mapping; a top-level key outside `keys` is an error (a typo loses data)."""
    data = read_mapping_file(path, what)
    allowed = list(keys)
    unknown = [k for k in data if k not in allowed]
    if unknown:
        raise ValuelensError(
            f"{what} file {path}: unknown key {shown(unknown[0])} (expected {', '.join(allowed)})"
        )
    return data


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


def is_blank(cell: object) -> bool:
    """Whether a table cell holds nothing: None, NaN, or only whitespace."""
    if cell is None:
        return True
    if isinstance(cell, float) and cell != cell:  # NaN
        return True
    return isinstance(cell, str) and not cell.strip()


def text_or_none(cell: object) -> str | None:
    """The cell as text, or None when it is blank (see `is_blank`)."""
    return None if is_blank(cell) else str(cell)


def canonical_column(
    cells: pd.Series,
    resolve: Callable[[str], str],
    *,
    where: str,
    what: str,
    row_label: Callable[[int], str] | None = None,
) -> pd.Series:
    """Resolve a column of names, each distinct name once, failing in one line on a bad cell.

    Args:
        cells: the column as read (any index; positions count rows).
        resolve: name -> canonical name; raises `UnknownNameError` for an unknown name.
        where: the file, for messages ("Task 1 responses: t1.csv", "survey.csv").
        what: what the column holds, for messages ("country").
        row_label: position -> how a message names the row (default `data row <position + 1>`,
            data row 1 being the first row under the header).

    Returns:
        The canonical names, with the index of `cells`.

    Raises:
        ValuelensError: a blank cell (naming how many rows have one, and the first).
        UnknownNameError: an unknown name (naming the first row that holds it).
    """
    label = row_label or (lambda position: f"data row {position + 1}")
    blank = np.array([is_blank(cell) for cell in cells.tolist()], dtype=bool)
    if blank.any():
        rows = list(dict.fromkeys(label(int(i)) for i in np.flatnonzero(blank)))
        raise ValuelensError(f"{where}: {len(rows)} rows have no {what} (first: {rows[0]})")
    names = cells.map(lambda name: name if isinstance(name, str) else str(name))
    mapping: dict[str, str] = {}
    for name in names.unique():
        try:
            mapping[name] = resolve(name)
        except UnknownNameError as exc:
            row = int(np.flatnonzero((names == name).to_numpy())[0])
            raise UnknownNameError(
                f"{where} {label(row)}: {_name_problem(what, name, exc)}"
            ) from None
    return names.map(mapping)


def _name_problem(what: str, name: str, exc: UnknownNameError) -> str:
    """The resolver's message, shortened for huge names, with a hint for broken CSV quoting."""
    message = str(exc)
    if len(name) > _MAX_NAME_IN_MESSAGE:
        message = f"unknown {what} {short_repr(name)}"
    if "," in name or "\n" in name:
        message += " (the name holds a comma or a line break: is a quote unbalanced in the file?)"
    return message


def short_repr(value: object) -> str:
    """`repr` of a cell, cut to a length fit for a one-line message."""
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= _MAX_NAME_IN_MESSAGE else f"{text[:_MAX_NAME_IN_MESSAGE]}...'"
