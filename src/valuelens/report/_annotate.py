"""The report's "VIA quality" section: annotation runs (`valuelens annotate import|judge`).

For each annotation run: the per-criterion yes rate with the agreement between annotators, the
eight generation prompt variants side by side (the paper's Tables 9-10, to pick a variant for a
new taxonomy or language), rates by country, the judge's agreement with people, and the items
on which annotators disagreed.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from markupsafe import Markup

from valuelens.metrics._annotate import PUBLISHED_KAPPA
from valuelens.report._load import GenericRun
from valuelens.report._sections import Section, SectionContext, register_section, render_fragment
from valuelens.runs._annotate import ANNOTATION
from valuelens.tasks._annotate import CRITERIA, CRITERION_LABELS

SECTION_KEY = "annotation"
_SHOWN_STAGES = ("import", "judge")
_MAX_FLAGGED = 50
_METHODS = {"cohen": "Cohen's kappa", "fleiss": "Fleiss' kappa", "none": "-"}


def _records(table: pd.DataFrame | None) -> list[dict[str, Any]]:
    if table is None or table.empty:
        return []
    return [{str(k): v for k, v in row.items()} for row in table.to_dict("records")]


def _headline(run: GenericRun) -> list[dict[str, object]]:
    headline = run.summary.get("headline") or {}
    return [
        {
            **headline[c],
            "label": CRITERION_LABELS[c],
            "method": _METHODS.get(str(headline[c].get("method")), str(headline[c].get("method"))),
        }
        for c in CRITERIA
        if c in headline
    ]


def _by_country(quality: pd.DataFrame | None) -> list[dict[str, object]]:
    if quality is None or quality.empty:
        return []
    rows = quality[quality["axis"] == "country"]
    wide = rows.pivot_table(index="group", columns="criterion", values="rate", aggfunc="first")
    counts = rows.groupby("group")["n_items"].max()
    return [
        {
            "country": str(name),
            "n_items": counts[name],
            "rates": [wide.at[name, c] if c in wide else None for c in CRITERIA],
        }
        for name in wide.index
    ]


def _flagged(run: GenericRun) -> list[dict[str, object]]:
    flagged = run.record.optional_table("flagged")
    if flagged is None or flagged.empty:
        return []
    items = run.record.optional_table("items")
    actions = {} if items is None else dict(zip(items["item_id"], items["action"], strict=False))
    return [
        {**row, "action": actions.get(row["item_id"], "")}
        for row in _records(flagged.head(_MAX_FLAGGED))
    ]


def annotation_view(run: GenericRun) -> dict[str, object]:
    """What the template shows for one annotation run."""
    variants = _records(run.record.optional_table("variants"))
    for row in variants:
        row["rates"] = [row.get(f"{c}_rate") for c in CRITERIA]
        row["kappas"] = [row.get(f"{c}_kappa") for c in CRITERIA]
    judge = run.record.optional_table("judge_agreement")
    overall_judge = [] if judge is None else _records(judge[judge["axis"] == "all"])
    flagged = run.record.optional_table("flagged")
    return {
        "label": run.label,
        "stage": run.summary.get("stage"),
        "summary": run.summary,
        "annotators": run.summary.get("annotators") or [],
        "headline": _headline(run),
        "variants": variants,
        "countries": _by_country(run.record.optional_table("quality")),
        "judge": [
            {**r, "label": CRITERION_LABELS.get(r["criterion"], r["criterion"])}
            for r in overall_judge
        ],
        "flagged": _flagged(run),
        "n_flagged_rows": 0 if flagged is None else len(flagged),
    }


def build_annotation_section(ctx: SectionContext) -> Markup | None:
    """The section's body, or None when the report has no annotation run to show."""
    runs = [
        r
        for r in ctx.runs
        if isinstance(r, GenericRun)
        and r.kind == ANNOTATION
        and r.summary.get("stage") in _SHOWN_STAGES
    ]
    if not runs:
        return None
    return render_fragment(
        "annotate.html.j2",
        views=[annotation_view(r) for r in runs],
        criteria=[CRITERION_LABELS[c] for c in CRITERIA],
        published_kappa=PUBLISHED_KAPPA,
        max_flagged=_MAX_FLAGGED,
    )


register_section(Section(SECTION_KEY, "VIA quality", build_annotation_section, order=650))
