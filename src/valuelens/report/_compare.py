"""Comparing runs: a leaderboard, and each measure by country and by topic (or scenario).

Pure data, shared by the report's comparison section (`valuelens report`) and by
`valuelens compare`, which prints it and writes it as CSV and JSON.

Value-action runs are compared on the pairs that every one of them scored (stated and chosen
both present): each run is rescored on those pairs with `metrics.score_pairs`, and the pairs
each run loses are counted with the reason (`Comparison.dropped`). With `all_pairs=True` the
numbers come from each run's own `summary.json` instead, as they did before. Each run is also
tested against the leader with `metrics.paired_test`, on the pairs both scored. Runs that differ
in Task 2 variants, scoring, paper mode or Task 2 scope get a warning (`Comparison.settings`).

ValueCompass runs are compared on their own summaries (no common-cell rescoring). A run whose
summary lacks a per-country or per-topic measure falls back to its tables, as the report does.

Example:
    >>> runs = load_runs([Path("runs/gpt-4o-mini"), Path("runs/gemma")])  # doctest: +SKIP
    >>> comparison = compare_runs(runs, sort="alignment_rate")  # doctest: +SKIP
    >>> [(e.label, round(e.alignment_rate, 3)) for e in comparison.leaderboard]  # doctest: +SKIP
    [('gpt-4o-mini', 0.564), ('gemma', 0.461)]
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from pydantic import JsonValue

from valuelens._errors import ValuelensError
from valuelens.metrics import (
    Measure,
    PairedTest,
    headline_measures,
    measure,
    measures,
    paired_test,
    score_pairs,
)
from valuelens.models._base import JsonObject
from valuelens.report._load import GenericRun, LoadedRun, Run, ValueActionRun
from valuelens.runs import COMPASS, VALUE_ACTION, Bootstrap, ValueActionSummary, json_ready
from valuelens.taxonomy import Country, Taxonomy, Topic, Value

_T = TypeVar("_T")

SORT_KEYS: tuple[str, ...] = ("alignment_rate", "distance", "accuracy")
"""The sort keys named in messages; any measure of the runs' kind with a direction also sorts."""

SORT_ALIASES = {"distance": "distance_mean"}
COMPARED: tuple[str, ...] = ("alignment_rate", "distance_mean")
"""The measures a comparison tabulates by country and by topic or scenario."""
AXES = {VALUE_ACTION: ("country", "topic"), COMPASS: ("country", "scenario")}
_PLURAL = {"country": "countries", "topic": "topics", "scenario": "scenarios", "value": "values"}
_KIND_NAMES = {VALUE_ACTION: "value-action", COMPASS: "ValueCompass"}
_SHOWN = 4  # names listed in a difference before "and N more"
_KEYS = ["country", "topic", "value"]
# summary key -> how a warning names it (Task 2 variants are handled on their own)
_SETTINGS = {"scoring": "scoring", "action_scope": "Task 2 scope"}
# measures with a leaderboard column of their own (`Entry`); other headlines go to `Entry.extra`
_ENTRY_MEASURES = frozenset(
    {"alignment_rate", "accuracy", "misaligned", "distance_mean", "n_pairs"}
    | {"n_pairs_without_choice"}
)


@dataclass(frozen=True)
class DroppedPairs:
    """The pairs of one run that the comparison left out because not every run scored them."""

    label: str
    n_pairs: int
    """Pairs in the run's own table."""
    n_dropped: int
    reasons: dict[str, int]
    """Why, e.g. 'no Task 2 answer' or 'not scored by gemma' -> number of pairs."""
    detail: str
    """One line for people, e.g. 'gpt-4o-mini: 132 of 7,392 pairs dropped (no Task 2 ...)'."""


