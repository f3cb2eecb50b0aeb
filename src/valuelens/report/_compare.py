"""Comparing runs: a leaderboard, and each measure by country and by topic (or scenario).

Pure data, shared by the report's comparison section (`valuelens report`) and by
`valuelens compare`, which prints it and writes it as CSV and JSON. Numbers come from each run's
`summary.json`; a run whose summary lacks a per-country or per-topic measure falls back to its
tables, as the report does.

Example:
    >>> runs = load_runs([Path("runs/gpt-4o-mini"), Path("runs/gemma")])  # doctest: +SKIP
    >>> comparison = compare_runs(runs, sort="alignment_rate")  # doctest: +SKIP
    >>> [(e.label, round(e.alignment_rate, 3)) for e in comparison.leaderboard]  # doctest: +SKIP
    [('gpt-4o-mini', 0.564), ('gemma', 0.461)]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import pandas as pd

from valuelens._errors import ValuelensError
from valuelens.report._load import COMPASS, VALUE_ACTION, Run, ValueActionRun

SortKey = Literal["alignment_rate", "distance", "accuracy"]
SORT_KEYS: tuple[SortKey, ...] = ("alignment_rate", "distance", "accuracy")
Measure = Literal["alignment_rate", "accuracy", "distance_mean"]

# measure -> (how it reads, higher is better)
MEASURES: dict[Measure, tuple[str, bool]] = {
    "alignment_rate": ("alignment rate", True),
    "distance_mean": ("mean distance", False),
    "accuracy": ("accuracy", True),
}
COMPARED: tuple[Measure, ...] = ("alignment_rate", "distance_mean")
"""The measures a comparison tabulates by country and by topic or scenario."""
AXES = {VALUE_ACTION: ("country", "topic"), COMPASS: ("country", "scenario")}
_PLURAL = {"country": "countries", "topic": "topics", "scenario": "scenarios", "value": "values"}
_KIND_NAMES = {VALUE_ACTION: "value-action", COMPASS: "ValueCompass"}
_SHOWN = 4  # names listed in a difference before "and N more"


@dataclass(frozen=True)
class Entry:
    """One leaderboard row. Value-action only: `misaligned`, `n_pairs_without_choice`."""

    rank: int
    label: str
    model: str
    path: str
    alignment_rate: float
    ci_low: float
    ci_high: float
    accuracy: float
    misaligned: int | None
    distance_mean: float
    """Mean |stated - chosen| (or |human - model|) over the country x value matrix."""
    n_pairs: int | None
    n_pairs_without_choice: int | None


@dataclass(frozen=True)
class AxisRow:
    """One country, topic or scenario: the measure of each run, in the table's run order."""

    name: str
    values: list[float]
    best: float
    """The best value; NaN unless at least two runs have one (so nothing is marked alone)."""
    spread: float
    """Best minus worst (always >= 0); NaN unless at least two runs have a value."""


@dataclass(frozen=True)
class AxisTable:
    """A measure by country, topic or scenario, one column per run (leaderboard order)."""

    axis: str
    key: Measure
    measure: str
    higher_better: bool
    runs: list[str]
    rows: list[AxisRow]


@dataclass(frozen=True)
class Comparison:
    """Everything `valuelens compare` shows about a set of runs of one kind."""

    kind: str
    sort: SortKey
    leaderboard: list[Entry]
    axes: list[AxisTable]
    differences: list[str]
    """What differs between the runs' pair sets, one phrase each (empty when they match)."""
    scoring_modes: dict[str, str]
    """Run label -> 'paper-compatible' or 'default', when the runs do not all agree."""

    def table(self, axis: str, key: Measure = "alignment_rate") -> AxisTable:
        """The table of `key` by `axis`."""
        return next(t for t in self.axes if t.axis == axis and t.key == key)


def compare_runs(runs: Sequence[Run], sort: SortKey = "alignment_rate") -> Comparison:
    """Rank runs of one kind by `sort` and tabulate each measure by country and topic/scenario.

    Raises:
        ValuelensError: when no run is given, the runs mix value-action and ValueCompass runs,
            or `sort` is unknown.
    """
    if not runs:
        raise ValuelensError("give at least one run directory")
    if sort not in SORT_KEYS:
        raise ValuelensError(f"--sort takes {', '.join(SORT_KEYS)}, not {sort!r}")
    kinds = {r.kind for r in runs}
    if len(kinds) > 1:
        listed = "; ".join(
            f"{_KIND_NAMES[k]}: {', '.join(r.label for r in runs if r.kind == k)}"
            for k in (VALUE_ACTION, COMPASS)
        )
        raise ValuelensError(
            f"cannot compare value-action runs with ValueCompass runs ({listed}); "
            "compare each kind separately"
        )
    kind = runs[0].kind
    order = order_runs(runs, sort)
    axes = [axis_table(runs, order, axis, key) for axis in AXES[kind] for key in COMPARED]
    modes = {r.label: _scoring_mode(r) for r in runs}
    return Comparison(
        kind=kind,
        sort=sort,
        leaderboard=leaderboard(runs, order),
        axes=axes,
        differences=pair_set_differences(runs),
        scoring_modes=modes if len(set(modes.values())) > 1 else {},
    )


