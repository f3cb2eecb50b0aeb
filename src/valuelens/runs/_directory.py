"""A run directory on disk: `summary.json`, each table as Parquet and CSV, and `manifest.json`.

This module is the only one that writes or reads a run directory's files:

* `write_run` validates the summary against its kind's model, then writes every table, the
  summary and the manifest atomically (see `valuelens._rundir.staged_writes`).
* `read_run` gives a `RunRecord`: the typed summary, and each table read when first asked for.
* `read_summary` and `read_run_table` read one part, with one-line errors.

The manifest lists the tables with their row counts and columns, the schema version and the
valuelens version that wrote them. It is written after `summary.json` and records the summary's
hash, so a manifest that a crash left behind from an earlier write is recognised and ignored.
A writer that can tell what its results were computed from records that as `inputs_sha256`
(and `report_inputs_sha256` for the `report.html` it rendered), so a rerun with the same inputs
can keep the tables (`rewrite_summary`, `record_report`).

Example:
    >>> record = read_run("runs/gpt-4o-mini")  # doctest: +SKIP
    >>> record.summary.alignment_rate, len(record.table("pairs"))  # doctest: +SKIP
    (0.564, 7392)
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow  # type: ignore[import-untyped]
from pydantic import BaseModel, ValidationError

from valuelens._errors import ValuelensError
from valuelens._rundir import run_dir_lock, staged_writes
from valuelens.runs._summary import (
    SCHEMA_VERSION,
    SUMMARY_MODELS,
    RunSummary,
    kind_of,
    parse_summary,
)

SUMMARY_FILE = "summary.json"
MANIFEST_FILE = "manifest.json"
REPORT_FILE = "report.html"


class TableEntry(BaseModel):
    """One table of a run, as the manifest lists it."""

    rows: int
    columns: list[str]
    sha256: dict[str, str] = {}
    """The SHA-256 of each of its files as written (`pairs.parquet`, `pairs.csv`)."""


class Manifest(BaseModel):
    """What a run directory holds, written beside `summary.json`."""

    schema_version: int
    valuelens_version: str | None = None
    kind: str
    summary_sha256: str
    tables: dict[str, TableEntry]
    inputs_sha256: str | None = None
    """What the summary and tables were computed from, as the writer fingerprinted it."""
    report_inputs_sha256: str | None = None
    """What `report.html` was rendered from, as its writer fingerprinted it."""
    report_sha256: str | None = None
    """The SHA-256 of `report.html` as that writer left it."""

    def files_intact(self, run_dir: str | Path) -> bool:
        """Whether every table file is there with the content recorded when it was written."""
        folder = Path(run_dir)
        for entry in self.tables.values():
            if not entry.sha256:
                return False
            for name, expected in entry.sha256.items():
                if file_sha256(folder / name) != expected:
                    return False
        return True


def write_run(
    out_dir: str | Path,
    summary: Mapping[str, object],
    tables: Mapping[str, pd.DataFrame],
    *,
    wait: bool = False,
    inputs_sha256: str | None = None,
) -> Path:
    """Write `<name>.parquet` + `<name>.csv` per table, `summary.json` and `manifest.json`.

    The summary is checked against the model of its kind first (a known kind also gets
    `version`); its keys are written as given. Holds the directory's lock (see
    `valuelens._rundir.run_dir_lock`; re-entrant, so a caller that already holds it keeps it).
    Every file is first written in full to a temporary name; only then are they moved into
    place, the tables first. A failure (a full disk, a read-only folder, Ctrl-C) leaves the
    previous summary and tables as they were and no temporary file behind.

    Args:
        out_dir: the run directory (created if needed).
        summary: the JSON-ready summary (NaN and infinities are written as null).
        tables: the tables by name.
        wait: when another process is writing the directory, wait for it instead of failing.
        inputs_sha256: the fingerprint of what the results were computed from, for the
            manifest (see `rewrite_summary`).

    Returns:
        The directory.

    Raises:
        ValuelensError: when the summary does not fit its kind's model, the directory is in
            use, or a file cannot be written.
    """
    out = Path(out_dir)
    data = checked_summary(summary, source=f"summary for {out}")
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    hashes: dict[str, str] = {}
    with run_dir_lock(out, wait=wait), staged_writes() as stage:
        for name, table in tables.items():
            for file, write in (
                (f"{name}.parquet", partial(table.to_parquet, index=False)),
                (f"{name}.csv", partial(table.to_csv, index=False)),
            ):
                stage.add(out / file, partial(_write_hashed, write, hashes, file))
        manifest = _manifest(data, text, tables, hashes)
        stage.add_text(out / SUMMARY_FILE, text)
        manifest = manifest.model_copy(update={"inputs_sha256": inputs_sha256})
        stage.add_text(out / MANIFEST_FILE, manifest.model_dump_json(indent=2) + "\n")
    return out


def _write_hashed(
    write: Callable[[Path], object], hashes: dict[str, str], name: str, path: Path
) -> None:
    write(path)
    digest = file_sha256(path)
    if digest is None:
        raise OSError(f"cannot read back {path}")
    hashes[name] = digest


def file_sha256(path: Path) -> str | None:
    """The SHA-256 of a file's bytes (hex); None when it cannot be read."""
    try:
        with path.open("rb") as file:
            return hashlib.file_digest(file, "sha256").hexdigest()
    except OSError:
        return None