@dataclass(frozen=True)
class PairedRow:
    """One run tested against the leader (`first`): differences are first - second."""

    first: str
    second: str
    test: PairedTest


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
    """Pairs in the summary the entry's numbers come from (the common pairs after rescoring)."""
    n_pairs_without_choice: int | None
    extra: dict[str, float] = field(default_factory=dict)
    """Every other headline measure some run has (`Comparison.extra_measures`), NaN if absent."""
    n_pairs_compared: int | None = None
    """Pairs the numbers were computed on (scored: stated and chosen both present)."""
    n_pairs_total: int | None = None
    """Pairs in the run's own table, before any were left out of the comparison."""

    @property
    def pairs_text(self) -> str:
        """How many pairs were compared, e.g. '7,194 of 7,392' (one number when all were)."""
        shown = self.n_pairs_compared if self.n_pairs_compared is not None else self.n_pairs
        if shown is None:
            return "—"
        if self.n_pairs_total is None or self.n_pairs_total == shown:
            return f"{shown:,}"
        return f"{shown:,} of {self.n_pairs_total:,}"


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
    key: str
    measure: str
    """The measure's short label (from the measures table)."""
    higher_better: bool
    runs: list[str]
    rows: list[AxisRow]


@dataclass(frozen=True)
class Comparison:
    """Everything `valuelens compare` shows about a set of runs of one kind."""

    kind: str
    sort: str
    """The sort key as given (`distance` stays `distance`)."""
    leaderboard: list[Entry]
    axes: list[AxisTable]
    differences: list[str]
    """What differs between the runs' pair sets, one phrase each (empty when they match)."""
    scoring_modes: dict[str, str]
    """Run label -> 'paper-compatible' or 'default', when the runs do not all agree."""
    common_pairs: bool = False
    """Whether the value-action runs were rescored on the pairs that all of them scored."""
    n_common_pairs: int | None = None
    dropped: list[DroppedPairs] = field(default_factory=list)
    """Runs that lost pairs to the common set (only runs that lost some)."""
    settings: list[str] = field(default_factory=list)
    """How the runs' settings differ (Task 2 variants, scoring, Task 2 scope), one phrase each."""
    paired: list[PairedRow] = field(default_factory=list)
    """Each run after the leader, tested against the leader (value-action runs only)."""
    extra_measures: list[Measure] = field(default_factory=list)
    """The headline measures beyond the leaderboard's own columns, in table order."""

    @property
    def sort_measure(self) -> Measure:
        """The measure the leaderboard is sorted by."""
        return sort_measure(self.sort, self.kind)

    @property
    def warnings(self) -> list[str]:
        """Every warning about the comparison, one sentence each."""
        found = [
            f"the runs differ in {what}; their numbers are not directly comparable"
            for what in self.settings
        ]
        if self.scoring_modes:
            modes = ", ".join(f"{label}: {mode}" for label, mode in self.scoring_modes.items())
            found.append(
                f"the runs were scored in different modes ({modes}); "
                "pairs without a choice count differently"
            )
        if self.differences:
            found.append(
                f"the runs cover different pair sets: {'; '.join(self.differences)}. "
                "Their numbers are not directly comparable"
            )
        return found

    @property
    def notes(self) -> list[str]:
        """What the comparison did to the pair sets, one line each (empty if nothing)."""
        if not self.common_pairs or not self.dropped:
            return []
        head = (
            f"compared on the {self.n_common_pairs:,} pairs that every run scored "
            "(--all-pairs scores each run on its own pairs)"
        )
        return [head, *(d.detail for d in self.dropped)]

    def table(self, axis: str, key: str = "alignment_rate") -> AxisTable:
        """The table of `key` by `axis`."""
        return next(t for t in self.axes if t.axis == axis and t.key == key)