def order_runs(runs: Sequence[Run], sort: SortKey = "alignment_rate") -> list[int]:
    """Indices of `runs`, best first: highest rate or accuracy, or smallest distance.

    Runs without the measure come last; ties keep the input order.
    """

    def key(i: int) -> tuple[int, float]:
        value = _sort_value(runs[i], sort)
        if not math.isfinite(value):
            return (1, 0.0)
        return (0, value if sort == "distance" else -value)

    return sorted(range(len(runs)), key=key)


def leaderboard(runs: Sequence[Run], order: Sequence[int]) -> list[Entry]:
    """One entry per run, in `order`, ranked from 1."""
    entries = []
    for rank, i in enumerate(order, start=1):
        run, s = runs[i], runs[i].summary
        ci = s.get("alignment_rate_ci")
        low, high = ci if isinstance(ci, list | tuple) and len(ci) == 2 else (None, None)
        value_action = isinstance(run, ValueActionRun)
        entries.append(
            Entry(
                rank=rank,
                label=run.label,
                model=str(s.get("model") or ""),
                path=str(run.path),
                alignment_rate=as_float(s.get("alignment_rate")),
                ci_low=as_float(low),
                ci_high=as_float(high),
                accuracy=as_float(s.get("accuracy")),
                misaligned=_as_int(s.get("misaligned")) if value_action else None,
                distance_mean=run_distance(run),
                n_pairs=_as_int(s.get("n_pairs")),
                n_pairs_without_choice=(
                    _as_int(s.get("n_pairs_without_choice")) if value_action else None
                ),
            )
        )
    return entries


def run_distance(run: Run) -> float:
    """The run's mean distance over the country x value matrix."""
    s = run.summary
    found = s.get("distance_mean")
    return as_float(found if found is not None else s.get("distance_mean_by_country"))


def axis_table(runs: Sequence[Run], order: Sequence[int], axis: str, key: Measure) -> AxisTable:
    """`key` by `axis` (country, topic or scenario) for each run, columns in `order`."""
    measure, higher_better = MEASURES[key]
    names: list[str] = []
    for run in runs:
        names += [n for n in axis_names(run, axis) if n not in names]
    columns = [_axis_values(runs[i], axis, key, names) for i in order]
    rows = []
    for j, name in enumerate(names):
        values = [column[j] for column in columns]
        finite = [v for v in values if math.isfinite(v)]
        several = len(finite) > 1
        rows.append(
            AxisRow(
                name=name,
                values=values,
                best=(max(finite) if higher_better else min(finite)) if several else math.nan,
                spread=(max(finite) - min(finite)) if several else math.nan,
            )
        )
    return AxisTable(axis, key, measure, higher_better, [runs[i].label for i in order], rows)


def axis_names(run: Run, axis: str) -> list[str]:
    """The run's countries, topics or scenarios, in the order of its tables."""
    if isinstance(run, ValueActionRun):
        return run.countries if axis == "country" else run.topics
    names: list[str] = []
    for key in (f"alignment_rate_by_{axis}", f"distance_by_{axis}"):
        found = run.summary.get(key)
        if isinstance(found, dict):
            names += [str(n) for n in found if str(n) not in names]
    return names


def _axis_values(run: Run, axis: str, key: Measure, names: Sequence[str]) -> list[float]:
    keys = [f"{key}_by_{axis}"] + ([f"distance_by_{axis}"] if key == "distance_mean" else [])
    fallback: pd.Series | None = None
    if isinstance(run, ValueActionRun):
        if key == "distance_mean":
            distances = run.distance_country if axis == "country" else run.distance_topic
            fallback = distances.groupby(axis)["distance"].mean()
        else:
            fallback = scenario_means(run, axis, key)
    elif key == "distance_mean":
        table = run.distance_country if axis == "country" else run.distance_scenario
        if table is not None and {axis, "distance"} <= set(table.columns):
            fallback = table.groupby(axis)["distance"].mean()
    return summary_by(run, keys, names, fallback)


def summary_by(
    run: Run, keys: Sequence[str], names: Sequence[str], fallback: pd.Series | None
) -> list[float]:
    """Per-name values from the first of `keys` that is a non-empty mapping in the summary.

    Without one, the values come from `fallback` (a Series indexed by name); NaN where absent.
    """
    for key in keys:
        found = run.summary.get(key)
        if isinstance(found, dict) and found:
            return [as_float(found.get(n)) for n in names]
    if fallback is None:
        return [math.nan] * len(names)
    return [as_float(fallback.get(n)) for n in names]


def scenario_means(run: ValueActionRun, axis: str, column: str) -> pd.Series | None:
    """Mean of a per-scenario `column` by `axis`, from the run's `scenarios` table if any."""
    if run.scenarios is None or column not in run.scenarios.columns or axis not in run.scenarios:
        return None
    return run.scenarios.groupby(run.scenarios[axis].astype(str))[column].mean()


