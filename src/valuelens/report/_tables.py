"""Writing a run directory: `summary.json` plus every table as Parquet and CSV."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from valuelens._errors import ValuelensError
from valuelens._rundir import run_dir_lock, staged_writes


def write_run(
    out_dir: str | Path,
    summary: Mapping[str, Any],
    tables: Mapping[str, pd.DataFrame],
    *,
    wait: bool = False,
) -> Path:
    """Write `summary.json` and `<name>.parquet` + `<name>.csv` for each table; return the directory.

    Holds the directory's lock (see `valuelens._rundir.run_dir_lock`; re-entrant, so a caller
    that already holds it keeps it). Every file is first written in full to a temporary name;
    only then are they moved into place, `summary.json` last. A failure (a full disk, a
    read-only folder, Ctrl-C) leaves the previous summary and tables as they were and no
    temporary file behind.

    Args:
        out_dir: the run directory (created if needed).
        summary: the JSON-ready summary (NaN and infinities are written as null).
        tables: the tables by name.
        wait: when another process is writing the directory, wait for it instead of failing.

    Raises:
        ValuelensError: when the directory is in use, or a file cannot be written.
    """
    out = Path(out_dir)
    text = json.dumps(_json_ready(dict(summary)), indent=2, ensure_ascii=False, allow_nan=False)
    with run_dir_lock(out, wait=wait), staged_writes() as stage:
        for name, table in tables.items():
            stage.add(out / f"{name}.parquet", partial(table.to_parquet, index=False))
            stage.add(out / f"{name}.csv", partial(table.to_csv, index=False))
        stage.add_text(out / "summary.json", text + "\n")
    return out


def read_summary(run_dir: str | Path) -> dict[str, Any]:
    """Read a run directory's `summary.json` with a one-line error when it is absent or broken."""
    path = Path(run_dir) / "summary.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValuelensError(
            f"{run_dir} is not a valuelens run directory (no summary.json)"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValuelensError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValuelensError(f"{path} does not hold a JSON object")
    return data


def _json_ready(value: Any) -> Any:
    """NaN/inf become null; numpy scalars become Python numbers."""
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
