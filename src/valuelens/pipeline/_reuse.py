"""Keep a run directory's results when a rerun would compute exactly the same ones.

A rerun whose answers all come from the store recomputes the scores, the tables and the
report from the same inputs. `inputs_digest` fingerprints everything those depend on: the
valuelens code and data files, the Python and library versions, the source of every task,
report section or measure registered from outside valuelens, the run's settings (and the
content of every file or folder a setting names), the summary entries known before scoring,
and the content of every table the tasks produced. `write_run` records it in the manifest,
with the SHA-256 of every table file; a later run with the same fingerprint and intact files
keeps the tables and only rewrites the summary (whose usage figures grow with each
invocation). Any difference, a changed or missing table file, an extension whose source
cannot be read (e.g. one defined in a notebook), or a manifest written without a fingerprint
(an older valuelens, another writer such as `valuelens harms`) computes everything again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from collections.abc import Mapping
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import valuelens
from valuelens.runs import REPORT_FILE, Manifest, file_sha256, read_manifest

# Settings that change how requests are sent, never what is computed from the answers (which
# the tables fingerprint). Every other setting, including any added later, is fingerprinted.
EXECUTION_ONLY = frozenset(
    {"out", "concurrency", "requests_per_minute", "timeout_s", "store", "progress", "report"}
    | {"wait", "batch"}
)
# Summary entries that differ on every invocation although the results do not.
USAGE_KEYS = ("usage", "usage_last_invocation", "invocations")


def inputs_digest(
    settings: object, summary: Mapping[str, Any], tables: Mapping[str, Any]
) -> str | None:
    """The fingerprint of what a run's results are computed from (SHA-256, hex).

    None when part of it cannot be known (an extension without a source file): then nothing
    is kept.

    Args:
        settings: the run's configuration, a dataclass; fields in `EXECUTION_ONLY` are left
            out, and a field holding a path also adds the content of that file or folder.
        summary: the summary entries known before scoring (`USAGE_KEYS` are left out).
        tables: the tables the tasks produced, by name.
    """
    extensions = extension_fingerprint()
    if extensions is None:
        return None
    digest = hashlib.sha256()
    _add(digest, "code", code_fingerprint())
    _add(digest, "versions", _versions())
    _add(digest, "extensions", extensions)
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


def reusable_results(out: Path, digest: str | None) -> Manifest | None:
    """The run's manifest when it was computed from `digest` and its table files are intact."""
    if digest is None:
        return None
    manifest = read_manifest(out)
    if manifest is None or manifest.inputs_sha256 != digest or not manifest.files_intact(out):
        return None
    return manifest


def report_key(digest: str | None, out: Path) -> str | None:
    """What a run's `report.html` shows: its results and the folder name it displays."""
    if digest is None:
        return None
    key = hashlib.sha256()
    _add(key, "results", digest)
    _add(key, "folder", out.resolve().name)
    return key.hexdigest()


def report_is_current(manifest: Manifest, out: Path, key: str | None) -> bool:
    """Whether `report.html` is the one rendered for `key`, unchanged since."""
    if key is None or manifest.report_inputs_sha256 != key:
        return False
    return file_sha256(out / REPORT_FILE) == manifest.report_sha256


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


def code_fingerprint() -> str:
    """The SHA-256 of every file of the valuelens package (code, templates, data).

    Read again on each call (about 10 ms), so a long-lived process sees edited code.
    """
    return _path_fingerprint(Path(valuelens.__file__).parent)


def extension_fingerprint() -> str | None:
    """The source of the registered extensions that come from outside valuelens.

    Covers tasks, report sections, measures, template contracts and summary models; None when
    one's source file is unknown (e.g. defined in a notebook cell).
    """
    digest = hashlib.sha256()
    for entry in _registered():
        _add(digest, "entry", _plain_fields(entry))
        for part in _parts(entry):
            module = _module_of(part)
            if module is None or module.split(".")[0] == "valuelens":
                continue
            source = getattr(sys.modules.get(module), "__file__", None)
            if source is None:
                return None
            _add(digest, module, _path_fingerprint(Path(source)))
    return digest.hexdigest()


def _registered() -> list[object]:
    from valuelens.metrics import measures
    from valuelens.prompts import template_contract, template_tasks
    from valuelens.report._sections import registered_sections
    from valuelens.runs import SUMMARY_MODELS
    from valuelens.tasks import get_task, task_names

    return [
        *(get_task(name) for name in task_names()),
        *registered_sections(),
        *measures(),
        *(template_contract(task) for task in template_tasks()),
        *SUMMARY_MODELS.values(),
    ]


def _parts(entry: object) -> list[object]:
    """The entry and what its fields hold, two levels down (e.g. a task's `Evaluation` hooks)."""
    found = [entry]
    for value in _field_values(entry):
        found.append(value)
        found.extend(_field_values(value))
    return found


def _field_values(value: object) -> list[object]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [getattr(value, f.name) for f in dataclasses.fields(value)]
    return []


def _plain_fields(entry: object) -> str:
    """The entry's fields that are plain data (no callables, whose repr holds an address)."""
    plain = (str, int, float, bool, type(None), Path, tuple, frozenset)
    values = {
        f.name: getattr(entry, f.name)
        for f in (dataclasses.fields(entry) if dataclasses.is_dataclass(entry) else ())
    }
    kept = {name: value for name, value in values.items() if isinstance(value, plain)}
    name = entry.__qualname__ if isinstance(entry, type) else type(entry).__qualname__
    return f"{name} {sorted(kept.items(), key=lambda item: item[0])!r}"


def _module_of(value: object) -> str | None:
    if isinstance(value, partial):
        value = value.func
    if isinstance(value, type) or callable(value):
        module = getattr(value, "__module__", None)
    else:
        module = type(value).__module__
    return module if isinstance(module, str) and module != "builtins" else None


def _versions() -> str:
    found = [f"python {sys.version}"]
    for name in _LIBRARIES:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} absent")
    return "; ".join(found)


# The libraries whose behaviour shapes the numbers and the report (random streams, statistics,
# file formats, templates).
_LIBRARIES = ("numpy", "pandas", "scipy", "statsmodels", "scikit-learn", "pyarrow", "jinja2")


def _path_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    if path.is_file():
        digest.update(path.read_bytes())
    elif path.is_dir():
        for file in _files_under(path):
            _add(digest, file.relative_to(path).as_posix(), "")
            digest.update(file.read_bytes())
    else:
        digest.update(b"missing")
    return digest.hexdigest()


def _files_under(folder: Path) -> list[Path]:
    """Every file under `folder`, sorted, hidden files and bytecode left out.

    Symbolic links to folders are followed (each real folder once), as template loaders do.
    """
    found: list[Path] = []
    seen: set[str] = set()
    for root, folders, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            folders[:] = []
            continue
        seen.add(real)
        folders[:] = [f for f in folders if not f.startswith(".") and f != "__pycache__"]
        for name in files:
            if not name.startswith(".") and not name.endswith((".pyc", ".pyo")):
                found.append(Path(root) / name)
    return sorted(found)


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
