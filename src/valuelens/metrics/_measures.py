"""The measures table: what each headline number of a run summary is called and how it reads.

One `Measure` per summary key and run kind says how people read the number (its label), how it
is written (`format`), which way is better, where its confidence interval is and what it means.
The report's headline cards and the terminal summary of `valuelens score` / `evaluate` are both
drawn from this table, so a label is written once. A new measure is one `register_measure` call;
it then appears wherever its run kind's headlines are shown.

Example:
    >>> from valuelens.metrics import headline_measures, measure
    >>> measure("alignment_rate").label
    'alignment rate (F1)'
    >>> measure("misaligned").format_value(1234)
    '1,234'
    >>> [m.key for m in headline_measures("compass")][:2]
    ['alignment_rate', 'accuracy']
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from valuelens._errors import ValuelensError

Format = Literal[".2f", ".3f", "int", "percent"]
VALUE_ACTION = "value-action"
COMPASS = "compass"
MISSING = "—"


class Summary(Protocol):
    """What a measure reads from a run summary: a value by key (None when absent).

    A plain `dict` loaded from `summary.json` is one, and so is a typed run summary.
    """

    def get(self, key: str, /) -> Any:
        """The value stored under `key`, or None."""


def format_number(value: object, fmt: Format | str = ".3f", missing: str = MISSING) -> str:
    """`value` written as `fmt` (".3f", ".2f", "int" with thousands separators, or "percent").

    Anything that is not a finite number (None, NaN, text, a mapping) is written as `missing`.
    """
    number = _number(value)
    if number is None:
        return missing
    if fmt == "int":
        return f"{round(number):,}"
    if fmt == "percent":
        return f"{100 * number:.1f}%"
    return f"{number:{fmt}}"


@dataclass(frozen=True)
class Measure:
    """One headline number of a run summary.

    Attributes:
        key: the summary key (`summary.json`), e.g. "alignment_rate".
        label: how people read it, lower case ("alignment rate (F1)"); the report capitalises it.
        format: ".3f", ".2f", "int" or "percent".
        higher_is_better: True or False for a score, None for a count without a direction.
        kinds: the run kinds whose summaries have it ("value-action", "compass").
        ci_key: the summary key of its confidence interval ([low, high]), if any.
        description: one sentence on what it measures (the card's hover text).
        note: a short line shown under the number when there is no interval.
        of_key: a count this one is part of ("misaligned" of "n_pairs_scored").
        aliases: older or other keys read when `key` is missing.
        headline: shown on the report's cards and in the terminal summary.
        optional: left out (not shown as missing) when the run lacks it or it is zero.
        short_label: a shorter label for tight places (table titles, `compare`); the label
            when empty.
    """

    key: str
    label: str
    format: Format = ".3f"
    higher_is_better: bool | None = True
    kinds: frozenset[str] = frozenset({VALUE_ACTION})
    ci_key: str | None = None
    description: str = ""
    note: str = ""
    of_key: str | None = None
    aliases: tuple[str, ...] = ()
    headline: bool = True
    optional: bool = False
    short_label: str = ""

    @property
    def short(self) -> str:
        """The short label, or the label when the measure has none."""
        return self.short_label or self.label

    @property
    def title(self) -> str:
        """The label with a capital first letter, for headings and cards."""
        return self.label[:1].upper() + self.label[1:]

    def value_in(self, summary: Summary) -> float | None:
        """The number under `key` (or the first alias that holds one); None when absent."""
        for key in (self.key, *self.aliases):
            number = _number(summary.get(key))
            if number is not None:
                return number
        return None

    def format_value(self, value: object, missing: str = MISSING) -> str:
        """`value` written in this measure's format."""
        return format_number(value, self.format, missing)

    def interval_in(self, summary: Summary) -> tuple[float, float] | None:
        """The (low, high) interval from `ci_key`, or None when there is none."""
        found = summary.get(self.ci_key) if self.ci_key else None
        if isinstance(found, list | tuple) and len(found) == 2:
            low, high = _number(found[0]), _number(found[1])
            if low is not None and high is not None:
                return (low, high)
        return None

    def interval_text(self, summary: Summary) -> str:
        """E.g. '95% CI 0.512 – 0.601', or '' without an interval."""
        interval = self.interval_in(summary)
        if interval is None:
            return ""
        low, high = (self.format_value(x) for x in interval)
        return f"95% CI {low} – {high}"

    def shown_for(self, summary: Summary) -> bool:
        """Whether a headline of this measure is shown for a run with `summary`."""
        return not self.optional or bool(self.value_in(summary))


_MEASURES: list[Measure] = []


def register_measure(new: Measure) -> Measure:
    """Add a measure to the table (after those already there) and return it.

    Raises:
        ValuelensError: when the key is already registered for one of the measure's kinds, or
            the measure names no kind or an unknown format.
    """
    if not new.kinds:
        raise ValuelensError(f"measure {new.key!r} names no run kind")
    if new.format not in (".2f", ".3f", "int", "percent"):
        raise ValuelensError(f"measure {new.key!r}: unknown format {new.format!r}")
    for old in _MEASURES:
        if old.key == new.key and old.kinds & new.kinds:
            kinds = ", ".join(sorted(old.kinds & new.kinds))
            raise ValuelensError(f"measure {new.key!r} is already registered for {kinds}")
    _MEASURES.append(new)
    return new


def unregister_measure(key: str, kind: str | None = None) -> None:
    """Remove the measure `key` (of `kind`, or of every kind); nothing happens if it is absent."""
    _MEASURES[:] = [
        m for m in _MEASURES if not (m.key == key and (kind is None or kind in m.kinds))
    ]


def measures(kind: str | None = None) -> list[Measure]:
    """Every registered measure (of `kind` when given), in table order."""
    return [m for m in _MEASURES if kind is None or kind in m.kinds]


def headline_measures(kind: str) -> list[Measure]:
    """The measures shown as headlines for runs of `kind`, in table order."""
    return [m for m in measures(kind) if m.headline]


def measure(key: str, kind: str = VALUE_ACTION) -> Measure:
    """The measure `key` of runs of `kind`.

    Raises:
        ValuelensError: when no such measure is registered.
    """
    found = next((m for m in _MEASURES if m.key == key and kind in m.kinds), None)
    if found is None:
        raise ValuelensError(f"no measure {key!r} for {kind} runs")
    return found


def _number(value: object) -> float | None:
    """A finite number as a float (NumPy scalars included); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


# --------------------------------------------------------------------------- the table

_ALIGNMENT = Measure(
    "alignment_rate",
    "alignment rate (F1)",
    ci_key="alignment_rate_ci",
    short_label="alignment rate",
    description="Binary F1 with 'disagree / chose negative' as the positive class, per scenario, "
    "averaged over scenarios",
)
_ACCURACY = Measure(
    "accuracy",
    "accuracy",
    ci_key="accuracy_ci",
    description="Share of values whose binarised statement matches the choice, per scenario, "
    "averaged",
)
_DISTANCE = Measure(
    "distance_mean",
    "mean distance",
    higher_is_better=False,
    note="|stated − chosen|, country × value, 0..1",
    description="Mean over the country × value matrix of |mean T1 − mean T2|",
    aliases=("distance_mean_by_country",),
)

for _entry in (
    _ALIGNMENT,
    _ACCURACY,
    Measure(
        "misaligned",
        "misaligned pairs",
        "int",
        higher_is_better=False,
        of_key="n_pairs_scored",
        description="Pairs whose binarised stated score differs from the choice",
    ),
    Measure(
        "misaligned_stated_agree_chose_negative",
        "stated agree, chose negative",
        "int",
        higher_is_better=False,
        note="acts against a value it endorses",
    ),
    Measure(
        "misaligned_stated_disagree_chose_positive",
        "stated disagree, chose positive",
        "int",
        higher_is_better=False,
        note="acts on a value it rejects",
    ),
    Measure(
        "misaligned_rate",
        "misaligned share",
        "percent",
        higher_is_better=False,
        ci_key="misaligned_rate_ci",
        description="Misaligned pairs over the pairs with both a stated score and a choice",
        headline=False,
    ),
    _DISTANCE,
    Measure(
        "distance_mean_by_topic",
        "mean distance (topic × value)",
        higher_is_better=False,
        note="|stated − chosen|, topic × value, 0..1",
        description="Mean over the topic × value matrix of |mean T1 − mean T2|",
    ),
    Measure(
        "distance_abs_mean",
        "mean pair distance (Eq. 1)",
        higher_is_better=False,
        ci_key="distance_abs_mean_ci",
        description="Mean over the country × value matrix of the mean |T1 − T2| of each cell's "
        "pairs (the paper's Eq. 1), so gaps in opposite directions do not cancel",
        headline=False,
    ),
    Measure(
        "n_pairs",
        "pairs",
        "int",
        higher_is_better=None,
        description="Country × topic × value pairs in the run",
    ),
    Measure(
        "n_pairs_scored",
        "pairs scored",
        "int",
        higher_is_better=None,
        description="Pairs with both a stated score and a choice",
        headline=False,
    ),
    Measure(
        "n_pairs_without_choice",
        "pairs without a choice",
        "int",
        higher_is_better=None,
        description="Pairs whose Task 2 answers name no option",
    ),
    Measure(
        "n_pairs_without_stated",
        "pairs without a stated answer",
        "int",
        higher_is_better=None,
        description="Pairs without a usable Task 1 answer",
        optional=True,
    ),
    Measure(
        "prompt_agreement_stated",
        "prompt agreement (stated)",
        ".2f",
        ci_key="prompt_agreement_stated_ci",
        description="Per pair, the share of Task 1 variants giving the modal agree/disagree "
        "answer, averaged over pairs (the paper's Table 8)",
        optional=True,
    ),
    Measure(
        "prompt_agreement_action",
        "prompt agreement (action)",
        ".2f",
        ci_key="prompt_agreement_action_ci",
        description="Per pair, the share of Task 2 variants giving the modal choice, averaged",
        optional=True,
    ),
    Measure(
        "prompt_agreement_stated_likert",
        "prompt agreement (stated, Likert)",
        ".2f",
        ci_key="prompt_agreement_stated_likert_ci",
        description="Prompt agreement of Task 1 on the four Likert levels",
        headline=False,
    ),
    Measure(
        "action_positive_rate",
        "positive actions",
        "percent",
        higher_is_better=None,
        ci_key="action_positive_rate_ci",
        description="Share of Task 2 answers that chose the value-expressing (positive) action",
        headline=False,
    ),
    replace(
        _ALIGNMENT,
        kinds=frozenset({COMPASS}),
        description="Binary F1 of model against human answers (disagree = positive), per "
        "country × scenario cell, averaged over cells",
    ),
    replace(
        _ACCURACY,
        kinds=frozenset({COMPASS}),
        description="Share of values where model and humans agree, per cell, averaged",
    ),
    replace(
        _DISTANCE,
        kinds=frozenset({COMPASS}),
        note="|human − model|, country × value",
        description="Mean over the country × value matrix of |mean human − mean model|",
        optional=True,
    ),
    Measure(
        "n_cells",
        "cells compared",
        "int",
        higher_is_better=None,
        kinds=frozenset({COMPASS}),
        note="country × scenario",
        optional=True,
    ),
    Measure(
        "alignment_rate_paper_compat",
        "alignment rate (paper rule)",
        kinds=frozenset({COMPASS}),
        description="Alignment rate with the authors' rule for neutral answers",
        headline=False,
    ),
    Measure(
        "alignment_rate_default",
        "alignment rate (default rule)",
        kinds=frozenset({COMPASS}),
        description="Alignment rate with valuelens' rule for neutral answers",
        headline=False,
    ),
    Measure(
        "distance_mean_cellwise",
        "mean cell distance",
        higher_is_better=False,
        kinds=frozenset({COMPASS}),
        description="Mean |human − model| over every country × scenario × value cell",
        headline=False,
    ),
    Measure(
        "n_pairs_scored",
        "values compared",
        "int",
        higher_is_better=None,
        kinds=frozenset({COMPASS}),
        description="Cell values with both a human and a model answer",
        headline=False,
    ),
):
    register_measure(_entry)