def compare_runs(
    loaded: Sequence[LoadedRun],
    sort: str = "alignment_rate",
    *,
    all_pairs: bool = False,
    n_resamples: int = 1000,
    n_permutations: int = 10000,
    seed: int = 0,
) -> Comparison:
    """Rank runs of one kind by `sort` and tabulate each measure by country and topic/scenario.

    Args:
        loaded: the loaded runs, all value-action or all ValueCompass.
        sort: the measure to rank by: `alignment_rate`, `distance` (`distance_mean`),
            `accuracy` or any other measure of the runs' kind with a direction.
        all_pairs: score each value-action run on its own pairs (its summary) instead of on
            the pairs that every run scored.
        n_resamples: bootstrap resamples of the paired tests.
        n_permutations: permutations of the paired tests' p-values.
        seed: seed of the paired tests.

    Raises:
        ValuelensError: when no run is given, a run is of another kind, the runs mix
            value-action and ValueCompass runs, or `sort` is unknown.
    """
    if not loaded:
        raise ValuelensError("give at least one run directory")
    unscored = [r for r in loaded if isinstance(r, GenericRun)]
    if unscored:
        raise ValuelensError(
            "compare takes value-action or ValueCompass runs, not "
            + ", ".join(f"{r.label} (a {r.kind!r} run)" for r in unscored)
        )
    runs: Sequence[Run] = [r for r in loaded if not isinstance(r, GenericRun)]
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
    sort_measure(sort, kind)  # an unknown key fails before any rescoring
    modes = {r.label: _scoring_mode(r) for r in runs}
    totals = {r.label: _own_pairs(r) for r in runs}
    settings = setting_differences(runs)
    value_action = [r for r in runs if isinstance(r, ValueActionRun)]
    common = len(value_action) > 1 and not all_pairs
    dropped: list[DroppedPairs] = []
    n_common: int | None = None
    if common:
        keys = common_pair_keys(value_action)
        n_common = len(keys)
        dropped = [d for d in dropped_pairs(value_action, keys) if d.n_dropped]
        runs = rescore_on(value_action, keys)
    order = order_runs(runs, sort)
    axes = [axis_table(runs, order, axis, key) for axis in AXES[kind] for key in COMPARED]
    paired = []
    if kind == VALUE_ACTION and len(runs) > 1:
        leader = runs[order[0]]
        assert isinstance(leader, ValueActionRun)
        for i in order[1:]:
            other = runs[i]
            assert isinstance(other, ValueActionRun)
            test = paired_test(
                leader.pairs,
                other.pairs,
                n_resamples=n_resamples,
                n_permutations=n_permutations,
                seed=seed,
            )
            paired.append(PairedRow(leader.label, other.label, test))
    return Comparison(
        kind=kind,
        sort=sort,
        leaderboard=leaderboard(runs, order, totals),
        extra_measures=extra_measures(runs),
        axes=axes,
        differences=pair_set_differences(runs),
        scoring_modes=modes if len(set(modes.values())) > 1 else {},
        common_pairs=common,
        n_common_pairs=n_common,
        dropped=dropped,
        settings=settings,
        paired=paired,
    )


def common_pair_keys(runs: Sequence[ValueActionRun]) -> set[tuple[str, str, str]]:
    """The (country, topic, value) pairs that every run scored (stated and chosen present)."""
    sets = [_scored_keys(run) for run in runs]
    return set.intersection(*sets) if sets else set()


def _scored_keys(run: ValueActionRun) -> set[tuple[str, str, str]]:
    scored = run.pairs.dropna(subset=["stated", "chosen"])
    return set(zip(*(scored[c].astype(str) for c in _KEYS), strict=True))


def _key_index(pairs: pd.DataFrame) -> pd.MultiIndex:
    return pd.MultiIndex.from_frame(pairs[_KEYS].astype(str))


def dropped_pairs(
    runs: Sequence[ValueActionRun], keys: set[tuple[str, str, str]]
) -> list[DroppedPairs]:
    """For each run, how many of its pairs fall outside `keys` and why."""
    scored = [_scored_keys(run) for run in runs]
    out = []
    for i, run in enumerate(runs):
        pairs = run.pairs
        outside = ~_key_index(pairs).isin(list(keys)) if keys else np.ones(len(pairs), bool)
        lost = pairs[outside]
        others = [
            (r.label, keys_of)
            for j, (r, keys_of) in enumerate(zip(runs, scored, strict=True))
            if j != i
        ]
        reasons = pd.Series(
            [
                _reason(row, others)
                for row in lost[[*_KEYS, "stated", "chosen"]].itertuples(index=False)
            ],
            index=lost.index,
            dtype=object,
        )
        counts = {str(k): int(v) for k, v in reasons.value_counts(sort=True).items()}
        parts = [
            f"{reason}: {count:,} ({_where(lost[reasons == reason])})"
            for reason, count in counts.items()
        ]
        detail = f"{run.label}: {len(lost):,} of {len(pairs):,} pairs dropped"
        detail += f" ({'; '.join(parts)})" if parts else ""
        out.append(DroppedPairs(run.label, len(pairs), len(lost), counts, detail))
    return out


