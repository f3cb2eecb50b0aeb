"""The value-action sections of the report: one run's stated values against its actions.

Headline numbers come from the run's summary through the measures table; for an older summary
that lacks some, they are computed from the run's pairs with `metrics.score_pairs`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TypedDict

import pandas as pd

from valuelens.metrics import Summary, headline_measures, score_pairs
from valuelens.report import _figures as fig
from valuelens.report import _svg as svg
from valuelens.report._charts import (
    PLURAL,
    Chart,
    Keep,
    distance_ranking,
    keeper,
    nice_max,
    rate_bars,
    value_heatmaps,
)
from valuelens.report._compare import as_float, scenario_means, summary_by
from valuelens.report._format import Headline, axis_labels, headlines, slug
from valuelens.report._items import items
from valuelens.report._load import ValueActionRun
from valuelens.runs import VALUE_ACTION
from valuelens.taxonomy import Taxonomy

RANKING_K = 10


class _VariantRow(TypedDict):
    """One prompt variant's row of the variants table."""

    task: str
    variant: str
    rate: float
    accuracy: float
    n: object


def run_view(
    index: int,
    run: ValueActionRun,
    taxonomy: Taxonomy,
    scales: dict[str, fig.ColorScale],
    figures: list[tuple[str, fig.Figure]],
    folder: str,
) -> dict[str, object]:
    """Every section of one value-action run, as the template expects it."""
    keep = keeper(figures, folder)
    return {
        "id": f"run-{index}",
        "label": run.label,
        "model": run.summary.get("model") or "",
        "headlines": run_headlines(run, taxonomy),
        "by_axis": [_axis_section(run, taxonomy, axis, keep) for axis in ("country", "topic")],
        "heatmaps": [_heatmaps(run, taxonomy, axis, scales, keep) for axis in ("country", "topic")],
        "ranked_axes": [keep(_ranked_axis(run, taxonomy, axis)) for axis in ("country", "topic")],
        "value_rankings": [
            _value_rankings(run, taxonomy, axis, index, figures, folder)
            for axis in ("country", "topic")
        ],
        "misalignment": _misalignment(run, taxonomy, keep),
        "variants": _variants(run, keep),
        "items": items(run, taxonomy, f"items-{index}"),
    }


def run_headlines(run: ValueActionRun, taxonomy: Taxonomy) -> list[Headline]:
    """The run's headline cards, from its summary and, for numbers it lacks, from its pairs."""
    return headlines(_with_missing_measures(run, taxonomy), VALUE_ACTION)


def _with_missing_measures(run: ValueActionRun, taxonomy: Taxonomy) -> Summary:
    """The summary, with the headline numbers it lacks computed by `metrics.score_pairs`.

    Only point estimates are taken (the rescoring draws a single resample, so its intervals are
    not kept); summaries written by valuelens have every headline number and are used as they are.
    """
    summary = run.summary
    wanted = [m for m in headline_measures(VALUE_ACTION) if not m.optional]
    keys = {m.key for m in wanted} | {m.of_key for m in wanted if m.of_key}
    missing = [k for k in keys if summary.get(k) is None]
    if not missing:
        return summary
    pairs = run.pairs
    if "n_action_variants" not in pairs.columns:  # a hand-made pairs table
        pairs = pairs.assign(n_action_variants=pairs["chosen"].notna().astype(int))
    computed = score_pairs(
        pairs, taxonomy, paper_compat=summary.get("paper_compat") is True, n_resamples=1
    ).summary
    return _Filled(summary, {k: computed[k] for k in missing if k in computed})


class _Filled:
    """A summary whose missing keys are read from `fill`."""

    def __init__(self, summary: Summary, fill: Mapping[str, object]) -> None:
        self.summary, self.fill = summary, fill

    def get(self, key: str, /) -> object:
        return self.fill[key] if key in self.fill else self.summary.get(key)


