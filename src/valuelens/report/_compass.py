"""The ValueCompass sections of the report: human survey answers against one model's answers."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from valuelens.report import _compass_groups  # noqa: F401  (registers "ValueCompass by group")
from valuelens.report import _figures as fig
from valuelens.report import _svg as svg
from valuelens.report._charts import (
    PLURAL,
    Chart,
    Keep,
    distance_ranking,
    keeper,
    rate_bars,
    value_heatmaps,
)
from valuelens.report._compare import as_float
from valuelens.report._format import axis_labels, headlines
from valuelens.report._load import CompassRun
from valuelens.runs import COMPASS
from valuelens.taxonomy import Taxonomy


def compass_view(
    index: int,
    run: CompassRun,
    taxonomy: Taxonomy,
    figures: list[tuple[str, fig.Figure]],
    folder: str,
) -> dict[str, object]:
    """Headlines, cell heatmap, rates by axis, value heatmaps and rankings of a compass run."""
    keep = keeper(figures, folder)
    order = _CompassOrder.of(run, taxonomy)
    return {
        "id": f"compass-{index}",
        "label": run.label,
        "headlines": headlines(run.summary, COMPASS),
        "cell_chart": _compass_cells(run, order, taxonomy, keep),
        "by_axis": [_compass_axis(run, axis, taxonomy, keep) for axis in ("country", "scenario")],
        "heatmaps": [
            h
            for axis in ("country", "scenario")
            if (h := _compass_heatmaps(run, axis, order, taxonomy, keep))
        ],
        "rankings": [
            c
            for axis in ("country", "scenario")
            if (c := _compass_ranked(run, axis, taxonomy, keep))
        ],
    }


@dataclass(frozen=True)
class _CompassOrder:
    """Display order of a compass run's axes: the `cells` table's order, else the taxonomy's."""

    country: list[str]
    scenario: list[str]
    value: list[str]

    @staticmethod
    def of(run: CompassRun, taxonomy: Taxonomy) -> _CompassOrder:
        found: dict[str, list[str]] = {"country": [], "scenario": [], "value": []}
        for table in (run.cells, run.cell_scores, run.distance_country, run.distance_scenario):
            for axis, names in found.items():
                if table is not None and axis in table.columns:
                    names += [n for n in _unique(table[axis]) if n not in names]
        known = {"country": taxonomy.country_names, "value": taxonomy.value_names}
        if run.cells is None:  # tables other than `cells` may be sorted by rank
            for axis, reference in known.items():
                position = {n: i for i, n in enumerate(reference)}
                found[axis].sort(key=lambda n: position.get(n, len(position)))
        return _CompassOrder(found["country"], found["scenario"], found["value"])


def _compass_cells(
    run: CompassRun, order: _CompassOrder, taxonomy: Taxonomy, keep: Keep
) -> Chart | None:
    table = run.cell_scores
    if table is None or not {"country", "scenario", "alignment_rate"} <= set(table.columns):
        return None
    rows = [c for c in order.country if c in set(table["country"])]
    cols = [c for c in order.scenario if c in set(table["scenario"])]
    wide = table.groupby(["country", "scenario"])["alignment_rate"].mean().unstack()
    matrix = wide.reindex(index=rows, columns=cols).to_numpy(dtype=float)
    spec = fig.Heatmap(
        "compass_alignment_by_cell",
        "Alignment rate per country × scenario",
        rows,
        axis_labels(taxonomy, "country", rows),
        cols,
        matrix,
        fig.rate_scale(),
        "alignment rate",
        col_axis="scenario",
        rotate_cols=False,
    )
    width = max(60.0, max((svg.text_px(c) for c in cols), default=0) + 10)
    layout = svg.heatmap_layout(spec, cell_w=width, cell_h=20)
    return keep(Chart("heatmap", spec, layout, svg.legend_layout(spec.scale)))


def _compass_axis(
    run: CompassRun, axis: str, taxonomy: Taxonomy, keep: Keep
) -> dict[str, object] | None:
    rates = run.summary.get(f"alignment_rate_by_{axis}")
    if not isinstance(rates, dict) or not rates:
        return None
    names = [str(n) for n in rates]
    values = [as_float(rates[n]) for n in names]
    rows = [{"name": n, "rate": v} for n, v in zip(names, values, strict=True)]
    chart = rate_bars(
        f"compass_alignment_rate_by_{axis}", axis, names, axis_labels(taxonomy, axis, names), values
    )
    return {"axis": axis, "rows": rows, "chart": keep(chart)}


def _compass_heatmaps(
    run: CompassRun, axis: str, order: _CompassOrder, taxonomy: Taxonomy, keep: Keep
) -> dict[str, object] | None:
    table = run.distance_country if axis == "country" else run.distance_scenario
    if table is None or not {axis, "value", "distance"} <= set(table.columns):
        return None
    present_rows, present_cols = set(table[axis]), set(table["value"])
    rows = [n for n in getattr(order, axis) if n in present_rows]
    cols = [v for v in order.value if v in present_cols]
    rating = fig.polarity_scale("agree", "disagree", "stated")
    measures = [
        ("human", "Humans", "human rating, 0 = agree, 1 = disagree", rating),
        ("model", "Model", "model rating, 0 = agree, 1 = disagree", rating),
        (
            "distance",
            "Distance",
            "|human − model|",
            fig.distance_scale(float(table["distance"].max()), f"cdistance-{axis}"),
        ),
    ]
    charts = value_heatmaps(table, axis, "compass_heatmap", measures, rows, cols, taxonomy, keep)
    return {"axis": axis, "charts": charts} if charts else None


def _compass_ranked(run: CompassRun, axis: str, taxonomy: Taxonomy, keep: Keep) -> Chart | None:
    table = run.distance_country if axis == "country" else run.distance_scenario
    if table is None or axis not in table.columns or "distance" not in table.columns:
        return None
    key, title = f"compass_ranking_{axis}_by_distance", f"{PLURAL[axis]} by mean distance"
    return keep(distance_ranking(table, axis, key, title, taxonomy))


def _unique(column: pd.Series) -> list[str]:
    return [str(x) for x in pd.unique(column.astype(str))]