def _reason(row: Any, others: Sequence[tuple[str, set[tuple[str, str, str]]]]) -> str:
    stated_missing, chosen_missing = pd.isna(row.stated), pd.isna(row.chosen)
    if stated_missing and chosen_missing:
        return "no Task 1 or Task 2 answer"
    if chosen_missing:
        return "no Task 2 answer"
    if stated_missing:
        return "no Task 1 answer"
    key = (str(row.country), str(row.topic), str(row.value))
    lacking = next((label for label, keys in others if key not in keys), "another run")
    return f"not scored by {lacking}"


def _where(lost: pd.DataFrame) -> str:
    """The axis whose few most affected names cover most of `lost`, e.g. 'values A 132, B 3'."""
    best: tuple[float, str, pd.Series] | None = None
    for axis in ("value", "country", "topic"):
        counts = lost[axis].astype(str).value_counts(sort=True)
        covered = counts.iloc[:_SHOWN].sum() / max(len(lost), 1)
        if best is None or covered > best[0]:
            best = (covered, axis, counts)
    assert best is not None
    _, axis, counts = best
    shown = ", ".join(f"{name} {count:,}" for name, count in counts.iloc[:_SHOWN].items())
    more = len(counts) - _SHOWN
    return f"{_PLURAL[axis]} {shown}" + (f" and {more} more" if more > 0 else "")


def rescore_on(
    runs: Sequence[ValueActionRun], keys: set[tuple[str, str, str]]
) -> list[ValueActionRun]:
    """Each run rescored (`metrics.score_pairs`) on the pairs in `keys` only.

    The summary keeps the run's other keys (model, settings); every measure that
    `score_pairs` computes is replaced, with the run's own bootstrap settings.
    """
    out = []
    for run in runs:
        taxonomy = _taxonomy_of(runs, run.summary.taxonomy_version or "custom")
        pairs = _scorable(run.pairs[_key_index(run.pairs).isin(list(keys))].reset_index(drop=True))
        boot = run.summary.bootstrap or Bootstrap()
        result = score_pairs(
            pairs,
            taxonomy,
            paper_compat=run.summary.paper_compat is True,
            n_resamples=boot.n_resamples,
            seed=boot.seed,
            level=boot.level,
        )
        merged = {**run.summary.to_dict(), **result.summary, "rescored_on_common_pairs": True}
        summary = ValueActionSummary.from_dict(json_ready(merged))
        rescored = {
            **run.__dict__,
            "summary": summary,
            "pairs": pairs,
            "scenarios": result.tables["scenarios"],
            "distance_country": result.tables["distance_country"],
            "distance_topic": result.tables["distance_topic"],
        }
        out.append(ValueActionRun(**rescored))
    return out


def _scorable(pairs: pd.DataFrame) -> pd.DataFrame:
    """Fill the columns `score_pairs` reads that a hand-made pairs table may lack."""
    pairs = pairs.copy()
    if "n_action_variants" not in pairs.columns:
        pairs["n_action_variants"] = pairs["chosen"].notna().astype(int)
    if "value_type" not in pairs.columns:
        pairs["value_type"] = ""
    return pairs


