"""Reading run directories (`summary.json` plus tables) into typed values for the report.

A value-action run comes from `valuelens score` or `valuelens evaluate`; a compass run from
`valuelens compass score`. Only `summary.json` and the core table of each kind are required;
every other table is optional and the report leaves out the sections it would feed. A run of any
other kind with a registered summary model (`valuelens.runs.register_summary_model`) loads as a
`GenericRun`, for report sections (`valuelens.report.register_section`) to read.

Example:
    >>> runs = load_runs([Path("runs/gpt-4o-mini"), Path("runs/llama")])  # doctest: +SKIP
    >>> runs[0].label, len(runs[0].pairs)  # doctest: +SKIP
    ('gpt-4o-mini', 7392)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from valuelens._errors import ValuelensError
from valuelens.runs import (
    COMPASS,
    SUMMARY_MODELS,
    VALUE_ACTION,
    CompassSummary,
    RunKind,
    RunRecord,
    RunSummary,
    ValueActionSummary,
    read_run,
)


@dataclass(frozen=True)
class ValueActionRun:
    """One value-action run: Task 1 statements against Task 2 choices."""

    path: Path
    label: str
    summary: ValueActionSummary
    pairs: pd.DataFrame
    distance_country: pd.DataFrame
    distance_topic: pd.DataFrame
    scenarios: pd.DataFrame | None = None
    variants: pd.DataFrame | None = None
    responses_stated: pd.DataFrame | None = None
    responses_action: pd.DataFrame | None = None
    actions: pd.DataFrame | None = None
    record: RunRecord | None = field(default=None, repr=False, compare=False)
    """The run directory, for tables of added tasks (`record.optional_table("responses_x")`)."""

    @property
    def kind(self) -> RunKind:
        """The run kind as written in `summary.json`."""
        return VALUE_ACTION

    @property
    def has_items(self) -> bool:
        """Whether item-level data (from `valuelens evaluate`) is present."""
        return self.responses_stated is not None or self.responses_action is not None

    @property
    def countries(self) -> list[str]:
        """Countries in the order of the run's tables (the taxonomy order)."""
        return _ordered(self.pairs["country"])

    @property
    def topics(self) -> list[str]:
        """Topics in the order of the run's tables."""
        return _ordered(self.pairs["topic"])

    @property
    def values(self) -> list[str]:
        """Values in the order of the run's tables."""
        return _ordered(self.pairs["value"])


@dataclass(frozen=True)
class CompassRun:
    """One ValueCompass run: human survey answers against one model's answers."""

    path: Path
    label: str
    summary: CompassSummary
    cells: pd.DataFrame | None
    cell_scores: pd.DataFrame | None
    distance_country: pd.DataFrame | None
    distance_scenario: pd.DataFrame | None
    record: RunRecord | None = field(default=None, repr=False, compare=False)
    """The run directory, for tables the report does not read itself."""

    @property
    def kind(self) -> RunKind:
        """The run kind as written in `summary.json`."""
        return COMPASS


@dataclass(frozen=True)
class GenericRun:
    """A run of another registered kind: its summary, and its record to read tables from.

    Example:
        >>> run = load_run(Path("runs/harms"))  # doctest: +SKIP
        >>> run.kind, run.record.optional_table("harms") is not None  # doctest: +SKIP
        ('harms', True)
    """

    path: Path
    label: str
    kind: str
    summary: RunSummary
    record: RunRecord


Run = ValueActionRun | CompassRun
"""A run the report and `compare` score: value-action or ValueCompass."""
LoadedRun = ValueActionRun | CompassRun | GenericRun
"""Any run `load_run` reads."""

# Compass tables are written by another stage; accept the spellings it may reasonably use.
_COMPASS_ALIASES = {
    "scenario": ("scenario", "topic"),
    "human": ("human", "human_score", "human_mean", "human_normalized", "human_value"),
    "model": ("model", "llm", "model_score", "llm_score", "model_normalized", "llm_normalized"),
    "alignment_rate": ("alignment_rate", "f1"),
}


def load_runs(paths: Sequence[Path]) -> list[LoadedRun]:
    """Load several run directories; labels are made unique so the report can tell runs apart.

    Raises:
        ValuelensError: when no directory is given or one cannot be read.
    """
    if not paths:
        raise ValuelensError("give at least one run directory")
    runs = [load_run(Path(p)) for p in paths]
    seen: dict[str, int] = {}
    unique: list[LoadedRun] = []
    for run in runs:
        count = seen.get(run.label, 0)
        seen[run.label] = count + 1
        if count:
            run = _relabel(run, f"{run.label} ({run.path.name or count + 1})")
        unique.append(run)
    return unique


def load_run(path: Path) -> LoadedRun:
    """Load one run directory written by `valuelens score`, `evaluate` or `compass score`.

    A run of another kind that has a registered summary model loads as a `GenericRun`.

    Raises:
        ValuelensError: when the directory, its summary or a required table is missing or
            broken, or when its kind has no registered summary model.
    """
    record = read_run(path)
    label = record.summary.name or path.name
    if isinstance(record.summary, ValueActionSummary):
        return _load_value_action(record, label, record.summary)
    if isinstance(record.summary, CompassSummary):
        return _load_compass(record, label, record.summary)
    if record.kind in SUMMARY_MODELS:
        return GenericRun(path, label, record.kind, record.summary, record)
    raise ValuelensError(
        f"{path}/summary.json: unknown run kind {record.kind!r} "
        "(known: " + ", ".join(SUMMARY_MODELS) + "; `register_summary_model` adds one)"
    )