def rewrite_summary(out_dir: str | Path, summary: Mapping[str, object]) -> Manifest:
    """Replace the summary of a run whose tables stay as they are; the manifest follows.

    The manifest keeps its tables and fingerprints and records the new summary's hash.
    Written atomically under the directory's lock, as `write_run` does.

    Raises:
        ValuelensError: when the directory has no current manifest, the summary does not fit
            its kind's model, or a file cannot be written.
    """
    out = Path(out_dir)
    manifest = read_manifest(out)
    if manifest is None:
        raise ValuelensError(f"{out} has no current {MANIFEST_FILE}: write the whole run instead")
    data = checked_summary(summary, source=f"summary for {out}")
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    updated = manifest.model_copy(update={"kind": kind_of(data), "summary_sha256": _sha256(text)})
    with run_dir_lock(out), staged_writes() as stage:
        stage.add_text(out / SUMMARY_FILE, text)
        stage.add_text(out / MANIFEST_FILE, updated.model_dump_json(indent=2) + "\n")
    return updated


def record_report(out_dir: str | Path, inputs_sha256: str | None) -> None:
    """Note in the manifest what `report.html` was rendered from, and its content's hash.

    None forgets it (e.g. before the report is rendered again). Nothing without a manifest.
    """
    out = Path(out_dir)
    manifest = read_manifest(out)
    if manifest is None:
        return
    content = file_sha256(out / REPORT_FILE) if inputs_sha256 is not None else None
    updated = manifest.model_copy(
        update={"report_inputs_sha256": inputs_sha256, "report_sha256": content}
    )
    with run_dir_lock(out), staged_writes() as stage:
        stage.add_text(out / MANIFEST_FILE, updated.model_dump_json(indent=2) + "\n")


def checked_summary(summary: Mapping[str, object], *, source: str = "summary") -> dict[str, Any]:
    """The summary made JSON-ready and checked against its kind's model, as it will be written.

    A summary of a known kind gets `version` (the current `SCHEMA_VERSION`) after `kind`.

    Raises:
        ValuelensError: when it records no `kind` or a value does not fit the model.
    """
    data: dict[str, Any] = json_ready(dict(summary))
    if "kind" not in data:
        raise ValuelensError(f"{source}: records no 'kind'")
    if data["kind"] in SUMMARY_MODELS:
        rest = {k: v for k, v in data.items() if k not in ("kind", "version")}
        data = {"kind": data["kind"], "version": SCHEMA_VERSION, **rest}
    parse_summary(data, source=source)
    return data