def _taxonomy_of(runs: Sequence[ValueActionRun], version: str) -> Taxonomy:
    """A taxonomy holding the runs' names, in the order of their tables."""
    names: dict[str, list[str]] = {axis: [] for axis in _KEYS}
    types: dict[str, str] = {}
    for run in runs:
        for axis in _KEYS:
            names[axis] += [n for n in _ordered(run.pairs[axis]) if n not in names[axis]]
        if "value_type" in run.pairs.columns:
            for value, kind in zip(run.pairs["value"], run.pairs["value_type"], strict=True):
                types.setdefault(str(value), "" if pd.isna(kind) else str(kind))
    return Taxonomy(
        version=version,
        values=tuple(Value(name=n, type=types.get(n, "")) for n in names["value"]),
        countries=tuple(Country(name=n) for n in names["country"]),
        topics=tuple(Topic(name=n) for n in names["topic"]),
    )


def _ordered(column: pd.Series) -> list[str]:
    return [str(x) for x in pd.unique(column.astype(str))]


def setting_differences(runs: Sequence[Run]) -> list[str]:
    """How the runs' Task 2 variants, scoring and Task 2 scope differ, one phrase each.

    Settings a run does not record are left out; a setting is reported when two runs that
    record it disagree.
    """
    found = []
    counts = {r.label: _as_int(_setting(r, "n_action_variants")) for r in runs}
    listed = {r.label: _setting(r, "action_variants") for r in runs}
    known_counts = {c for c in counts.values() if c is not None}
    known_lists = {str(v) for v in listed.values() if v is not None}
    if len(known_counts) > 1 or len(known_lists) > 1:
        shown = ", ".join(f"{label}: {_variants(listed[label], counts[label])}" for label in counts)
        found.append(f"Task 2 variants ({shown})")
    for key, name in _SETTINGS.items():
        values = {r.label: _setting(r, key) for r in runs}
        if len({str(v) for v in values.values() if v is not None}) > 1:
            shown = ", ".join(f"{label}: {'?' if v is None else v}" for label, v in values.items())
            found.append(f"{name} ({shown})")
    return found


def _setting(run: Run, name: str) -> object:
    """A setting the summary records (None when it records none or the kind has no such)."""
    return getattr(run.summary, name, None)


def _variants(listed: object, count: int | None) -> str:
    if count is None:
        return "?" if listed is None else str(listed)
    counted = f"{count} variant{'s' if count != 1 else ''}"
    return counted if listed is None else f"{listed} ({counted})"


def sort_keys(kind: str) -> list[str]:
    """Every key `sort` takes for runs of `kind`.

    `SORT_KEYS` first, then the other measures of the kind that have a direction, in table order.
    """
    named = [*SORT_KEYS, *SORT_ALIASES.values()]
    others = [m.key for m in measures(kind) if m.higher_is_better is not None]
    return list(SORT_KEYS) + [k for k in dict.fromkeys(others) if k not in named]


def sort_measure(sort: str, kind: str) -> Measure:
    """The measure `sort` names for runs of `kind` (`distance` is `distance_mean`).

    Raises:
        ValuelensError: when `sort` is no measure of `kind` with a direction.
    """
    key = SORT_ALIASES.get(sort, sort)
    found = next(
        (m for m in measures(kind) if m.key == key and m.higher_is_better is not None), None
    )
    if found is None:
        close = difflib.get_close_matches(sort, sort_keys(kind), n=3)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        raise ValuelensError(f"--sort takes {', '.join(SORT_KEYS)}, not {sort!r}{hint}")
    return found


def order_runs(runs: Sequence[Run], sort: str = "alignment_rate") -> list[int]:
    """Indices of `runs`, best first by the measure `sort`.

    Highest first when higher is better, smallest first otherwise. Runs without the measure come last; ties keep the input order.
    """
    if not runs:
        return []
    by = sort_measure(sort, runs[0].kind)

    def key(i: int) -> tuple[int, float]:
        value = as_float(by.value_in(runs[i].summary))
        if not math.isfinite(value):
            return (1, 0.0)
        return (0, -value if by.higher_is_better else value)

    return sorted(range(len(runs)), key=key)


def extra_measures(runs: Sequence[Run]) -> list[Measure]:
    """The headline measures beyond the leaderboard's own columns that some run's summary holds.

    An optional measure counts only where it is shown (held and not zero).
    """
    if not runs:
        return []
    return [
        m
        for m in headline_measures(runs[0].kind)
        if m.key not in _ENTRY_MEASURES
        and any(m.shown_for(r.summary) and m.value_in(r.summary) is not None for r in runs)
    ]


