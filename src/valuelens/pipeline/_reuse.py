"""Keep a run directory's results when a rerun would compute exactly the same ones.

A rerun whose answers all come from the store recomputes the scores, the tables and the
report from the same inputs. `inputs_digest` fingerprints everything those depend on: the
valuelens code and data files, the run's settings (and the content of every file or folder a
setting names), the summary entries known before scoring, and the content of every table the
tasks produced. `write_run` records it in the manifest; a later run with the same fingerprint
keeps the tables and only rewrites the summary (whose usage figures grow with each
invocation). Any difference, a missing table file, or a manifest written without a fingerprint
(an older valuelens, another writer such as `valuelens harms`) computes everything again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import valuelens
from valuelens.runs import Manifest, read_manifest

# Settings that change how requests are sent, never what is computed from the answers (which
# the tables fingerprint). Every other setting, including any added later, is fingerprinted.
EXECUTION_ONLY = frozenset(
    {"out", "concurrency", "requests_per_minute", "timeout_s", "store", "progress", "report"}
    | {"wait", "batch"}
)
# Summary entries that differ on every invocation although the results do not.
USAGE_KEYS = ("usage", "usage_last_invocation", "invocations")


def inputs_digest(settings: object, summary: Mapping[str, Any], tables: Mapping[str, Any]) -> str:
    """The fingerprint of what a run's results are computed from (SHA-256, hex).

    Args:
        settings: the run's configuration, a dataclass; fields in `EXECUTION_ONLY` are left
            out, and a field holding a path also adds the content of that file or folder.
        summary: the summary entries known before scoring (`USAGE_KEYS` are left out).
        tables: the tables the tasks produced, by name.
    """
    digest = hashlib.sha256()
    _add(digest, "code", code_fingerprint())
    assert dataclasses.is_dataclass(settings)
    for field in dataclasses.fields(settings):
        if field.name in EXECUTION_ONLY:
            continue
        value = getattr(settings, field.name)
        _add(digest, field.name, repr(value))
        if isinstance(value, Path):
            _add(digest, f"{field.name} content", _path_fingerprint(value))
    kept = {key: value for key, value in summary.items() if key not in USAGE_KEYS}
    _add(digest, "summary", json.dumps(kept, sort_keys=True, default=repr))
    for name in sorted(tables):
        _add(digest, f"table {name}", table_fingerprint(tables[name]))
    return digest.hexdigest()


def reusable_results(out: Path, digest: str) -> Manifest | None:
    """The run's manifest when its results were computed from `digest` and are all on disk."""
    manifest = read_manifest(out)
    if manifest is None or manifest.inputs_sha256 != digest:
        return None
    for name in manifest.tables:
        if not (out / f"{name}.parquet").is_file() or not (out / f"{name}.csv").is_file():
            return None
    return manifest


def table_fingerprint(table: pd.DataFrame) -> str:
    """The SHA-256 of a table's columns, dtypes and values (not its index)."""
    digest = hashlib.sha256()
    _add(digest, "columns", repr([(str(c), str(t)) for c, t in table.dtypes.items()]))
    for column in table.columns:
        values = table[column]
        try:
            hashed = pd.util.hash_pandas_object(values, index=False)
        except TypeError:  # lists, tuples, arrays or dicts in an object column
            hashed = pd.util.hash_pandas_object(values.map(_text), index=False)
        digest.update(np.ascontiguousarray(hashed.to_numpy()).tobytes())
    return digest.hexdigest()


@cache
def code_fingerprint() -> str:
    """The SHA-256 of every file of the installed valuelens package (code, templates, data)."""
    root = Path(valuelens.__file__).parent
    return _path_fingerprint(root)


def _path_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    if path.is_file():
        digest.update(path.read_bytes())
    elif path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file() and _kept(p)):
            _add(digest, file.relative_to(path).as_posix(), "")
            digest.update(file.read_bytes())
    else:
        digest.update(b"missing")
    return digest.hexdigest()


def _kept(file: Path) -> bool:
    return "__pycache__" not in file.parts and file.suffix not in (".pyc", ".pyo")


def _text(value: object) -> str:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    return json.dumps(value, sort_keys=True, default=repr)


def _add(digest: Any, name: str, text: str) -> None:
    # Length-prefixed, so that no two different sequences of parts give the same bytes.
    for part in (name, text):
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
