"""The report section "ValueCompass by group": alignment per respondent group, and directions.

For each compass run that holds the breakdown tables (`group_scores`, `directions`, written by
`valuelens compass score`), the section shows the alignment rate of each group level with its
interval over respondents and its number of respondents (flagging small groups), and the values
people endorse while the model rejects them, and the reverse. Registered when this module is
imported (`report._compass` imports it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from markupsafe import Markup

from valuelens.metrics._compass_groups import ENDORSE_REJECT, REJECT_ENDORSE
from valuelens.report._load import CompassRun
from valuelens.report._sections import Section, SectionContext, register_section, render_fragment
from valuelens.runs import read_run

SECTION_KEY = "compass-groups"
TEMPLATE = Path(__file__).with_name("templates") / "compass_groups.html.j2"
TOP_VALUES = 10
"""How many values the direction table shows before "all values"."""
BAR_WIDTH = 120.0


@dataclass(frozen=True)
class _Level:
    name: str
    n_respondents: int
    n_cells: int
    rate: float | None
    low: float | None
    high: float | None
    distance: float | None
    few: bool

    def bar(self) -> dict[str, float] | None:
        """Pixel positions of the point and interval on a 0..1 axis of `BAR_WIDTH`."""
        if self.rate is None:
            return None
        low = self.rate if self.low is None else self.low
        high = self.rate if self.high is None else self.high
        return {"x": self.rate * BAR_WIDTH, "x0": low * BAR_WIDTH, "x1": high * BAR_WIDTH}


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _groups(scores: pd.DataFrame) -> list[dict[str, object]]:
    groups: list[dict[str, object]] = []
    for column, part in scores.groupby("by", sort=False):
        levels = [
            _Level(
                name=str(r["level"]),
                n_respondents=int(r["n_respondents"]),
                n_cells=int(r["n_cells"]),
                rate=_number(r["alignment_rate"]),
                low=_number(r["alignment_rate_ci_low"]),
                high=_number(r["alignment_rate_ci_high"]),
                distance=_number(r["distance"]),
                few=bool(r["few_respondents"]),
            )
            for _, r in part.iterrows()
        ]
        groups.append({"column": str(column), "levels": levels})
    return groups


def _direction_rows(directions: pd.DataFrame) -> list[dict[str, object]]:
    return [
        {
            "value": str(r["value"]),
            "country": "" if pd.isna(r["country"]) else str(r["country"]),
            "n": int(r["n_cells"]),
            "er": int(r[ENDORSE_REJECT]),
            "re": int(r[REJECT_ENDORSE]),
            "er_share": _number(r["share_endorse_reject"]),
            "re_share": _number(r["share_reject_endorse"]),
            "imbalance": _number(r["imbalance"]),
        }
        for _, r in directions.iterrows()
    ]


def _country_leaders(directions: pd.DataFrame) -> list[dict[str, object]]:
    """Per country, its most one-sided value (the first row of its block)."""
    per_country = directions[directions["scope"] == "country"]
    return _direction_rows(per_country.groupby("country", sort=False).head(1))


def _run_view(index: int, run: CompassRun) -> dict[str, object] | None:
    record = read_run(run.path)
    scores = record.optional_table("group_scores")
    directions = record.optional_table("directions")
    if scores is None and directions is None:
        return None
    summary = run.summary
    pooled = directions[directions["scope"] == "all"] if directions is not None else None
    return {
        "id": f"compass-groups-{index}",
        "label": run.label,
        "groups": _groups(scores) if scores is not None and len(scores) else [],
        "min_respondents": summary.min_respondents,
        "level": summary.bootstrap.level if summary.bootstrap else 0.95,
        "neutral_rule": summary.neutral_rule or "",
        "directions": _direction_rows(pooled.head(TOP_VALUES)) if pooled is not None else [],
        "all_directions": _direction_rows(pooled) if pooled is not None else [],
        "country_leaders": _country_leaders(directions) if directions is not None else [],
        "totals": summary.directions_total or {},
        "spellings": summary.demographic_spellings or {},
    }


def build_compass_groups(ctx: SectionContext) -> Markup | None:
    """The section's body for every compass run with breakdowns, or None when none has them."""
    compass = [r for r in ctx.runs if isinstance(r, CompassRun)]
    views = [v for i, run in enumerate(compass) if (v := _run_view(i, run)) is not None]
    if not views:
        return None
    return render_fragment(
        TEMPLATE,
        views=views,
        bar_width=BAR_WIDTH,
        endorse_reject=ENDORSE_REJECT,
        reject_endorse=REJECT_ENDORSE,
    )


SECTION = Section(SECTION_KEY, "ValueCompass by group", build_compass_groups, order=450)
register_section(SECTION)