def _axis_section(
    run: ValueActionRun, taxonomy: Taxonomy, axis: str, keep: Keep
) -> dict[str, object]:
    names = run.countries if axis == "country" else run.topics
    labels = axis_labels(taxonomy, axis, names)
    rates = summary_by(
        run, [f"alignment_rate_by_{axis}"], names, scenario_means(run, axis, "alignment_rate")
    )
    accuracy = summary_by(
        run, [f"accuracy_by_{axis}"], names, scenario_means(run, axis, "accuracy")
    )
    table = run.distance_country if axis == "country" else run.distance_topic
    distance = summary_by(
        run,
        [f"distance_mean_by_{axis}", f"distance_by_{axis}"],
        names,
        table.groupby(axis)["distance"].mean(),
    )
    pairs = run.pairs
    misaligned = pairs.groupby(axis)["misaligned"].sum()
    rows: list[dict[str, object]] = [
        {
            "name": n,
            "label": lab,
            "rate": r,
            "accuracy": a,
            "distance": d,
            "misaligned": int(misaligned.get(n, 0)),
        }
        for n, lab, r, a, d in zip(names, labels, rates, accuracy, distance, strict=True)
    ]
    chart = rate_bars(f"alignment_rate_by_{axis}", axis, names, labels, rates)
    return {"axis": axis, "rows": rows, "chart": keep(chart)}


def _heatmaps(
    run: ValueActionRun,
    taxonomy: Taxonomy,
    axis: str,
    scales: dict[str, fig.ColorScale],
    keep: Keep,
) -> dict[str, object]:
    table = run.distance_country if axis == "country" else run.distance_topic
    rows = run.countries if axis == "country" else run.topics
    cols = run.values
    measures = [
        ("stated", "Stated (Task 1)", "stated score, mean over the other axis", scales["stated"]),
        (
            "chosen",
            "Chosen (Task 2)",
            "chosen polarity, mean over the other axis",
            scales["chosen"],
        ),
        ("distance", "Distance", "|stated − chosen|", scales[f"distance-{axis}"]),
    ]
    charts = value_heatmaps(table, axis, "heatmap", measures, rows, cols, taxonomy, keep)
    return {"axis": axis, "charts": charts}


def _ranked_axis(run: ValueActionRun, taxonomy: Taxonomy, axis: str) -> Chart:
    table = run.distance_country if axis == "country" else run.distance_topic
    title = f"{PLURAL[axis]} ranked by mean distance"
    return distance_ranking(table, axis, f"ranking_{axis}_by_distance", title, taxonomy)


