"""ValueCompass, people's side: scenarios, value-name aliases and survey answers.

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

import difflib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from valuelens._errors import UnknownNameError, ValuelensError
from valuelens.taxonomy import Taxonomy, load_taxonomy, normalize_name
from valuelens.taxonomy._taxonomy import (
    describe_validation_error,
    one_line,
    read_mapping_file,
    shown,
)

SURVEY_COLUMNS = ("participant", "country", "scenario", "value", "answer")
"""Required columns of the tidy survey layout (demographic columns may follow)."""

DEFAULT_DEMOGRAPHICS = ("age", "gender")
"""Columns of a wide survey file kept as demographics rather than read as values."""

_PARTICIPANT_HEADERS = ("pid", "participant", "participant_id")
_COUNTRY_HEADERS = ("location", "country")
_MISSING_ANSWERS = frozenset({"", "n/a", "na", "nan", "none"})
_VALID_ANSWERS = (-2.0, -1.0, 0.0, 1.0, 2.0)
_DATA_DIR = Path(__file__).parent
_MAX_NAME_CHARS = 200
_SCENARIO_FILE_KEYS = ("version", "scenarios", "authors_llm_countries")
_ALIAS_FILE_KEYS = ("version", "aliases")


def _fold(name: str) -> str:
    """Matching key for scenario names: case, '_' and '-' and spacing do not matter."""
    return re.sub(r"[\s_\-]+", " ", str(name)).strip().casefold()


def _fold_value(name: str) -> str:
    """Matching key for value names: case and spacing do not matter (hyphens do)."""
    return normalize_name(name).casefold()


def _read_yaml(path: Path, what: str, keys: Iterable[str]) -> dict[str, Any]:
    """A YAML file's mapping; a top-level key outside `keys` is an error (a typo loses data)."""
    data = read_mapping_file(path, what)
    allowed = list(keys)
    unknown = [k for k in data if k not in allowed]
    if unknown:
        raise ValuelensError(
            f"{what} file {path}: unknown key {shown(unknown[0])} (expected {', '.join(allowed)})"
        )
    return data


# --------------------------------------------------------------------------------------------
# Scenarios


class AuthorsLayout(BaseModel):
    """Where a scenario sits in the ValueCompass authors' files (only needed to import them)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    human_file: int | None = None
    llm_index: int | None = None
    keyword: str = ""


class CompassScenario(BaseModel):
    """One situation in which an AI system assists people."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1, max_length=_MAX_NAME_CHARS)
    key: str = Field("", max_length=_MAX_NAME_CHARS)
    label: str = Field("", max_length=_MAX_NAME_CHARS)
    aliases: tuple[Annotated[str, Field(max_length=_MAX_NAME_CHARS)], ...] = ()
    vignette: str = ""
    authors: AuthorsLayout = AuthorsLayout()

    @model_validator(mode="after")
    def _clean(self) -> CompassScenario:
        if not normalize_name(self.name):
            raise ValueError("a scenario name is empty")
        object.__setattr__(self, "name", normalize_name(self.name))
        object.__setattr__(self, "vignette", normalize_name(self.vignette))
        return self

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every accepted spelling: name, key, label and aliases."""
        return tuple(s for s in (self.name, self.key, self.label, *self.aliases) if s)


class ScenarioSet(BaseModel):
    """The ordered list of scenarios; order is the order of reports and prompts."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    version: str = "custom"
    scenarios: tuple[CompassScenario, ...] = Field(min_length=1)
    authors_llm_countries: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _unambiguous(self) -> ScenarioSet:
        owner: dict[str, str] = {}
        for scenario in self.scenarios:
            for spelling in {_fold(s) for s in scenario.spellings}:
                if owner.setdefault(spelling, scenario.name) != scenario.name:
                    raise ValueError(
                        f"{shown(spelling)} names both {shown(owner[spelling])} and "
                        f"{shown(scenario.name)}"
                    )
        return self

    @cached_property
    def names(self) -> list[str]:
        """Scenario names in order."""
        return [s.name for s in self.scenarios]

    @cached_property
    def _by_spelling(self) -> dict[str, str]:
        return {_fold(sp): s.name for s in self.scenarios for sp in s.spellings}

    def get(self, name: str) -> CompassScenario:
        """The scenario with this name or any accepted spelling."""
        canonical = self.resolve(name)
        return next(s for s in self.scenarios if s.name == canonical)

    def resolve(self, name: str) -> str:
        """Canonical scenario name, or a one-line error that lists close matches."""
        folded = _fold(name)
        if folded in self._by_spelling:
            return self._by_spelling[folded]
        close = (
            difflib.get_close_matches(folded, list(self._by_spelling), n=3, cutoff=0.6)
            if len(folded) <= _MAX_NAME_CHARS
            else []
        )
        names = list(dict.fromkeys(self._by_spelling[c] for c in close))
        hint = f"; did you mean {', '.join(repr(n) for n in names)}?" if names else ""
        known = ", ".join(self.names)
        raise UnknownNameError(f"unknown scenario {shown(str(name))}{hint} (known: {known})")

    def resolve_many(self, names: str | Sequence[str] | None) -> list[str]:
        """Resolve a comma-separated string or a list; None or "all" selects every scenario."""
        if names is None or (isinstance(names, str) and names.strip().lower() in {"", "all"}):
            return list(self.names)
        items = names.split(",") if isinstance(names, str) else list(names)
        return [self.resolve(n) for n in items if n.strip()]

    def find_in_text(self, text: str) -> str | None:
        """The scenario whose authors' keyword occurs in `text` (case-sensitive), if exactly one."""
        found = [s.name for s in self.scenarios if s.authors.keyword and s.authors.keyword in text]
        return found[0] if len(found) == 1 else None

    def from_authors_index(self, *, llm_index: int) -> str | None:
        """The scenario with this index `s` in the authors' LLM file names."""
        return next((s.name for s in self.scenarios if s.authors.llm_index == llm_index), None)

    def label(self, name: str) -> str:
        """Short label for figures."""
        scenario = self.get(name)
        return scenario.label or scenario.name


