"""The report section "Prompt languages": the value-action gap by prompt language vs English.

For each run asked in more than one prompt language (`valuelens evaluate --language en,native`)
the section shows, per language other than English, the pairs asked in both, the alignment
rate, accuracy and mean distance in that language and in English on those same pairs, their
difference with a paired bootstrap interval and a permutation p-value (`metrics/_language.py`),
how often the two languages agree on the stated and chosen side, and how many pairs could not
be evaluated in the language (an action whose translation could not be read). Registered on
import.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from markupsafe import Markup

from valuelens.metrics import LANGUAGE_GAP_COLUMNS
from valuelens.report._load import LoadedRun
from valuelens.report._sections import Section, SectionContext, register_section, render_fragment
from valuelens.runs import ValueActionResponsesSummary, ValueActionSummary

Evaluated = ValueActionSummary | ValueActionResponsesSummary

SECTION_KEY = "languages"
TABLE = "language_gap"
TEMPLATE = Path(__file__).with_name("templates") / "language.html.j2"
MEASURE_LABELS = {
    "alignment_rate": "alignment rate (F1)",
    "accuracy": "accuracy",
    "distance_mean": "mean distance",
}


def _language_names() -> dict[str, str]:
    from valuelens._errors import ValuelensError
    from valuelens.taxonomy import available_languages

    try:
        return available_languages()
    except ValuelensError:  # a broken pack must not break the report
        return {}


def _rows(table: pd.DataFrame) -> list[dict[str, object]]:
    rows = table[[c for c in LANGUAGE_GAP_COLUMNS if c in table.columns]].to_dict("records")
    return [
        {**{str(k): v for k, v in r.items()}, "label": MEASURE_LABELS.get(str(r["measure"]))}
        for r in rows
    ]


def _entries(
    summary: Evaluated, table: pd.DataFrame, names: dict[str, str]
) -> list[dict[str, object]]:
    countries = summary.language_countries or {}
    missing = summary.language_not_evaluated or {}
    status = summary.translation_status or {}
    return [
        {
            "code": code,
            "name": names.get(code, code),
            "countries": ", ".join(countries.get(code, [])),
            "gap": gap,
            "rows": _rows(table[table["language"] == code]),
            "not_evaluated": int(missing.get(code, 0)),
            "translations": ", ".join(f"{k} {v}" for k, v in status.get(code, {}).items()),
        }
        for code, gap in (summary.language_gap or {}).items()
    ]


def _view(run: LoadedRun, summary: Evaluated, table: pd.DataFrame) -> dict[str, object]:
    return {
        "label": run.label,
        "entries": _entries(
            summary, table, {**_language_names(), **(summary.language_names or {})}
        ),
        "languages": ", ".join(summary.prompt_languages or []),
        "translator": summary.translator or "",
    }


def language_section(ctx: SectionContext) -> Markup | None:
    """The section's HTML, or None when no run was asked in more than one prompt language."""
    views = []
    for run in ctx.runs:
        record, summary = run.record, run.summary
        table = record.optional_table(TABLE) if record is not None else None
        if table is not None and isinstance(summary, Evaluated) and summary.language_gap:
            views.append(_view(run, summary, table))
    if not views:
        return None
    return render_fragment(TEMPLATE, views=views)


register_section(Section(SECTION_KEY, "Prompt languages", language_section, order=660))