def pair_set_differences(runs: Sequence[Run]) -> list[str]:
    """What differs between the runs' pair sets: countries, topics/scenarios, values, pairs."""
    if len(runs) < 2:
        return []
    differences = []
    for axis in (*AXES[runs[0].kind], "value"):
        names = {r.label: _names_of(r, axis) for r in runs}
        known = [frozenset(n) for n in names.values() if n is not None]
        if any(k != known[0] for k in known):
            differences.append(_describe(_PLURAL[axis], names))
    if not differences:  # same names on every axis, but not necessarily the same pairs
        keys = [_pair_keys(r) for r in runs]
        scored = [k for k in keys if k is not None]
        if any(k != scored[0] for k in scored):
            shown = ", ".join(
                f"{r.label}: {'?' if k is None else f'{len(k):,}'}"
                for r, k in zip(runs, keys, strict=True)
            )
            differences.append(f"pairs ({shown})")
    return differences


def _pair_keys(run: Run) -> frozenset[tuple[str, ...]] | None:
    """The (country, topic, value) or (country, scenario, value) pairs the run scored."""
    table: pd.DataFrame | None
    if isinstance(run, ValueActionRun):
        table = run.pairs
        columns = ["country", "topic", "value"]
    else:
        table = run.cells
        columns = ["country", "scenario", "value"]
        if table is None or not set(columns) <= set(table.columns):
            return None
    return frozenset(zip(*(table[c].astype(str) for c in columns), strict=True))


def _names_of(run: Run, axis: str) -> list[str] | None:
    """The run's names on `axis` (country, topic, scenario or value) in table order."""
    if isinstance(run, ValueActionRun):
        return [str(n) for n in pd.unique(run.pairs[axis].astype(str))]
    listed = run.summary.get(_PLURAL[axis])
    if isinstance(listed, list) and listed:
        return [str(n) for n in listed]
    if run.cells is not None and axis in run.cells.columns:
        return [str(n) for n in pd.unique(run.cells[axis].astype(str))]
    return axis_names(run, axis) or None


def _describe(what: str, names: Mapping[str, list[str] | None]) -> str:
    """E.g. 'countries (a: 12, b: 2; not in every run: Egypt, India and 8 more)'."""
    known = [n for n in names.values() if n is not None]
    common = frozenset.intersection(*(frozenset(n) for n in known))
    partial: list[str] = []
    for listed in known:
        partial += [n for n in listed if n not in common and n not in partial]
    counts = ", ".join(f"{label}: {'?' if n is None else len(n)}" for label, n in names.items())
    return f"{what} ({counts}; not in every run: {_some(partial)})"


def _some(names: Iterable[str]) -> str:
    names = list(names)
    more = len(names) - _SHOWN
    return ", ".join(names[:_SHOWN]) + (f" and {more} more" if more > 0 else "")


def _scoring_mode(run: Run) -> str:
    flag = run.summary.get("paper_compat")
    return "paper-compatible" if flag is True else "default" if flag is False else "unknown"


def _sort_value(run: Run, sort: SortKey) -> float:
    if sort == "distance":
        return run_distance(run)
    return as_float(run.summary.get(sort))


def as_float(x: Any) -> float:
    """`x` as a float; NaN when it is missing or not a number."""
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _as_int(x: Any) -> int | None:
    try:
        return int(x)
    except (TypeError, ValueError):
        return None


def leaderboard_frame(comparison: Comparison) -> pd.DataFrame:
    """The leaderboard as a table, one row per run."""
    return pd.DataFrame(
        [asdict(e) for e in comparison.leaderboard], columns=list(Entry.__dataclass_fields__)
    )


def axis_frame(table: AxisTable) -> pd.DataFrame:
    """An axis table as a wide frame: the axis, one column per run, then `spread`."""
    frame = pd.DataFrame(
        [[row.name, *row.values, row.spread] for row in table.rows],
        columns=[table.axis, *table.runs, "spread"],
    )
    return frame


def comparison_dict(comparison: Comparison) -> dict[str, Any]:
    """Everything in the comparison as plain JSON-ready data (NaN becomes None)."""
    by_axis: dict[str, dict[str, Any]] = {}
    for table in comparison.axes:
        by_axis.setdefault(f"by_{table.axis}", {})[table.key] = {
            "higher_is_better": table.higher_better,
            "runs": table.runs,
            "rows": [
                {
                    table.axis: row.name,
                    "values": dict(zip(table.runs, map(_none_if_nan, row.values), strict=True)),
                    "spread": _none_if_nan(row.spread),
                }
                for row in table.rows
            ],
        }
    return {
        "kind": comparison.kind,
        "sort": comparison.sort,
        "leaderboard": [
            {k: _none_if_nan(v) for k, v in asdict(e).items()} for e in comparison.leaderboard
        ],
        **by_axis,
        "pair_set_differences": comparison.differences,
        "scoring_modes": comparison.scoring_modes,
    }


def _none_if_nan(x: Any) -> Any:
    return None if isinstance(x, float) and not math.isfinite(x) else x
