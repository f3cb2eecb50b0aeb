"""The report section "Open-ended actions": open-ended Task 2 beside forced choice.

For each run with a `responses_open` table (`valuelens evaluate --tasks ...,open`) the section
shows how many pairs got an open-ended T2, the share of each judge label, how often open-ended
and forced-choice T2 agree per value, country and topic (from the run's `pairs` table, else its
`responses_action`), and a few examples with the judge's rationale. Registered on import.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from markupsafe import Markup

from valuelens.metrics._open import AXES, open_rates, open_vs_forced
from valuelens.report._load import LoadedRun
from valuelens.report._sections import Section, SectionContext, register_section, render_fragment
from valuelens.runs import RunRecord

SECTION_KEY = "open"
TABLE = "responses_open"
TEMPLATE = Path(__file__).with_name("templates") / "open.html.j2"
EXAMPLES = 6
"""How many examples each run shows (the run's `responses_open` table holds them all)."""


def _forced(record: RunRecord) -> pd.DataFrame | None:
    for name in ("pairs", "responses_action"):
        table = record.optional_table(name)
        if table is not None and len(table):
            return table
    return None


def _examples(table: pd.DataFrame) -> list[dict[str, str]]:
    coded = table[table["label"].notna()] if "label" in table.columns else table.iloc[:0]
    rows = coded.head(EXAMPLES).to_dict("records")
    keys = ("country", "topic", "value", "action", "label", "rationale")
    return [{k: "" if pd.isna(row.get(k)) else str(row.get(k)) for k in keys} for row in rows]


def _view(run: LoadedRun, record: RunRecord, table: pd.DataFrame) -> dict[str, object]:
    forced = _forced(record)
    comparison = open_vs_forced(table, forced) if forced is not None and len(table) else None
    judge = table["judge"].dropna().unique().tolist() if "judge" in table.columns else []
    return {
        "label": run.label,
        "judge": ", ".join(str(j) for j in judge),
        "rates": open_rates(table),
        "summary": comparison.summary if comparison is not None else None,
        "axes": [
            {"by": axis, "rows": comparison.tables[f"agreement_{axis}"].to_dict("records")}
            for axis in AXES
        ]
        if comparison is not None
        else [],
        "examples": _examples(table),
    }


def open_section(ctx: SectionContext) -> Markup | None:
    """The section's HTML, or None when no run has open-ended answers."""
    views = []
    for run in ctx.runs:
        record = run.record
        table = record.optional_table(TABLE) if record is not None else None
        if record is not None and table is not None:
            views.append(_view(run, record, table))
    if not views:
        return None
    return render_fragment(TEMPLATE, views=views)


register_section(Section(SECTION_KEY, "Open-ended actions", open_section, order=650))
