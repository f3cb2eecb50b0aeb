"""Writing a run directory: `summary.json` plus every table as Parquet and CSV."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from valuelens._errors import ValuelensError


def write_run(
    out_dir: str | Path, summary: Mapping[str, Any], tables: Mapping[str, pd.DataFrame]
) -> Path:
    """Write `summary.json` and `<name>.parquet` + `<name>.csv` for each table; return the directory.

    Files are written to a temporary name and renamed, so an interrupted write never leaves a
    half-written summary behind.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValuelensError(f"cannot create output directory {out}: {exc.strerror}") from None
    for name, table in tables.items():
        _atomic(out / f"{name}.parquet", lambda p, t=table: t.to_parquet(p, index=False))
        _atomic(out / f"{name}.csv", lambda p, t=table: t.to_csv(p, index=False))
    text = json.dumps(_json_ready(dict(summary)), indent=2, ensure_ascii=False, allow_nan=False)
    _atomic(out / "summary.json", lambda p: p.write_text(text + "\n", encoding="utf-8"))
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


def _atomic(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


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
