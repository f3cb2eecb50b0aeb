"""The report's prompt-sensitivity section: factor effects, position bias and flipping pairs.

Registered with the report's section registry, so it shows for every value-action run that
asked a task under several prompt variants (`metrics/_sensitivity.py` computed the numbers and
`score_value_action` wrote them as the tables `sensitivity_effects`, `flips` and
`position_corrected`); it is left out when no run has them.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from markupsafe import Markup

from valuelens.metrics import format_number
from valuelens.report._load import ValueActionRun
from valuelens.report._sections import Section, SectionContext, register_section, render_fragment
from valuelens.runs import read_run_table

KEY = "sensitivity"
TITLE = "Prompt sensitivity"
FLIP_LIMIT = 200
"""Flipping pairs listed per run and task; the run directory's `flips.csv` has them all."""
_TASKS = {"stated": "Task 1 (stated)", "action": "Task 2 (action)"}


@dataclass(frozen=True)
class EffectRow:
    """One factor's effect as the table shows it."""

    task: str
    factor: str
    contrast: str
    estimate: float | None
    interval: str
    p_value: str
    n_items: int
    note: str


@dataclass(frozen=True)
class FlipList:
    """The flipping pairs of one task: counts and the first `FLIP_LIMIT` rows."""

    task: str
    label_1: str
    n_flips: int
    rate: str
    rows: list[dict[Hashable, Any]]


@dataclass(frozen=True)
class Panel:
    """What the section shows for one run."""

    label: str
    position: dict[str, str] | None
    effects: list[EffectRow]
    flips: list[FlipList]
    corrected: dict[str, str] | None


def build_section(ctx: SectionContext) -> Markup | None:
    """The section body for the runs that have sensitivity tables, or None when none has."""
    panels = [
        panel
        for run in ctx.runs
        if isinstance(run, ValueActionRun) and (panel := _panel(run)) is not None
    ]
    if not panels:
        return None
    return render_fragment("sensitivity.html.j2", panels=panels, flip_limit=FLIP_LIMIT)


def _panel(run: ValueActionRun) -> Panel | None:
    effects = read_run_table(run.path, "sensitivity_effects")
    if effects is None or effects.empty:
        return None
    flips = read_run_table(run.path, "flips")
    summary = run.summary.to_dict()
    return Panel(
        label=run.label,
        position=_position(summary),
        effects=[_effect_row(row) for row in effects.to_dict("records")],
        flips=_flip_lists(flips, summary),
        corrected=_corrected(summary),
    )


def _position(summary: Mapping[str, object]) -> dict[str, str] | None:
    if "position_bias" not in summary:
        return None
    ci = summary.get("position_bias_ci")
    low, high = ci if isinstance(ci, list) and len(ci) == 2 else (None, None)
    interval = ""
    if _number(low) is not None and _number(high) is not None:
        interval = f"95% CI {format_number(low, 'percent')} – {format_number(high, 'percent')}"
    return {
        "rate": format_number(summary.get("position_bias"), "percent"),
        "interval": interval,
        "p": _p_text(summary.get("position_bias_p")),
        "n": format_number(summary.get("position_bias_n"), "int"),
        "note": str(summary.get("position_bias_note") or ""),
    }


def _effect_row(row: Mapping[Hashable, object]) -> EffectRow:
    estimate = _number(row.get("estimate"))
    return EffectRow(
        task=_TASKS.get(str(row.get("task")), str(row.get("task"))),
        factor=str(row.get("factor")),
        contrast=str(row.get("contrast")),
        estimate=estimate,
        interval=_interval(row.get("ci_low"), row.get("ci_high")),
        p_value=_p_text(row.get("p_value")),
        n_items=int(_number(row.get("n_items")) or 0),
        note=str(row.get("note")) if isinstance(row.get("note"), str) else "",
    )


def _flip_lists(flips: pd.DataFrame | None, summary: Mapping[str, Any]) -> list[FlipList]:
    lists = []
    for task, title in _TASKS.items():
        if f"n_flips_{task}" not in summary:
            continue
        rows = flips[flips["task"] == task] if flips is not None else pd.DataFrame()
        label = str(rows["label_1"].iloc[0]) if len(rows) else ""
        lists.append(
            FlipList(
                task=title,
                label_1=label,
                n_flips=int(summary.get(f"n_flips_{task}") or 0),
                rate=format_number(summary.get(f"flip_rate_{task}"), "percent"),
                rows=rows.head(FLIP_LIMIT).to_dict("records"),
            )
        )
    return lists


def _corrected(summary: Mapping[str, object]) -> dict[str, str] | None:
    if "alignment_rate_position_corrected" not in summary:
        return None
    ci = summary.get("alignment_rate_position_corrected_ci")
    return {
        "plain": format_number(summary.get("alignment_rate")),
        "corrected": format_number(summary.get("alignment_rate_position_corrected")),
        "interval": _interval(*ci) if isinstance(ci, list) and len(ci) == 2 else "",
        "n": format_number(summary.get("n_pairs_position_corrected"), "int"),
        "changed": format_number(summary.get("n_pairs_changed_by_position_correction"), "int"),
    }


def _interval(low: object, high: object) -> str:
    low_n, high_n = _number(low), _number(high)
    if low_n is None or high_n is None:
        return ""
    return (
        f"{low_n:+.3f} – {high_n:+.3f}" if min(low_n, high_n) < 0 else f"{low_n:.3f} – {high_n:.3f}"
    )


def _p_text(value: object) -> str:
    p = _number(value)
    if p is None:
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


register_section(Section(KEY, TITLE, build_section, order=450))