def _validated_scenarios(data: dict[str, Any], source: str) -> ScenarioSet:
    try:
        return ScenarioSet.model_validate(data)
    except ValidationError as exc:
        raise ValuelensError(
            f"invalid scenarios in {source}: {describe_validation_error(exc)}"
        ) from None


def load_scenarios(path: str | Path | None = None, *, replace: bool = False) -> ScenarioSet:
    """Load the built-in scenarios, optionally extended or replaced by a user's YAML file.

    Args:
        path: a YAML file with a `scenarios` list (items with `name`, `vignette` and optional
            `key`, `label`, `aliases`). A scenario with a built-in name (ignoring case, spaces,
            '_' and '-') replaces the built-in one.
        replace: use only the file's scenarios.

    Returns:
        The scenario list.

    Raises:
        ValuelensError: the file cannot be read or does not have that shape (one line naming
            the file and the first offending entry).
    """
    builtin = _read_yaml(_DATA_DIR / "scenarios.yaml", "scenarios", _SCENARIO_FILE_KEYS)
    if path is None:
        return _validated_scenarios(builtin, "the built-in scenarios")
    extra = _read_yaml(Path(path), "scenarios", _SCENARIO_FILE_KEYS)
    if not isinstance(extra.get("scenarios"), list):
        raise ValuelensError(
            f"scenarios file {path} must have a 'scenarios' list, not "
            f"{shown(extra.get('scenarios'))}"
        )
    items: list[Any] = [] if replace else list(builtin["scenarios"])
    for index, item in enumerate(extra["scenarios"]):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            raise ValuelensError(
                f"invalid scenarios in {path}: scenarios[{index}] must be a mapping with a "
                f"'name' (found {shown(item if name is None else name)})"
            )
        items = [i for i in items if _fold(i["name"]) != _fold(name)] + [item]
    merged = {
        "version": extra.get("version", f"{builtin['version']}+custom"),
        "scenarios": items,
        "authors_llm_countries": extra.get(
            "authors_llm_countries", builtin.get("authors_llm_countries", [])
        ),
    }
    return _validated_scenarios(merged, str(path))


# --------------------------------------------------------------------------------------------
# Value names


def load_value_aliases(path: str | Path | None = None) -> dict[str, str]:
    """The built-in value-name aliases, plus those of a user's YAML file (`aliases:` mapping).

    Returns:
        Alias -> canonical value name.

    Raises:
        ValuelensError: the file cannot be read, or `aliases` is not a mapping of names to names.
    """
    sources = [_DATA_DIR / "value_aliases.yaml"] + ([Path(path)] if path is not None else [])
    aliases: dict[str, str] = {}
    for source in sources:
        data = _read_yaml(source, "value aliases", _ALIAS_FILE_KEYS).get("aliases") or {}
        if not isinstance(data, dict):
            raise ValuelensError(
                f"value aliases file {source}: 'aliases' must be a mapping "
                f"(alias: canonical name), not {shown(data)}"
            )
        for alias, name in data.items():
            if not isinstance(alias, str) or not isinstance(name, str):
                bad = name if isinstance(alias, str) else alias
                raise ValuelensError(
                    f"value aliases file {source}: aliases[{shown(alias)}]: expected a name, "
                    f"found {shown(bad)}"
                )
            if not normalize_name(alias) or not normalize_name(name):
                raise ValuelensError(
                    f"value aliases file {source}: aliases[{shown(alias)}]: a name is empty"
                )
            aliases[normalize_name(alias)] = normalize_name(name)
    return aliases


