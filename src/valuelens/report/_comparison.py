"""The report's comparison sections: a leaderboard, paired tests and each measure by axis.

The numbers come from `_compare` (shared with `valuelens compare`); this module only shapes them
into tables and charts for the page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypedDict

from valuelens.report import _figures as fig
from valuelens.report import _svg as svg
from valuelens.report._charts import Chart, nice_max
from valuelens.report._compare import (
    PAIRED_METHOD,
    AxisTable,
    Comparison,
    axis_table,
    compare_runs,
)
from valuelens.report._format import axis_labels
from valuelens.report._load import CompassRun, ValueActionRun
from valuelens.taxonomy import Taxonomy


class _RateRow(TypedDict):
    """A leaderboard row as the comparison tables and rate bars read it."""

    label: str
    rate: float
    accuracy: float
    distance: float


class _LeaderRow(_RateRow):
    """A value-action leaderboard row: the rate row plus rank, interval and pair counts."""

    rank: int
    model: str
    color: str
    lo: float
    hi: float
    misaligned: int | None
    n_pairs: int | None
    pairs_text: str


def comparison(
    runs: Sequence[ValueActionRun],
    taxonomy: Taxonomy,
    figures: list[tuple[str, fig.Figure]],
    all_pairs: bool = False,
) -> dict[str, object]:
    """The value-action comparison: leaderboard, chart, axis tables and paired tests."""
    comparison = compare_runs(runs, all_pairs=all_pairs)
    colors = {
        runs[i].label: fig.SERIES_COLORS[i % len(fig.SERIES_COLORS)] for i in range(len(runs))
    }
    leaderboard: list[_LeaderRow] = [
        {
            "rank": e.rank,
            "label": e.label,
            "model": e.model,
            "color": colors[e.label],
            "rate": e.alignment_rate,
            "lo": e.ci_low,
            "hi": e.ci_high,
            "accuracy": e.accuracy,
            "misaligned": e.misaligned,
            "distance": e.distance_mean,
            "n_pairs": e.n_pairs_compared if e.n_pairs_compared is not None else e.n_pairs,
            "pairs_text": e.pairs_text,
        }
        for e in comparison.leaderboard
    ]
    spec = _rate_bars(
        "comparison_alignment_rate",
        "Alignment rate by run (95% CI)",
        leaderboard,
        lo=[row["lo"] for row in leaderboard],
        hi=[row["hi"] for row in leaderboard],
    )
    figures.append(("comparison", spec))
    return {
        "leaderboard": leaderboard,
        "chart": Chart("bars", spec, svg.bars_layout(spec)),
        "axes": [_axis_comparison(t, taxonomy, colors, figures) for t in comparison.axes],
        "colors": colors,
        "warnings": comparison.warnings,
        "notes": comparison.notes,
        "paired": _paired_rows(comparison),
        "paired_method": PAIRED_METHOD,
    }


def _paired_rows(comparison: Comparison) -> list[dict[str, object]]:
    """The paired tests against the leader, one row per run, for the comparison section."""
    return [
        {
            "first": row.first,
            "second": row.second,
            "n_scenarios": row.test.n_scenarios,
            "n_pairs": row.test.n_pairs,
            "cells": [
                {
                    "difference": d.difference,
                    "lo": d.ci_low,
                    "hi": d.ci_high,
                    "p": d.p_value,
                }
                for d in row.test.differences.values()
            ],
        }
        for row in comparison.paired
    ]


def _axis_comparison(
    table: AxisTable,
    taxonomy: Taxonomy,
    colors: dict[str, str],
    figures: list[tuple[str, fig.Figure]],
) -> dict[str, object]:
    axis, key = table.axis, table.key
    names = [row.name for row in table.rows]
    labels = axis_labels(taxonomy, axis, names)
    rows = [
        {
            "name": row.name,
            "label": label,
            "cells": [{"value": c, "best": c == row.best} for c in row.values],
            "spread": row.spread,
        }
        for row, label in zip(table.rows, labels, strict=True)
    ]
    columns = [(run, [row.values[j] for row in table.rows]) for j, run in enumerate(table.runs)]
    top = max((c for _, vals in columns for c in vals if math.isfinite(c)), default=1.0)
    spec = fig.DotPlot(
        f"comparison_{key}_by_{axis}",
        f"{table.measure.capitalize()} by {axis}, per run",
        labels,
        names,
        [(label, colors[label], vals) for label, vals in columns],
        table.measure,
        vmax=1.0 if key == "alignment_rate" else nice_max(top),
    )
    figures.append(("comparison", spec))
    return {
        "axis": axis,
        "key": key,
        "measure": table.measure,
        "runs": table.runs,
        "rows": rows,
        "higher_better": table.higher_better,
        "chart": Chart(
            "dots",
            spec,
            svg.dot_layout(spec),
            series=[(label, colors[label]) for label, _ in columns],
        ),
    }


def compass_comparison(
    runs: Sequence[CompassRun], figures: list[tuple[str, fig.Figure]]
) -> dict[str, object]:
    """The ValueCompass comparison: leaderboard, chart and alignment rate by country."""
    rows: list[_RateRow] = [
        {
            "label": e.label,
            "rate": e.alignment_rate,
            "accuracy": e.accuracy,
            "distance": e.distance_mean,
        }
        for e in compare_runs(runs).leaderboard
    ]
    spec = _rate_bars(
        "compass_comparison_alignment_rate", "Human-model alignment rate by model", rows
    )
    figures.append(("comparison", spec))
    by_country = axis_table(runs, range(len(runs)), "country", "alignment_rate")
    return {
        "leaderboard": rows,
        "chart": Chart("bars", spec, svg.bars_layout(spec)),
        "runs": by_country.runs,
        "by_country": [{"name": row.name, "cells": row.values} for row in by_country.rows],
    }


def _rate_bars(
    key: str,
    title: str,
    rows: Sequence[_RateRow],
    *,
    lo: list[float] | None = None,
    hi: list[float] | None = None,
) -> fig.Bars:
    """One bar a leaderboard row (its `label` and alignment `rate`), with interval ends if given."""
    labels = [row["label"] for row in rows]
    return fig.Bars(
        key,
        title,
        labels,
        list(labels),
        [row["rate"] for row in rows],
        "alignment rate (F1)",
        lo=lo,
        hi=hi,
    )