def _own_pairs(run: Run) -> int | None:
    """Pairs in the run's own table (its summary's count for a ValueCompass run)."""
    if isinstance(run, ValueActionRun):
        return len(run.pairs)
    return _as_int(run.summary.get("n_pairs"))


def _compared_pairs(run: Run) -> int | None:
    """Pairs the run's numbers were computed on: those scored, else all it counts."""
    for key in ("n_pairs_scored", "n_pairs"):
        if (found := _as_int(run.summary.get(key))) is not None:
            return found
    return None


def leaderboard(
    runs: Sequence[Run], order: Sequence[int], totals: Mapping[str, int | None] | None = None
) -> list[Entry]:
    """One entry per run, in `order`, ranked from 1.

    Args:
        runs: the runs as compared (rescored on the common pairs, when they were).
        order: the leaderboard order (indices into `runs`).
        totals: run label -> pairs in its own table before rescoring (default: as `runs` hold).
    """
    extras = extra_measures(runs)
    entries = []
    for rank, i in enumerate(order, start=1):
        run, s = runs[i], runs[i].summary
        ci = s.alignment_rate_ci
        low, high = ci if ci is not None and len(ci) == 2 else (None, None)
        va = s if isinstance(s, ValueActionSummary) else None
        entries.append(
            Entry(
                rank=rank,
                label=run.label,
                model=s.model or "",
                path=str(run.path),
                alignment_rate=as_float(s.alignment_rate),
                ci_low=as_float(low),
                ci_high=as_float(high),
                accuracy=as_float(s.accuracy),
                misaligned=va.misaligned if va is not None else None,
                distance_mean=run_distance(run),
                n_pairs=s.n_pairs,
                n_pairs_without_choice=va.n_pairs_without_choice if va is not None else None,
                extra={m.key: as_float(m.value_in(s)) for m in extras},
                n_pairs_compared=_compared_pairs(run),
                n_pairs_total=(totals or {}).get(run.label, _own_pairs(run)),
            )
        )
    return entries


def run_distance(run: Run) -> float:
    """The run's mean distance over the country x value matrix."""
    return as_float(measure("distance_mean", run.kind).value_in(run.summary))


def axis_table(runs: Sequence[Run], order: Sequence[int], axis: str, key: str) -> AxisTable:
    """`key` by `axis` (country, topic or scenario) for each run, columns in `order`.

    The label and direction come from the measures table (`metrics.measure`).
    """
    kind = runs[0].kind if runs else VALUE_ACTION
    found = measure(key, kind)
    higher_better = found.higher_is_better is not False
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
    labels = [runs[i].label for i in order]
    return AxisTable(axis, key, found.short, higher_better, labels, rows)


def axis_names(run: Run, axis: str) -> list[str]:
    """The run's countries, topics or scenarios, in the order of its tables."""
    if isinstance(run, ValueActionRun):
        return run.countries if axis == "country" else run.topics
    names: list[str] = []
    for key in ("alignment_rate", "distance"):
        found = run.summary.by_axis(key, axis) or {}
        names += [str(n) for n in found if str(n) not in names]
    return names


def _axis_values(run: Run, axis: str, key: str, names: Sequence[str]) -> list[float]:
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
        found = getattr(run.summary, key, None)
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
        table = run.pairs.dropna(subset=["stated", "chosen"])
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
    listed = getattr(run.summary, _PLURAL[axis], None)
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
    flag = run.summary.paper_compat
    return "paper-compatible" if flag is True else "default" if flag is False else "unknown"


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


def leaderboard_rows(comparison: Comparison) -> list[JsonObject]:
    """The leaderboard entries as flat records.

    The entry's fields, then one key per extra measure (`Comparison.extra_measures`, NaN where
    a run lacks it).
    """
    rows = []
    for entry in comparison.leaderboard:
        row = asdict(entry)
        extra = row.pop("extra")
        rows.append(row | {m.key: extra.get(m.key, math.nan) for m in comparison.extra_measures})
    return rows