@dataclass(frozen=True)
class ValueNames:
    """Matches spellings of value names to the canonical taxonomy names.

    Attributes:
        canonical: the value names in taxonomy order.
        aliases: alias -> canonical name (aliases to names outside `canonical` are ignored).
    """

    canonical: tuple[str, ...]
    aliases: Mapping[str, str]

    @cached_property
    def _lookup(self) -> dict[str, str]:
        known = set(self.canonical)
        table = {_fold_value(a): c for a, c in self.aliases.items() if c in known}
        table.update({_fold_value(c): c for c in self.canonical})
        return table

    def match(self, name: str, *, loose: bool = False) -> str | None:
        """The canonical name for `name`, or None.

        Args:
            name: a spelling (case and spacing are ignored).
            loose: also ignore punctuation around the name (for model-written JSON keys such as
                `"_successful"`).
        """
        key = _fold_value(name)
        if loose:
            key = re.sub(r"^[\W_]+|[\W_]+$", "", key)
        return self._lookup.get(key)

    def resolve(self, name: str, *, where: str) -> str:
        """The canonical name, or a one-line error that says where the bad name was found."""
        found = self.match(name)
        if found is not None:
            return found
        key = _fold_value(name)
        close = (
            difflib.get_close_matches(key, list(self._lookup), n=1, cutoff=0.6)
            if len(key) <= _MAX_NAME_CHARS
            else []
        )
        hint = f"; did you mean {self._lookup[close[0]]!r}?" if close else ""
        raise ValuelensError(
            f"{where}: {shown(str(name))} is not a known value name{hint} "
            "(add it to an aliases file with --aliases if it is another spelling)"
        )


def value_names(
    taxonomy: Taxonomy | None = None, aliases: str | Path | Mapping[str, str] | None = None
) -> ValueNames:
    """Value-name matcher for a taxonomy, with the built-in aliases plus the given ones.

    Args:
        taxonomy: defaults to the built-in taxonomy.
        aliases: extra aliases, as a mapping or a YAML file path.
    """
    tax = taxonomy or load_taxonomy()
    if isinstance(aliases, Mapping):
        table = {**load_value_aliases(), **{normalize_name(k): v for k, v in aliases.items()}}
    else:
        table = load_value_aliases(aliases)
    return ValueNames(tuple(tax.value_names), table)


# --------------------------------------------------------------------------------------------
# Survey answers


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


def _read_table(path: Path) -> pd.DataFrame:
    try:
        if path.suffix.lower() == ".parquet":
            frame = pd.read_parquet(path)
            frame = frame.astype(
                {c: "object" for c in frame.columns if frame[c].dtype != "float64"}
            )
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise ValuelensError(f"file not found: {path}") from None
    except pd.errors.EmptyDataError:
        raise ValuelensError(f"{path} is empty") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        reason = one_line(exc) if str(exc).strip() else type(exc).__name__
        raise ValuelensError(f"cannot read {path}: {reason}") from None
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


def _resolve_column(
    frame: pd.DataFrame, column: str, resolve: Any, where: str, what: str
) -> pd.Series:
    mapping: dict[object, str] = {}
    for item in pd.unique(frame[column]):
        text = "" if item is None else str(item).strip()
        if not text or text.casefold() == "nan":
            line = int(frame.loc[frame[column].astype(str) == str(item), "_line"].iloc[0])
            raise ValuelensError(f"{where}: line {line}: empty {what}")
        try:
            mapping[item] = resolve(text)
        except UnknownNameError as exc:
            raise ValuelensError(f"{where}: {exc}") from None
    return frame[column].map(mapping)


@dataclass(frozen=True)
class _Context:
    taxonomy: Taxonomy
    scenarios: ScenarioSet
    values: ValueNames
    demographics: tuple[str, ...]


def _wide_value_columns(
    frame: pd.DataFrame, fixed: set[str], ctx: _Context, where: str
) -> dict[str, str]:
    """Map each value column of a wide file to its canonical value; check none is missing."""
    columns: dict[str, str] = {}
    for column in frame.columns:
        if column in fixed or column.strip().casefold() in ctx.demographics:
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
    long["country"] = _resolve_column(
        long, "country", ctx.taxonomy.resolve_country, where, "country"
    )
    long["scenario"] = _resolve_column(long, "scenario", ctx.scenarios.resolve, where, "scenario")
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
        N/A or empty), followed by the demographic columns found. Values are in taxonomy order.

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
        frame = _read_table(file)
        if frame.empty:
            raise ValuelensError(f"{file.name} has a header but no rows")
        frame["_line"] = range(2, len(frame) + 2)
        frame["_file"] = index
        reader = _read_tidy if _is_tidy(frame) else _read_wide
        parts.append(_finish(reader(file, frame, chosen, ctx), file.name, ctx))
    survey = pd.concat(parts, ignore_index=True)
    _check_unique(survey)
    return _ordered(survey, ctx)


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
