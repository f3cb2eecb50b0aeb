"""A parsed copy of each large VIA file, so a rerun skips reading and parsing it again.

Parsing the authors' release (14,784 generated answers) takes seconds; reading back the parsed
table takes a few tens of milliseconds. A copy is a Parquet file under
`<cache folder>/via/parsed/`, named by what determines its content: the SHA-256 of the file's
bytes, the taxonomy the names were resolved against, and `PARSER_VERSION`. A changed file,
another taxonomy or a newer parser therefore never meets an old copy. A copy that cannot be
read is ignored (and replaced); failing to write one never fails a read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Literal, cast

import pandas as pd

from valuelens._paths import cache_dir
from valuelens.taxonomy import Taxonomy

PARSER_VERSION = "1"
"""Bump when reading or parsing a VIA file changes what comes out: old copies are then unused."""
MIN_BYTES = 1 << 18
"""Files smaller than this are parsed every time (their parse is already quick)."""
KEEP = 8
"""Parsed copies kept; older ones are deleted when a new one is written."""

_NAME_COLUMNS = frozenset({"country", "topic", "value", "polarity", "parse_status"})
_META_KEY = "valuelens_via"


def parsed_dir() -> Path:
    """The folder of parsed VIA copies (it may not exist)."""
    return cache_dir() / "via" / "parsed"


def copy_path(path: Path, taxonomy: Taxonomy) -> Path | None:
    """Where the parsed copy of `path` goes, or None when the file is too small to bother."""
    try:
        if path.stat().st_size < MIN_BYTES:
            return None
        content = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
    names = hashlib.sha256(taxonomy.model_dump_json().encode()).hexdigest()
    return parsed_dir() / f"{content[:32]}-{names[:12]}-v{PARSER_VERSION}.parquet"


CachedVia = tuple[pd.DataFrame, Literal["release", "tidy"], list[str], int]
"""A parsed VIA file: its table, its layout, the issues a lenient read let through, bad rows."""


def read_copy(copy: Path) -> CachedVia | None:
    """The parsed table stored at `copy`, or None when there is none or it cannot be read."""
    if not copy.is_file():
        return None
    try:
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        stored = pq.read_table(copy, use_threads=False)
        meta = json.loads(stored.schema.metadata[_META_KEY.encode()])
        layout = cast(Literal["release", "tidy"], str(meta["format"]))
        if layout not in ("release", "tidy"):
            raise ValueError(layout)
        issues = [str(issue) for issue in meta["issues"]]
        n_bad = int(meta["n_bad_polarity"])
        columns = {name: stored.column(name).to_pylist() for name in stored.column_names}
    except Exception:  # a damaged copy only costs a fresh parse
        return None
    with contextlib.suppress(OSError):
        os.utime(copy)  # recently used: kept by `_prune`
    return _frame(columns), layout, issues, n_bad


def write_copy(copy: Path, parsed: CachedVia) -> None:
    """Store a parsed table at `copy` atomically; any failure leaves the cache as it was."""
    table, layout, issues, n_bad = parsed
    meta = {"format": layout, "issues": issues, "n_bad_polarity": n_bad}
    with contextlib.suppress(Exception):  # only a cache: never worth failing a read for
        import pyarrow as pa
        import pyarrow.parquet as pq

        # The parser's columns (`_via_read.VIA_COLUMNS`), in its order.
        columns = {str(name): table[name].tolist() for name in table.columns}
        columns["attributions"] = [list(spans) for spans in columns["attributions"]]
        stored = pa.table(columns).replace_schema_metadata({_META_KEY: json.dumps(meta)})
        copy.parent.mkdir(parents=True, exist_ok=True)
        handle, scratch = tempfile.mkstemp(prefix=".parsed-", suffix=".tmp", dir=copy.parent)
        os.close(handle)
        try:
            pq.write_table(stored, scratch, compression="zstd")
            os.replace(scratch, copy)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(scratch)
        _prune(copy.parent)


def _frame(columns: dict[str, list[object]]) -> pd.DataFrame:
    """The table as the parser returns it: names as `str` columns, text and spans as objects."""
    return pd.DataFrame(
        {
            name: pd.Series(columns[name], dtype=str if name in _NAME_COLUMNS else object)
            for name in columns
        }
    )


def _prune(folder: Path) -> None:
    copies = sorted(folder.glob("*.parquet"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in copies[KEEP:]:
        with contextlib.suppress(OSError):
            old.unlink()


def describe() -> tuple[int, int]:
    """How many parsed copies there are and their bytes (for `valuelens cache info`)."""
    copies = list(parsed_dir().glob("*.parquet")) if parsed_dir().is_dir() else []
    return len(copies), sum(p.stat().st_size for p in copies if p.is_file())