def leaderboard_frame(comparison: Comparison) -> pd.DataFrame:
    """The leaderboard as a table, one row per run (extra measures after the usual columns)."""
    columns = [f for f in Entry.__dataclass_fields__ if f != "extra"]
    columns += [m.key for m in comparison.extra_measures]
    return pd.DataFrame(leaderboard_rows(comparison), columns=columns)


def axis_frame(table: AxisTable) -> pd.DataFrame:
    """An axis table as a wide frame: the axis, one column per run, then `spread`."""
    frame = pd.DataFrame(
        [[row.name, *row.values, row.spread] for row in table.rows],
        columns=[table.axis, *table.runs, "spread"],
    )
    return frame


def comparison_dict(comparison: Comparison) -> JsonObject:
    """Everything in the comparison as plain JSON-ready data (NaN becomes None)."""
    by_axis: dict[str, JsonObject] = {}
    for table in comparison.axes:
        by_axis.setdefault(f"by_{table.axis}", {})[table.key] = {
            "higher_is_better": table.higher_better,
            "runs": [*table.runs],
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
            {k: _none_if_nan(v) for k, v in row.items()} for row in leaderboard_rows(comparison)
        ],
        "extra_measures": [
            {"key": m.key, "label": m.label, "higher_is_better": m.higher_is_better}
            for m in comparison.extra_measures
        ],
        **by_axis,
        "pair_set_differences": [*comparison.differences],
        "scoring_modes": {**comparison.scoring_modes},
        "common_pairs": comparison.common_pairs,
        "n_common_pairs": comparison.n_common_pairs,
        "dropped_pairs": [asdict(d) for d in comparison.dropped],
        "setting_differences": [*comparison.settings],
        "warnings": [*comparison.warnings],
        "notes": [*comparison.notes],
        "paired_tests": _paired_dict(comparison.paired),
    }


PAIRED_METHOD = (
    "differences are leader - run on the pairs both scored; 95% CI: percentile bootstrap over "
    "the common scenarios, the same scenarios drawn for both runs (the distance interval is "
    "shifted by the bootstrap's bias estimate); p: two-sided paired permutation test that swaps "
    "the two runs within random scenarios (sign-flip test for alignment rate and accuracy), "
    "exact when every swap pattern fits in the permutation budget"
)


def _paired_dict(rows: Sequence[PairedRow]) -> JsonObject:
    tests: list[JsonValue] = []
    for row in rows:
        t = row.test
        tests.append(
            {
                "first": row.first,
                "second": row.second,
                "n_pairs": t.n_pairs,
                "n_scenarios": t.n_scenarios,
                "n_resamples": t.n_resamples,
                "n_permutations": t.n_permutations,
                "exact": t.exact,
                "seed": t.seed,
                "level": t.level,
                "measures": {
                    m: {k: _none_if_nan(v) for k, v in asdict(d).items() if k != "measure"}
                    for m, d in t.differences.items()
                },
            }
        )
    return {"method": PAIRED_METHOD, "tests": tests}


def paired_frame(comparison: Comparison) -> pd.DataFrame:
    """The paired tests as a long table: one row per (run, measure)."""
    columns = [
        "first",
        "second",
        "measure",
        "first_value",
        "second_value",
        "difference",
        "ci_low",
        "ci_high",
        "p_value",
        "n_pairs",
        "n_scenarios",
        "exact",
    ]
    rows = [
        [
            row.first,
            row.second,
            m,
            d.first,
            d.second,
            d.difference,
            d.ci_low,
            d.ci_high,
            d.p_value,
            row.test.n_pairs,
            row.test.n_scenarios,
            row.test.exact,
        ]
        for row in comparison.paired
        for m, d in row.test.differences.items()
    ]
    return pd.DataFrame(rows, columns=columns)


def _none_if_nan(x: _T) -> _T | None:
    return None if isinstance(x, float) and not math.isfinite(x) else x
