"""Reading predictions of the explanation-based action-prediction experiment into one table.

Two layouts are read:

* the authors' files `{target}_explanation_outputs_{setting}.csv` (an unnamed index column,
  `label`, and `result`, the observer's raw reply such as "Label: True" possibly followed by
  attributions and a reason); a file without the `{target}_` prefix gets target `unknown`;
* a tidy table (CSV or Parquet, e.g. `predictions.parquet` of `valuelens predict run`) with
  columns `setting`, `label`, `predicted` and optionally `target`, `item`, `raw`,
  `parse_status`.

A folder stands for the files in it that match either layout (the authors' files, or a
`predictions.parquet`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import pandas as pd

from valuelens._errors import ValuelensError
from valuelens.data._io import read_table
from valuelens.data._likert import extract_json_object

PREDICTION_COLUMNS = ["target", "setting", "item", "label", "predicted", "raw", "parse_status"]
_AUTHORS_FILE = re.compile(
    r"^(?:(?P<target>.+)_)?explanation_outputs_"
    r"(?P<setting>attribution_explanation|attribution|explanation|default)\.csv$"
)
_TIDY_NAME = "predictions.parquet"
# ok: read as asked; repaired: read another way; failed: no label found.
LabelStatus = Literal["ok", "repaired", "failed"]
_LABEL_KEYS = ("label", "chosen", "picked", "prediction", "answer")
# The authors' raw format, "Label: True" (possibly followed by attributions and a reason).
_LABEL_LINE = re.compile(r"\blabel\s*[:=]\s*[\"'*]*\s*(true|false)\b", re.IGNORECASE)
_LEADING_WORD = re.compile(r"^\W*(true|false|yes|no)\b", re.IGNORECASE)
_WORDS = {"true": True, "yes": True, "false": False, "no": False}


def as_label(value: object) -> bool | None:
    """A truth label from a bool, 0/1 or a `True`/`False` string; None when it is neither."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _WORDS.get(value.strip().lower())
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    try:  # numpy booleans and integers
        return as_label(value.item())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return None


def parse_label(text: str, *, label_line_ok: bool = False) -> tuple[bool | None, LabelStatus]:
    """Read a binary label from a reply; never raises.

    Accepted, in this order: a JSON object with a boolean `label` (ok; `true`/`"yes"` strings
    and repaired JSON give repaired), the authors' format `Label: True` (ok with
    `label_line_ok`, else repaired), or a reply that starts with true/false/yes/no (repaired).

    Returns:
        (label or None, parse status: ok, repaired or failed).
    """
    try:
        obj, repaired = extract_json_object(text) if "{" in text else (None, False)
    except RecursionError:  # a reply nested too deeply to read as JSON
        obj, repaired = None, False
    if obj is not None:
        fields = {str(k).strip().lower(): v for k, v in obj.items()}
        found = next((fields[k] for k in _LABEL_KEYS if k in fields), None)
        if isinstance(found, bool):
            return found, "repaired" if repaired else "ok"
        if isinstance(found, str) and found.strip().lower() in _WORDS:
            return _WORDS[found.strip().lower()], "repaired"
    line = _LABEL_LINE.search(text)
    if line:
        return line.group(1).lower() == "true", "ok" if label_line_ok else "repaired"
    leading = _LEADING_WORD.match(text)
    if leading:
        return _WORDS[leading.group(1).lower()], "repaired"
    return None, "failed"


def _files(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    given = [paths] if isinstance(paths, str | Path) else list(paths)
    if not given:
        raise ValuelensError("no prediction files given")
    found: list[Path] = []
    for raw in given:
        path = Path(raw).expanduser()
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if _AUTHORS_FILE.match(p.name))
            if not inside and (path / _TIDY_NAME).is_file():
                inside = [path / _TIDY_NAME]
            if not inside:
                raise ValuelensError(
                    f"{path} holds no *_explanation_outputs_<setting>.csv files and no {_TIDY_NAME}"
                )
            found.extend(inside)
        elif path.is_file():
            found.append(path)
        else:
            raise ValuelensError(f"predictions: no such file or folder: {path}")
    return found


def _authors_file(path: Path, target: str, setting: str) -> pd.DataFrame:
    table = read_table(path, what="explanation predictions")
    missing = [c for c in ("label", "result") if c not in table.columns]
    if missing:
        raise ValuelensError(f"{path} lacks column(s) {', '.join(missing)} (label, result)")
    index = next((c for c in table.columns if c.startswith("Unnamed") or c == ""), None)
    items = table[index] if index is not None else pd.Series(range(len(table)))
    parsed = [
        parse_label(r, label_line_ok=True) if isinstance(r, str) else (None, "failed")
        for r in table["result"]
    ]
    return pd.DataFrame(
        {
            "target": target or "unknown",
            "setting": setting,
            "item": items.astype(str).to_list(),
            "label": [as_label(v) for v in table["label"]],
            "predicted": [p for p, _ in parsed],
            "raw": [r if isinstance(r, str) else None for r in table["result"]],
            "parse_status": [s for _, s in parsed],
        },
        columns=PREDICTION_COLUMNS,
    )


def _tidy_file(path: Path) -> pd.DataFrame:
    table = read_table(path, what="predictions")
    missing = [c for c in ("setting", "label", "predicted") if c not in table.columns]
    if missing:
        raise ValuelensError(
            f"{path} is neither an authors' *_explanation_outputs_<setting>.csv file nor a "
            f"predictions table: it lacks {', '.join(missing)}"
        )
    frame = pd.DataFrame(
        {
            "target": table["target"].astype(str) if "target" in table.columns else "unknown",
            "setting": table["setting"].astype(str),
            "item": table["item"].astype(str) if "item" in table.columns else table.index,
            "label": [as_label(v) for v in table["label"]],
            "predicted": [as_label(v) for v in table["predicted"]],
        }
    )
    for column in ("raw", "parse_status"):
        frame[column] = table[column] if column in table.columns else None
    return frame[PREDICTION_COLUMNS]


def load_predictions(paths: str | Path | Iterable[str | Path]) -> pd.DataFrame:
    """Read prediction files (or folders of them) into one tidy table.

    Args:
        paths: files in either layout (see the module docstring), folders, or a mix.

    Returns:
        Columns target, setting, item, label (truth), predicted (None when the reply could not
        be read), raw, parse_status; rows in file order.

    Raises:
        ValuelensError: a path is missing, a folder holds no prediction file, or a file has
            neither layout.
    """
    frames = []
    for path in _files(paths):
        match = _AUTHORS_FILE.match(path.name)
        if match:
            frames.append(_authors_file(path, match["target"] or "", match["setting"]))
        else:
            frames.append(_tidy_file(path))
    table = pd.concat(frames, ignore_index=True)
    for column in ("label", "predicted"):
        table[column] = table[column].astype(object).where(table[column].notna(), None)
    return table
