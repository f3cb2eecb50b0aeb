"""ValueCompass, people's side: survey answers.

A survey holds, per participant and scenario, an answer on -2..2 (2 = strongly agree,
-2 = strongly disagree) or N/A for each value. Two layouts are read:

* the ValueCompass authors' layout: one CSV per scenario (`human_S<n>_<Scenario>.csv`), one row
  per participant, columns `PID`, `location` (country), demographics (`age`, `gender`) and one
  column per value;
* the tidy long layout (CSV or Parquet): one row per answer with the columns
  `participant, country, scenario, value, answer` plus any demographic columns.

Both load into the tidy long layout, with names resolved to the taxonomy and the scenario list.

Example:
    >>> from valuelens.data._survey import load_survey
    >>> survey = load_survey("results/human_eval")  # doctest: +SKIP
    >>> survey.columns.tolist()  # doctest: +SKIP
    ['participant', 'country', 'scenario', 'value', 'answer', 'age', 'gender']
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from valuelens._errors import UnknownNameError, ValuelensError
from valuelens.data._io import canonical_column, read_table
from valuelens.data._scenarios import ScenarioSet, load_scenarios
from valuelens.data._value_names import ValueNames, value_names
from valuelens.taxonomy import Taxonomy, load_taxonomy
from valuelens.taxonomy._taxonomy import one_line

SURVEY_COLUMNS = ("participant", "country", "scenario", "value", "answer")
"""Required columns of the tidy survey layout (demographic columns may follow)."""

DEFAULT_DEMOGRAPHICS = ("age", "gender")
"""Columns of a wide survey file kept as demographics rather than read as values."""

SPELLINGS_ATTR = "demographic_spellings"
"""Key of `load_survey(...).attrs` holding {column: {as written: as read}} for the demographic
answers whose spacing was normalised (`normalise_demographic`)."""

_NUMBER_RANGE = re.compile(r"(\d)\s*[-\u2013\u2014]\s*(\d)")  # hyphen, en and em dash
_PARTICIPANT_HEADERS = ("pid", "participant", "participant_id")
_COUNTRY_HEADERS = ("location", "country")
_MISSING_ANSWERS = frozenset({"", "n/a", "na", "nan", "none"})
_VALID_ANSWERS = (-2.0, -1.0, 0.0, 1.0, 2.0)


class _BadAnswer(ValueError):
    pass


def parse_survey_answer(answer: object) -> float:
    """One survey answer as a float on -2..2; NaN for N/A or an empty cell.

    Raises:
        ValueError: the answer is neither N/A nor one of -2, -1, 0, 1, 2.
    """
    if answer is None or (isinstance(answer, float) and math.isnan(answer)):
        return math.nan
    text = str(answer).strip()
    if text.casefold() in _MISSING_ANSWERS:
        return math.nan
    try:
        number = float(text)
    except ValueError:
        raise _BadAnswer(text) from None
    if number not in _VALID_ANSWERS:
        raise _BadAnswer(text)
    return number


def _answers_as_float(raw: pd.Series, where: str, rows: pd.DataFrame, value_col: str) -> pd.Series:
    """Parse a column of answers, naming the first bad one with its row and column."""
    parsed: dict[object, float] = {}
    for item in pd.unique(raw):
        try:
            parsed[item] = parse_survey_answer(item)
        except _BadAnswer:
            position = int((raw == item).to_numpy().argmax())
            row = rows.iloc[position]
            raise ValuelensError(
                f"{where}: line {int(row['_line'])} (participant {one_line(row['participant'], 60)}),"
                f" value {row[value_col]!r}: answer {one_line(item, 40)} is not -2, -1, 0, 1, 2"
                " or N/A"
            ) from None
    return raw.map(parsed).astype("float64")


def _read_survey_file(path: Path) -> pd.DataFrame:
    """One survey file, cells as text (a Parquet file keeps its float columns as numbers)."""
    frame = read_table(path, what="survey", text=True)
    frame = frame.astype({c: "object" for c in frame.columns if frame[c].dtype != "float64"})
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _find_column(columns: Iterable[str], candidates: Sequence[str]) -> str | None:
    by_fold = {str(c).strip().casefold(): str(c) for c in columns}
    return next((by_fold[c] for c in candidates if c in by_fold), None)


def _scenario_from_file_name(path: Path, scenarios: ScenarioSet) -> str:
    stem = re.sub(r"^human_(S\d+_)?", "", path.stem, flags=re.IGNORECASE)
    try:
        return scenarios.resolve(stem)
    except UnknownNameError as exc:
        raise ValuelensError(
            f"{path.name}: cannot tell the scenario from the file name ({exc}); add a 'scenario' "
            "column or name the file human_S<n>_<Scenario>.csv"
        ) from None


@dataclass(frozen=True)
class _Context:
    taxonomy: Taxonomy
    scenarios: ScenarioSet
    values: ValueNames
    demographics: tuple[str, ...]


def _holds_answers(column: pd.Series) -> bool:
    """Whether every cell of a column reads as a survey answer (-2..2, N/A or empty)."""
    try:
        for item in pd.unique(column):
            parse_survey_answer(item)
    except _BadAnswer:
        return False
    return True


def _wide_value_columns(
    frame: pd.DataFrame, fixed: set[str], ctx: _Context, where: str
) -> dict[str, str]:
    """Map each value column of a wide file to its canonical value; check none is missing.

    A column that names no value is kept as a demographic when its cells are not answers
    (e.g. an `education` column of degree names); one that holds answers is a misspelled
    value, and its name is an error with a suggestion.
    """
    columns: dict[str, str] = {}
    for column in frame.columns:
        if column in fixed or column.strip().casefold() in ctx.demographics:
            continue
        if ctx.values.match(column) is None and not _holds_answers(frame[column]):
            continue
        value = ctx.values.resolve(column, where=f"{where}: column")
        if value in columns.values():
            raise ValuelensError(f"{where}: two columns are the value {value!r}")
        columns[column] = value
    missing = [v for v in ctx.values.canonical if v not in columns.values()]
    if missing:
        shown = ", ".join(repr(v) for v in missing[:3]) + (" ..." if len(missing) > 3 else "")
        raise ValuelensError(f"{where}: {len(missing)} value column(s) missing: {shown}")
    return columns


def _read_wide(
    path: Path, frame: pd.DataFrame, scenario: str | None, ctx: _Context
) -> pd.DataFrame:
    where = path.name
    participant = _find_column(frame.columns, _PARTICIPANT_HEADERS)
    country = _find_column(frame.columns, _COUNTRY_HEADERS)
    scenario_col = _find_column(frame.columns, ("scenario",))
    for found, names in ((participant, _PARTICIPANT_HEADERS), (country, _COUNTRY_HEADERS)):
        if found is None:
            raise ValuelensError(f"{where}: no {names[0]!r} column (expected one of {list(names)})")
    assert participant is not None and country is not None
    fixed = {participant, country, "_line", "_file"} | ({scenario_col} if scenario_col else set())
    values = _wide_value_columns(frame, fixed, ctx, where)
    demographics = [c for c in frame.columns if c not in fixed and c not in values]
    frame = frame.rename(columns={participant: "participant", country: "country"})
    if scenario_col is not None:
        frame = frame.rename(columns={scenario_col: "scenario"})
    else:
        frame["scenario"] = scenario or _scenario_from_file_name(path, ctx.scenarios)
    frame = frame.rename(columns={c: c.strip().lower() for c in demographics})
    keep = [
        "participant",
        "country",
        "scenario",
        "_line",
        "_file",
        *[c.strip().lower() for c in demographics],
    ]
    long = frame.melt(id_vars=keep, value_vars=list(values), var_name="value", value_name="answer")
    long["value"] = long["value"].map(values)
    return long


def _read_tidy(
    path: Path, frame: pd.DataFrame, scenario: str | None, ctx: _Context
) -> pd.DataFrame:
    where = path.name
    frame = frame.rename(columns={c: c.strip().lower() for c in frame.columns})
    if "scenario" not in frame.columns and scenario:
        frame["scenario"] = scenario
    missing = [c for c in SURVEY_COLUMNS if c not in frame.columns]
    if missing:
        raise ValuelensError(f"{where}: missing column(s) {', '.join(missing)} for a tidy survey")
    mapping = {
        v: ctx.values.resolve(str(v), where=f"{where}: column 'value'")
        for v in pd.unique(frame["value"])
    }
    frame["value"] = frame["value"].map(mapping)
    return frame


def _finish(long: pd.DataFrame, where: str, ctx: _Context) -> pd.DataFrame:
    long["participant"] = long["participant"].astype(str).str.strip()
    if (long["participant"] == "").any():
        line = int(long.loc[long["participant"] == "", "_line"].iloc[0])
        raise ValuelensError(f"{where}: line {line}: empty participant id")
    lines = long["_line"].to_numpy()

    def file_line(position: int) -> str:
        return f"line {int(lines[position])}"

    for column, resolve in (
        ("country", ctx.taxonomy.resolve_country),
        ("scenario", ctx.scenarios.resolve),
    ):
        long[column] = canonical_column(
            long[column], resolve, where=where, what=column, row_label=file_line
        )
    long["answer"] = _answers_as_float(long["answer"], where, long, "value")
    return long


def _is_tidy(frame: pd.DataFrame) -> bool:
    lowered = {str(c).strip().lower() for c in frame.columns}
    return {"value", "answer"} <= lowered


def _survey_files(path: Path) -> list[Path]:
    if not path.exists():
        raise ValuelensError(f"survey path not found: {path}")
    if path.is_file():
        return [path]
    files = sorted(path.glob("human_*.csv")) or sorted(
        p for p in path.iterdir() if p.suffix.lower() in {".csv", ".parquet"}
    )
    if not files:
        raise ValuelensError(f"no survey files (*.csv, *.parquet) in {path}")
    return files


def load_survey(
    path: str | Path,
    *,
    scenario: str | None = None,
    taxonomy: Taxonomy | None = None,
    scenarios: ScenarioSet | None = None,
    aliases: str | Path | Mapping[str, str] | None = None,
    demographics: Sequence[str] = DEFAULT_DEMOGRAPHICS,
) -> pd.DataFrame:
    """Load people's survey answers into the tidy long layout.

    Args:
        path: a folder of the authors' `human_S*.csv` files (or of any survey files), one
            authors'-layout CSV, or a tidy CSV/Parquet file.
        scenario: the scenario of a file that has no `scenario` column and no scenario in its name.
        taxonomy: resolves country and value names (default: the built-in taxonomy).
        scenarios: resolves scenario names (default: the built-in scenarios).
        aliases: extra value-name aliases (mapping or YAML file).
        demographics: columns of a wide file kept as demographics (case-insensitive).

    Returns:
        One row per answer: participant, country, scenario, value, answer (float -2..2, NaN for
        N/A or empty), followed by the demographic columns found (those named in
        `demographics`, and in a wide file any other column that holds no answers), with their
        spacing normalised; `attrs["demographic_spellings"]` records what was changed. Values
        are in taxonomy order.

    Raises:
        ValuelensError: a missing column, an unknown name or an answer outside -2..2 / N/A.
    """
    tax = taxonomy or load_taxonomy()
    ctx = _Context(
        taxonomy=tax,
        scenarios=scenarios or load_scenarios(),
        values=value_names(tax, aliases),
        demographics=tuple(d.strip().casefold() for d in demographics),
    )
    chosen = ctx.scenarios.resolve(scenario) if scenario else None
    parts = []
    for index, file in enumerate(_survey_files(Path(path))):
        frame = _read_survey_file(file)
        frame["_line"] = range(2, len(frame) + 2)
        frame["_file"] = index
        reader = _read_tidy if _is_tidy(frame) else _read_wide
        parts.append(_finish(reader(file, frame, chosen, ctx), file.name, ctx))
    survey = pd.concat(parts, ignore_index=True)
    _check_unique(survey)
    survey = _ordered(survey, ctx)
    survey.attrs[SPELLINGS_ATTR] = _normalise_demographics(survey)
    return survey


def normalise_demographic(text: str) -> str:
    """One demographic answer with its spacing made uniform.

    Whitespace is collapsed and a dash between two numbers loses its spaces, so the authors'
    "35 - 44 years old" and "25-34 years old" read as the same kind of band.

    Example:
        >>> normalise_demographic(" 35 - 44  years old")
        '35-44 years old'
    """
    text = " ".join(text.split())
    return _NUMBER_RANGE.sub(r"\1-\2", text)


def _normalise_demographics(survey: pd.DataFrame) -> dict[str, dict[str, str]]:
    """Normalise the text of every demographic column in place; return what was changed."""
    changed: dict[str, dict[str, str]] = {}
    for column in survey.columns:
        if column in SURVEY_COLUMNS or pd.api.types.is_numeric_dtype(survey[column]):
            continue
        mapping = {
            raw: normalise_demographic(raw)
            for raw in pd.unique(survey[column].dropna())
            if isinstance(raw, str)
        }
        spelled = {raw: new for raw, new in mapping.items() if raw != new}
        if spelled:
            survey[column] = survey[column].replace(spelled)
            changed[str(column)] = spelled
    return changed


def _check_unique(survey: pd.DataFrame) -> None:
    dupes = survey.duplicated(["participant", "scenario", "value"], keep=False)
    if dupes.any():
        first = survey.loc[dupes].iloc[0]
        raise ValuelensError(
            f"participant {one_line(first['participant'], 60)} answers {first['value']!r} twice in "
            "scenario "
            f"{first['scenario']!r}"
        )


def _ordered(survey: pd.DataFrame, ctx: _Context) -> pd.DataFrame:
    order = {
        "scenario": {n: i for i, n in enumerate(ctx.scenarios.names)},
        "value": {n: i for i, n in enumerate(ctx.values.canonical)},
    }
    survey["_s"] = survey["scenario"].map(order["scenario"])
    survey["_v"] = survey["value"].map(order["value"])
    # Participants in the order they first appear, each with its values in taxonomy order.
    survey["_p"] = survey.groupby(["scenario", "participant"], sort=False)["_line"].transform("min")
    survey = survey.sort_values(["_s", "_file", "_p", "_v"], kind="stable")
    extra = [c for c in survey.columns if c not in SURVEY_COLUMNS and not c.startswith("_")]
    return survey[[*SURVEY_COLUMNS, *extra]].reset_index(drop=True)