def _value_rankings(
    run: ValueActionRun,
    taxonomy: Taxonomy,
    axis: str,
    index: int,
    figures: list[tuple[str, fig.Figure]],
    folder: str,
) -> dict[str, object]:
    table = run.distance_country if axis == "country" else run.distance_topic
    names = run.countries if axis == "country" else run.topics
    vmax = nice_max(float(table["distance"].max()) if len(table) else 1.0)
    groups, grid = [], []
    for name, label in zip(names, axis_labels(taxonomy, axis, names), strict=True):
        part = table[(table[axis] == name) & table["distance"].notna()]
        part = part.sort_values("distance", ascending=False, kind="stable")
        k = min(RANKING_K, len(part) // 2 or len(part))
        top, bottom = part.head(k), part.tail(k).iloc[::-1] if k else part.head(0)
        specs = []
        for rows, which, color in ((top, "largest", "#6a51a3"), (bottom, "smallest", "#9e9ac8")):
            values = rows["value"].astype(str).tolist()
            specs.append(
                fig.Bars(
                    f"values_{axis}_{slug(name)}_{which}",
                    f"{label}: {which} gaps",
                    values,
                    values,
                    rows["distance"].astype(float).tolist(),
                    "distance",
                    vmax=vmax,
                    color=color,
                )
            )
        grid.append((label, specs[0], specs[1]))
        groups.append(
            {
                "id": f"{'c' if axis == 'country' else 't'}{index}-{slug(name)}",
                "name": name,
                "label": label,
                "charts": [Chart("bars", s, svg.bars_layout(s, plot_w=220)) for s in specs],
            }
        )
    figures.append(
        (
            folder,
            fig.RankingGrid(
                f"value_ranking_by_{axis}", f"Largest and smallest gaps per {axis}", grid
            ),
        )
    )
    return {"axis": axis, "groups": groups, "k": RANKING_K}


def _misalignment(run: ValueActionRun, taxonomy: Taxonomy, keep: Keep) -> dict[str, object]:
    pairs = run.pairs
    charts = []
    for axis, names in (("country", run.countries), ("topic", run.topics)):
        counts = pd.crosstab(pairs[axis], pairs["direction"]).reindex(names, fill_value=0)
        segments = [
            (
                "stated agree, chose negative",
                fig.AGREE_NEG_FILL,
                counts.get("stated_agree_chose_negative", pd.Series(0, index=names))
                .astype(float)
                .tolist(),
            ),
            (
                "stated disagree, chose positive",
                fig.DISAGREE_POS_FILL,
                counts.get("stated_disagree_chose_positive", pd.Series(0, index=names))
                .astype(float)
                .tolist(),
            ),
        ]
        spec = fig.StackedBars(
            f"misaligned_by_{axis}",
            f"Misaligned pairs by {axis}",
            axis_labels(taxonomy, axis, names),
            list(names),
            segments,
            "misaligned pairs",
        )
        charts.append(
            keep(
                Chart(
                    "stacked",
                    spec,
                    svg.stacked_layout(spec),
                    series=[(n, c) for n, c, _ in segments],
                )
            )
        )
    by_type = _misaligned_values(run)
    return {"charts": charts, "values": by_type}


def _misaligned_values(run: ValueActionRun, k: int = 10) -> list[dict[str, str | int]]:
    """Values most often misaligned, with the split by direction."""
    pairs = run.pairs
    grouped = pairs.groupby("value", sort=False).agg(
        misaligned=("misaligned", "sum"), compared=("misaligned", "count")
    )
    directions = pd.crosstab(pairs["value"], pairs["direction"])
    grouped = grouped.sort_values("misaligned", ascending=False, kind="stable").head(k)
    rows: list[dict[str, str | int]] = []
    for value, row in grouped.iterrows():
        rows.append(
            {
                "value": str(value),
                "misaligned": int(row["misaligned"]),
                "compared": int(row["compared"]),
                "agree_neg": int(
                    directions.get("stated_agree_chose_negative", pd.Series(dtype=int)).get(
                        value, 0
                    )
                ),
                "disagree_pos": int(
                    directions.get("stated_disagree_chose_positive", pd.Series(dtype=int)).get(
                        value, 0
                    )
                ),
            }
        )
    return rows


def _variants(run: ValueActionRun, keep: Keep) -> dict[str, object] | None:
    table = run.variants
    if table is None or table.empty or "alignment_rate" not in table.columns:
        return None
    table = table.copy()
    if "task" not in table.columns:
        table["task"] = ""
    rows: list[_VariantRow] = [
        {
            "task": str(r["task"]),
            "variant": str(r.get("variant", "")),
            "rate": as_float(r["alignment_rate"]),
            "accuracy": as_float(r.get("accuracy")),
            "n": r.get("n_pairs"),
        }
        for r in table.to_dict("records")
    ]
    labels = [f"{r['task']} · {r['variant']}" if r["task"] else r["variant"] for r in rows]
    spec = fig.Bars(
        "alignment_rate_by_variant",
        "Alignment rate by prompt variant",
        labels,
        labels,
        [r["rate"] for r in rows],
        "alignment rate (F1)",
        color="#009E73",
    )
    rates = [r["rate"] for r in rows if math.isfinite(r["rate"])]
    spread = (max(rates) - min(rates)) if rates else math.nan
    return {
        "rows": rows,
        "chart": keep(Chart("bars", spec, svg.bars_layout(spec))),
        "spread": spread,
        "overall": as_float(run.summary.get("alignment_rate")),
    }