def json_ready(value: object) -> Any:
    """NaN/inf become null; numpy scalars become Python numbers; tuples become lists."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _manifest(
    data: Mapping[str, object],
    text: str,
    tables: Mapping[str, pd.DataFrame],
    hashes: Mapping[str, str],
) -> Manifest:
    return Manifest(
        schema_version=SCHEMA_VERSION,
        valuelens_version=_valuelens_version(),
        kind=kind_of(data),
        summary_sha256=_sha256(text),
        tables={
            name: TableEntry(
                rows=len(table),
                columns=[str(c) for c in table.columns],
                sha256={
                    file: hashes[file]
                    for file in (f"{name}.parquet", f"{name}.csv")
                    if file in hashes
                },
            )
            for name, table in tables.items()
        },
    )


def _valuelens_version() -> str | None:
    try:
        return package_version("valuelens")
    except PackageNotFoundError:
        return None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_summary(run_dir: str | Path) -> RunSummary:
    """Read a run directory's `summary.json` as the model of its kind.

    Raises:
        ValuelensError: one line, when the file is absent, not a JSON object, written by a
            newer valuelens, or holds a value that does not fit its kind's model.
    """
    data, file = _summary_json(Path(run_dir))
    return parse_summary(data, source=file)


def read_summary_json(run_dir: str | Path) -> dict[str, object]:
    """A run directory's `summary.json` as written (a dict), with `read_summary`'s checks."""
    return _summary_json(Path(run_dir))[0]


def _summary_json(run_dir: Path) -> tuple[dict[str, object], str]:
    file = run_dir / SUMMARY_FILE
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValuelensError(f"{run_dir} is not a run directory (no {SUMMARY_FILE})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValuelensError(f"cannot read {file}: {exc}") from None
    if not isinstance(data, dict):
        raise ValuelensError(f"{file} must hold a JSON object")
    found = data.get("version")
    if isinstance(found, int) and found > SCHEMA_VERSION:
        raise ValuelensError(
            f"{file} was written by a newer valuelens (summary version {found}; this one reads "
            f"up to {SCHEMA_VERSION}): upgrade valuelens to read it"
        )
    return data, str(file)


def read_run_table(run_dir: str | Path, name: str) -> pd.DataFrame | None:
    """Read NAME.parquet (preferred, typed) or NAME.csv of a run; None when neither exists.

    Raises:
        ValuelensError: one line, when the file exists but cannot be read.
    """
    path = Path(run_dir)
    parquet, csv = path / f"{name}.parquet", path / f"{name}.csv"
    try:
        if parquet.is_file():
            return pd.read_parquet(parquet)
        if csv.is_file():
            return pd.read_csv(csv, keep_default_na=True)
    except (OSError, ValueError, UnicodeDecodeError, pyarrow.ArrowException) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValuelensError(f"cannot read table {name!r} in {path}: {first_line}") from None
    return None


def read_manifest(run_dir: str | Path) -> Manifest | None:
    """The run's manifest, or None when it has none, it is unreadable or it is stale.

    A manifest is stale when it describes another summary than the one in the directory (a
    write stopped between the two files, or the summary was edited by hand).
    """
    path = Path(run_dir)
    try:
        manifest = Manifest.model_validate_json((path / MANIFEST_FILE).read_bytes())
        summary = (path / SUMMARY_FILE).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValidationError):
        return None
    return manifest if manifest.summary_sha256 == _sha256(summary) else None


@dataclass(frozen=True)
class RunRecord:
    """One run directory: its typed summary, and its tables read on first use.

    Example:
        >>> record = read_run("runs/x")  # doctest: +SKIP
        >>> record.kind, record.has_table("variants")  # doctest: +SKIP
        ('value-action', True)
    """

    path: Path
    summary: RunSummary
    manifest: Manifest | None = None
    _tables: dict[str, pd.DataFrame | None] = field(default_factory=dict, repr=False)

    @property
    def kind(self) -> str:
        """The run kind its summary records (`value-action` when it records none)."""
        return self.summary.kind

    @property
    def table_names(self) -> list[str]:
        """The tables the run holds: the manifest's list, else the files found."""
        if self.manifest is not None:
            return list(self.manifest.tables)
        stems = {p.stem for p in self.path.glob("*.parquet")} | {
            p.stem for p in self.path.glob("*.csv")
        }
        return sorted(s for s in stems if not s.startswith("."))

    def has_table(self, name: str) -> bool:
        """Whether NAME.parquet or NAME.csv exists."""
        return (self.path / f"{name}.parquet").is_file() or (self.path / f"{name}.csv").is_file()

    def optional_table(self, name: str) -> pd.DataFrame | None:
        """The table, or None when the run lacks it (read once, then kept).

        Raises:
            ValuelensError: when the file exists but cannot be read.
        """
        if name not in self._tables:
            self._tables[name] = read_run_table(self.path, name)
        return self._tables[name]

    def table(self, name: str) -> pd.DataFrame:
        """The table (read once, then kept).

        Raises:
            ValuelensError: when the run lacks it or it cannot be read.
        """
        found = self.optional_table(name)
        if found is None:
            raise ValuelensError(f"{self.path} has no {name}.parquet or {name}.csv table")
        return found


def read_run(run_dir: str | Path) -> RunRecord:
    """Read a run directory's summary (and manifest); its tables are read when asked for.

    Raises:
        ValuelensError: one line, when the directory or its summary is missing or broken.
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise ValuelensError(f"run directory {path} does not exist")
    return RunRecord(path=path, summary=read_summary(path), manifest=read_manifest(path))
