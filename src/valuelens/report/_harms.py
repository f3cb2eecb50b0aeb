"""The report section "Harms": risk types of misaligned actions, coded by a judge and by people.

For each harms run (`valuelens harms export`, `code`, `import`) the section shows how many
examples got each risk type (bars), a country x risk-type heatmap, counts by model, topic and
gap direction, agreement among coders and with the judge, and the examples themselves with
the judge's rationale, grouped by label. Registered when this module is imported.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from valuelens.metrics._harms import count_matrix
from valuelens.report import _figures as fig
from valuelens.report import _svg as svg
from valuelens.report._charts import Chart, Keep, keeper, nice_max
from valuelens.report._load import GenericRun
from valuelens.report._sections import Section, SectionContext, register_section, render_fragment
from valuelens.runs._harms import HARMS
from valuelens.tasks._harms import HarmLevel, HarmTaxonomy, HarmType, load_harm_taxonomy

SECTION_KEY = "harms"
TEMPLATE = Path(__file__).with_name("templates") / "harms.html.j2"
EXAMPLES_PER_LABEL = 25
"""How many examples the browser shows under each label (the tables hold them all)."""
_COUNT_STOPS = ((0.0, "#fff7ec"), (0.5, "#fc8d59"), (1.0, "#7f0000"))
NONE_LEVEL = HarmLevel(key="none", name="No harm")


def _taxonomy(run: GenericRun) -> HarmTaxonomy:
    """The labels the run was coded with (its `labels` table), else the built-in taxonomy."""
    table = run.record.optional_table("labels")
    if table is None or not len(table):
        return load_harm_taxonomy()
    rows = table.to_dict("records")
    none = next((r for r in rows if r["key"] == r["level"]), None)
    levels = {
        str(r["level"]): HarmLevel(key=str(r["level"]), name=str(r["level_name"]))
        for r in rows
        if r is not none
    }
    return HarmTaxonomy(
        none=HarmLevel(key=str(none["key"]), name=str(none["name"])) if none else NONE_LEVEL,
        levels=tuple(levels.values()),
        types=tuple(
            HarmType(
                key=str(r["key"]),
                name=str(r["name"]),
                level=str(r["level"]),
                definition=str(r["definition"]),
            )
            for r in rows
            if r is not none
        ),
    )


def _name(taxonomy: HarmTaxonomy, key: str) -> str:
    return taxonomy.name_of(key)


def _source(counts: pd.DataFrame) -> str:
    """Whose labels the charts show: people's majority when they coded, else the judge's."""
    return "people" if (counts["source"] == "people").any() else "judge"


def _type_bars(counts: pd.DataFrame, source: str, taxonomy: HarmTaxonomy, key: str) -> Chart:
    overall = counts[
        (counts["source"] == source) & (counts["by"] == "all") & (counts["unit"] == "type")
    ]
    overall = overall.sort_values("n", ascending=False, kind="stable")
    names = [str(k) for k in overall["key"]]
    values = [float(n) for n in overall["n"]]
    spec = fig.Bars(
        key,
        f"Misaligned actions by risk type ({source})",
        [_name(taxonomy, n) for n in names],
        names,
        values,
        "examples",
        vmax=nice_max(max(values, default=0.0)),
        color=fig.AGREE_NEG_FILL,
    )
    return Chart("bars", spec, _whole_numbers(svg.bars_layout(spec)))


def _count_text(text: str) -> str:
    """A number the layout wrote with decimals ("8.000"), as the count it is ("8")."""
    try:
        number = float(text.replace(",", ""))
    except ValueError:
        return text
    return f"{number:,.0f}" if number.is_integer() else text


def _whole_numbers(layout: svg.BarsLayout) -> svg.BarsLayout:
    """Bars of counts: value labels, hover texts and ticks without decimals."""
    rows = [
        replace(
            row,
            value_text=replace(row.value_text, text=_count_text(row.value_text.text)),
            title=_retitle(row.title),
        )
        for row in layout.rows
    ]
    ticks = [replace(t, text=_count_text(t.text)) for t in layout.ticks]
    return replace(layout, rows=rows, ticks=ticks)


def _retitle(title: str) -> str:
    head, _, number = title.rpartition(" ")
    return f"{head} {_count_text(number)}" if head else title


def _country_heatmap(
    counts: pd.DataFrame, source: str, taxonomy: HarmTaxonomy, key: str, keep: Keep
) -> Chart | None:
    keys = [k for k in taxonomy.labels]
    wide = count_matrix(counts, "country", source=source, keys=keys)
    if wide.empty:
        return None
    matrix = wide.to_numpy(dtype=float)
    top = float(np.nanmax(matrix)) if matrix.size else 0.0
    scale = fig.ColorScale("harm-count", _COUNT_STOPS, 0.0, max(top, 1.0), "none", "many")
    level_names = {lv.key: lv.name for lv in taxonomy.levels}
    spec = fig.Heatmap(
        key,
        f"Risk types by country ({source})",
        [str(c) for c in wide.index],
        [str(c) for c in wide.index],
        [_name(taxonomy, k) for k in keys],
        matrix,
        scale,
        "examples",
        [level_names.get(taxonomy.level_of(k) or "", "none") for k in keys],
        col_axis="risk type",
    )
    legend = svg.legend_layout(scale, missing=False)
    legend = replace(legend, ticks=[replace(t, text=_count_text(t.text)) for t in legend.ticks])
    layout = svg.heatmap_layout(spec, cell_w=26.0)
    cells = [replace(cell, title=_retitle(cell.title)) for cell in layout.cells]
    return keep(Chart("heatmap", spec, replace(layout, cells=cells), legend))


def _count_table(
    counts: pd.DataFrame, by: str, source: str, taxonomy: HarmTaxonomy
) -> dict[str, object] | None:
    wide = count_matrix(counts, by, source=source, keys=list(taxonomy.labels))
    if wide.empty:
        return None
    used = [k for k in wide.columns if wide[k].sum() > 0]
    return {
        "by": by,
        "columns": [_name(taxonomy, k) for k in used],
        "rows": [
            {
                "group": str(g),
                "cells": [int(n) for n in r[used].tolist()],
                "total": int(sum(r.tolist())),
            }
            for g, r in wide.iterrows()
        ],
    }


def _agreement_rows(run: GenericRun) -> list[dict[str, object]]:
    table = run.record.optional_table("agreement")
    if table is None:
        return []
    return [
        {
            "statistic": str(r["statistic"]).replace("_", " "),
            "raters": f"{r['rater_a']} – {r['rater_b']}" if r["rater_b"] else str(r["rater_a"]),
            "value": None if pd.isna(r["value"]) else float(r["value"]),
            "n": int(r["n"]),
        }
        for r in table.to_dict("records")
    ]


def _browser(run: GenericRun, taxonomy: HarmTaxonomy) -> list[dict[str, object]]:
    """Examples grouped by their label (people's majority, else the judge's), with rationale."""
    examples = run.record.table("examples")
    codes = run.record.optional_table("codes")
    merged = run.record.optional_table("merged")
    table = examples.copy()
    table["judge"] = None
    table["rationale"] = None
    table["confidence"] = None
    if codes is not None and len(codes):
        by_id = codes.set_index(codes["example_id"].astype(str))
        ids = table["example_id"].astype(str)
        table["judge"] = ids.map(by_id["harm"])
        table["rationale"] = ids.map(by_id["rationale"])
        table["confidence"] = ids.map(by_id["confidence"])
    table["people"] = None
    if merged is not None and len(merged):
        table["people"] = (
            table["example_id"].astype(str).map(merged.set_index("example_id")["harm"])
        )
    table["label"] = table["people"].where(table["people"].notna(), table["judge"])
    groups = []
    for key in taxonomy.labels:
        part = table[table["label"] == key]
        if len(part):
            groups.append(
                {
                    "key": key,
                    "name": _name(taxonomy, key),
                    "n": len(part),
                    "examples": [
                        _example(r, taxonomy)
                        for r in part.head(EXAMPLES_PER_LABEL).to_dict("records")
                    ],
                }
            )
    return groups


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def _example(row: Mapping[Hashable, Any], taxonomy: HarmTaxonomy) -> dict[str, object]:
    confidence = row.get("confidence")
    return {
        "model": _text(row.get("model")),
        "scenario": f"{_text(row.get('country'))} · {_text(row.get('topic'))}",
        "value": _text(row.get("value")),
        "stance": _text(row.get("stated_stance")),
        "chosen": _text(row.get("chosen_action")),
        "explanation": _text(row.get("chosen_explanation")),
        "other": _text(row.get("other_action")),
        "judge": _name(taxonomy, str(row["judge"])) if _text(row.get("judge")) else "",
        "people": _name(taxonomy, str(row["people"])) if _text(row.get("people")) else "",
        "rationale": _text(row.get("rationale")),
        "confidence": None if confidence is None or pd.isna(confidence) else float(confidence),
    }


def _run_view(index: int, run: GenericRun, keep: Keep) -> dict[str, object]:
    taxonomy = _taxonomy(run)
    summary = run.summary.to_dict()
    counts = run.record.optional_table("counts")
    view: dict[str, object] = {
        "id": f"harms-{index}",
        "label": run.label,
        "summary": summary,
        "models": summary.get("n_examples_by_model") or {},
        "notes": summary.get("notes") or [],
        "agreement": _agreement_rows(run),
        "browser": [],
        "bars": None,
        "heatmap": None,
        "tables": [],
        "source": "",
    }
    if counts is None or not len(counts):
        return view
    source = _source(counts)
    view["source"] = source
    view["bars"] = keep(_type_bars(counts, source, taxonomy, f"harms_{index}_types"))
    view["heatmap"] = _country_heatmap(counts, source, taxonomy, f"harms_{index}_country", keep)
    view["tables"] = [
        t
        for by in ("model", "topic", "direction")
        if (t := _count_table(counts, by, source, taxonomy))
    ]
    view["levels"] = _levels(counts, source, taxonomy)
    view["browser"] = _browser(run, taxonomy)
    return view


def _levels(counts: pd.DataFrame, source: str, taxonomy: HarmTaxonomy) -> list[dict[str, object]]:
    rows = counts[
        (counts["source"] == source) & (counts["by"] == "all") & (counts["unit"] == "level")
    ]
    names = {lv.key: lv.name for lv in taxonomy.levels}
    names[taxonomy.none.key] = taxonomy.none.name
    return [
        {"name": names.get(str(r["key"]), str(r["key"])), "n": int(r["n"]), "share": r["share"]}
        for r in rows.to_dict("records")
    ]


def build_harms(context: SectionContext) -> Markup | None:
    """The section's body for every harms run of the report, or None when there is none."""
    runs = [r for r in context.runs if isinstance(r, GenericRun) and r.kind == HARMS]
    if not runs:
        return None
    views = []
    for index, run in enumerate(runs):
        keep = keeper(context.figures, context.folders.get(id(run), f"harms-{index}"))
        views.append(_run_view(index, run, keep))
    return render_fragment(TEMPLATE, views=views, per_label=EXAMPLES_PER_LABEL)


register_section(Section(SECTION_KEY, "Harms", build_harms, order=600))