def _require(table: pd.DataFrame, columns: Sequence[str], path: Path, name: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValuelensError(f"table {name!r} in {path} lacks column(s): {', '.join(missing)}")


def _load_value_action(
    record: RunRecord, label: str, summary: ValueActionSummary
) -> ValueActionRun:
    path = record.path
    pairs = record.table("pairs")
    _require(pairs, ["country", "topic", "value", "stated", "chosen"], path, "pairs")
    pairs = _complete_pairs(pairs)
    return ValueActionRun(
        path=path,
        label=label,
        summary=summary,
        pairs=pairs,
        distance_country=_distance_table(
            record.optional_table("distance_country"), pairs, "country", path
        ),
        distance_topic=_distance_table(
            record.optional_table("distance_topic"), pairs, "topic", path
        ),
        scenarios=record.optional_table("scenarios"),
        variants=record.optional_table("variants"),
        responses_stated=record.optional_table("responses_stated"),
        responses_action=record.optional_table("responses_action"),
        actions=record.optional_table("actions"),
        record=record,
    )


def _complete_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """Fill derivable columns that an older or hand-made pairs table may lack."""
    pairs = pairs.copy()
    for column in ("country", "topic", "value"):
        pairs[column] = pairs[column].astype(str)
    for column in ("stated", "chosen"):
        pairs[column] = pd.to_numeric(pairs[column], errors="coerce")
    stated_bin = np.where(pairs["stated"].isna(), np.nan, (pairs["stated"] >= 0.5).astype(float))
    chosen_bin = np.where(pairs["chosen"].isna(), np.nan, (pairs["chosen"] >= 0.5).astype(float))
    if "misaligned" not in pairs.columns:
        pairs["misaligned"] = np.where(
            np.isnan(stated_bin) | np.isnan(chosen_bin), np.nan, (stated_bin != chosen_bin) * 1.0
        )
    pairs["misaligned"] = pd.to_numeric(pairs["misaligned"], errors="coerce")
    if "direction" not in pairs.columns:
        misaligned = pairs["misaligned"].to_numpy() == 1
        pairs["direction"] = np.where(
            misaligned & (stated_bin == 0),
            "stated_agree_chose_negative",
            np.where(misaligned & (stated_bin == 1), "stated_disagree_chose_positive", ""),
        )
    pairs["direction"] = pairs["direction"].fillna("").astype(str)
    return pairs


def _distance_table(
    table: pd.DataFrame | None, pairs: pd.DataFrame, axis: str, path: Path
) -> pd.DataFrame:
    """Use the run's distance table, or derive it from the pairs (mean over the other axis)."""
    if table is not None:
        _require(table, [axis, "value", "distance"], path, f"distance_{axis}")
        table = table.copy()
        table[axis] = table[axis].astype(str)
        table["value"] = table["value"].astype(str)
        return table
    means = pairs.groupby([axis, "value"], sort=False)[["stated", "chosen"]].mean().reset_index()
    means["distance"] = (means["stated"] - means["chosen"]).abs()
    means["rank"] = means.groupby(axis, sort=False)["distance"].rank(
        ascending=False, method="first"
    )
    return means


def _load_compass(record: RunRecord, label: str, summary: CompassSummary) -> CompassRun:
    cells = _canonical_compass(record.optional_table("cells"))
    distance_country = _canonical_compass(record.optional_table("distance_country"))
    distance_scenario = _canonical_compass(record.optional_table("distance_scenario"))
    if cells is not None and {"human", "model", "value"} <= set(cells.columns):
        if distance_country is None and "country" in cells.columns:
            distance_country = _compass_distance(cells, "country")
        if distance_scenario is None and "scenario" in cells.columns:
            distance_scenario = _compass_distance(cells, "scenario")
    return CompassRun(
        path=record.path,
        label=label,
        summary=summary,
        cells=cells,
        cell_scores=_canonical_compass(record.optional_table("cell_scores")),
        distance_country=distance_country,
        distance_scenario=distance_scenario,
        record=record,
    )


def _canonical_compass(table: pd.DataFrame | None) -> pd.DataFrame | None:
    if table is None:
        return None
    renames: dict[str, str] = {}
    for canonical, aliases in _COMPASS_ALIASES.items():
        if canonical in table.columns:
            continue
        found = next((a for a in aliases if a in table.columns), None)
        if found is not None:
            renames[found] = canonical
    table = table.rename(columns=renames)
    for column in ("country", "scenario", "value"):
        if column in table.columns:
            table[column] = table[column].astype(str)
    return table


def _compass_distance(cells: pd.DataFrame, axis: str) -> pd.DataFrame:
    means = cells.groupby([axis, "value"], sort=False)[["human", "model"]].mean().reset_index()
    means["distance"] = (means["human"] - means["model"]).abs()
    means["rank"] = means.groupby(axis, sort=False)["distance"].rank(
        ascending=False, method="first"
    )
    return means


def _ordered(column: pd.Series) -> list[str]:
    return [str(x) for x in pd.unique(column.astype(str))]


def _relabel(run: LoadedRun, label: str) -> LoadedRun:
    return replace(run, label=label)
