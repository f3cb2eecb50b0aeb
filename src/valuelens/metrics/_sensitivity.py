"""Prompt sensitivity: which prompt factor moves Task 1 and Task 2, position bias, flips.

Every Task 1 and Task 2 variant sets three two-way factors (`prompts/_variants.py`); a run that
asks several variants of a task lets us ask which of them moves the answers:

* **Factor effects** (`factor_effects`): a linear model of each answer on the task's factors,
  `y ~ factor_1 + factor_2 + factor_3`, fitted by ordinary least squares (a Gaussian GLM with
  the identity link) with standard errors clustered by item (country, topic, value), since each
  item is answered under every variant. For Task 1, y is the normalised Likert answer
  (L - 1) / 3; for Task 2, y is 1 when the negative action was chosen (a linear probability
  model). Why this model rather than a random-intercept mixed model or a logit: an effect is a
  difference in the outcome's own units (points of T1, share of answers choosing the negative
  action in T2), the units of the gap itself; a linear model has no perfect-separation failure,
  which a logit hits whenever a model never chooses the negative action under one wording; and
  statsmodels' `mixedlm` took about a minute on a full Task 1 grid (59,000 answers) where this
  takes well under a second. With every item answered under every variant (a balanced design)
  each estimate is exactly the difference between the mean answer at the factor's two levels.
* **Position bias** (`position_bias`): the share of Task 2 answers that chose the option shown
  first, with a Wilson interval and a two-sided binomial test against 0.5. Only defined when
  both option orders were asked: with one order, the first-option rate is the choice itself.
* **Position-corrected T2** (`position_corrected`): per pair, the mean of "chose negative" over
  the two option orders within each combination of the other factors (wording, explanation)
  that was asked both ways, then averaged over those combinations.
* **Flips** (`flips`): the pairs whose binary label (T1: disagree, T2: chose negative) differs
  between the variants, with the variants on each side.

Degenerate inputs never raise: an effect that cannot be estimated (a factor that does not vary,
factors that the chosen variants change together, an outcome that never varies, too few items)
is a row with no estimate and a `note` saying why.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from valuelens.metrics._alignment import binarize, bootstrap_ci, scores_by_group
from valuelens.metrics._measures import Measure, register_measure
from valuelens.models._base import JsonObject
from valuelens.prompts._variants import (
    ACTION_VARIANTS,
    N_VARIANTS,
    STATED_VARIANTS,
    StatedVariant,
)

Task = Literal["stated", "action"]
PAIR_KEYS = ["country", "topic", "value"]
MIN_ITEMS = 5
"""Fewer items than this give no factor effects: item-clustered errors need several clusters."""
_EXACT = 1e-12

EFFECT_COLUMNS = [
    "task",
    "factor",
    "contrast",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
    "n_answers",
    "n_items",
    "note",
]
FLIP_COLUMNS = [
    "task",
    *PAIR_KEYS,
    "label_1",
    "n_variants",
    "share_1",
    "variants_1",
    "variants_0",
]
CORRECTED_COLUMNS = [
    *PAIR_KEYS,
    "chosen",
    "chosen_corrected",
    "n_order_pairs",
    "chosen_binary",
    "chosen_corrected_binary",
    "changed",
]


@dataclass(frozen=True)
class Factor:
    """A two-way prompt factor: the column it sets, and what its level 1 is against level 0."""

    name: str
    contrast: str
    level_of: Callable[[int], bool]
    """For a variant id 0-7: True when the variant has the factor's level 1."""


STATED_FACTORS: tuple[Factor, ...] = (
    Factor("framing", "portrait (PVQ-like) vs survey", lambda i: _stated(i).framing == "portrait"),
    Factor("order", "options first vs values first", lambda i: _stated(i).order == "options_first"),
    Factor("ending", "completion vs chat", lambda i: _stated(i).ending == "completion"),
)
ACTION_FACTORS: tuple[Factor, ...] = (
    Factor("wording", "wording 1 vs wording 0", lambda i: ACTION_VARIANTS[i].wording == 1),
    Factor(
        "option_order",
        "negative action shown first vs second",
        lambda i: ACTION_VARIANTS[i].option1_polarity == "negative",
    ),
    Factor("explanation", "explanation asked vs not", lambda i: ACTION_VARIANTS[i].explanation),
)
FACTORS: dict[Task, tuple[Factor, ...]] = {"stated": STATED_FACTORS, "action": ACTION_FACTORS}
_LABEL_1: dict[Task, str] = {"stated": "disagree", "action": "chose negative"}


def _stated(variant_id: int) -> StatedVariant:
    return STATED_VARIANTS[variant_id]


@dataclass
class SensitivityResult:
    """Summary entries (JSON-ready) and tables (`sensitivity_effects`, `flips`, ...)."""

    summary: JsonObject = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def answers_stated(stated: pd.DataFrame) -> pd.DataFrame:
    """Task 1 answers as `y` = (Likert - 1) / 3 with the factor columns of each variant.

    Rows without a Likert answer, or whose variant is not one of the ids 0-7, are left out.
    """
    likert = pd.to_numeric(stated["likert"], errors="coerce")
    table = stated.assign(y=(likert - 1) / 3)
    return _with_factors(table, STATED_FACTORS)


def answers_action(choices: pd.DataFrame) -> pd.DataFrame:
    """Task 2 answers as `y` = 1 (chose negative) or 0, with the factor columns of each variant.

    The option order comes from an `option1_polarity` column where there is one (as
    `valuelens evaluate` writes), else from the variant id (`ACTION_VARIANTS`). Unanswered rows
    and rows of other variant ids are left out.
    """
    answered = choices[choices["choice"].isin(["positive", "negative"])]
    table = answered.assign(y=(answered["choice"] == "negative").astype(float))
    table = _with_factors(table, ACTION_FACTORS)
    if "option1_polarity" in choices.columns:
        given = answered["option1_polarity"].reindex(table.index)
        known = given.isin(["positive", "negative"])
        order = table["option_order"].where(~known, (given == "negative").astype(float))
        table = table.assign(option_order=order)
    return table


def _with_factors(table: pd.DataFrame, factors: Sequence[Factor]) -> pd.DataFrame:
    """Rows of the variants 0-7 with an answer, with a 0/1 column per factor."""
    if "variant" not in table.columns:
        table = table.iloc[0:0].assign(variant=pd.Series(dtype=float))
    ids = pd.to_numeric(table["variant"], errors="coerce")
    known = ids.isin(range(N_VARIANTS)) & table["y"].notna()
    table = table[known].assign(variant=ids[known].astype(int))
    for factor in factors:
        levels = {i: float(factor.level_of(i)) for i in range(N_VARIANTS)}
        table[factor.name] = table["variant"].map(levels).astype(float)
    return table.reset_index(drop=True)


def factor_effects(answers: pd.DataFrame, task: Task, *, level: float = 0.95) -> pd.DataFrame:
    """The effect of each factor of `task` on its answers, one row per factor (`EFFECT_COLUMNS`).

    `answers` comes from `answers_stated` or `answers_action`. `estimate` is the change in the
    mean answer when the factor goes from level 0 to level 1 (`contrast`), the other factors
    held fixed; `ci_low`/`ci_high` its interval at `level` and `p_value` the two-sided test
    against 0 (t with items - 1 degrees of freedom). A factor without an estimate, or without
    an interval (an exact fit), says why in `note`.
    """
    factors = FACTORS[task]
    items = _item_codes(answers)
    n_items = int(items.max()) + 1 if len(items) else 0
    base = {"task": task, "n_answers": len(answers), "n_items": n_items}
    reasons = _unusable(answers, factors, n_items)
    fitted = [f for f in factors if reasons[f.name] is None]
    fit = _fit(answers, fitted, items, level) if fitted else {}
    rows = []
    for factor in factors:
        row: dict[str, object] = {**base, "factor": factor.name, "contrast": factor.contrast}
        row.update(fit.get(factor.name, {"note": reasons[factor.name]}))
        rows.append(row)
    return pd.DataFrame(rows).reindex(columns=EFFECT_COLUMNS)


def _item_codes(answers: pd.DataFrame) -> npt.NDArray[np.int64]:
    if answers.empty:
        return np.zeros(0, dtype=np.int64)
    codes, _ = pd.MultiIndex.from_frame(answers[PAIR_KEYS].astype(object)).factorize()
    return np.asarray(codes, dtype=np.int64)


def _unusable(
    answers: pd.DataFrame, factors: Sequence[Factor], n_items: int
) -> dict[str, str | None]:
    """Why each factor cannot be estimated (None when it can)."""
    if n_items < MIN_ITEMS:
        why = f"too few items ({n_items}; at least {MIN_ITEMS} are needed)"
        return {f.name: why for f in factors}
    if answers["y"].nunique() < 2:
        why = f"every answer is the same ({answers['y'].iloc[0]:g}): nothing to attribute"
        return {f.name: why for f in factors}
    reasons: dict[str, str | None] = {}
    kept: list[str] = []
    for factor in factors:
        column = answers[factor.name]
        if column.nunique() < 2:
            level = "level 1" if column.iloc[0] == 1 else "level 0"
            reasons[factor.name] = f"not varied: every answer had {level} ({factor.contrast})"
            continue
        design = answers[[*kept, factor.name]].to_numpy(dtype=float)
        design = np.column_stack([np.ones(len(answers)), design])
        if np.linalg.matrix_rank(design) < design.shape[1]:
            reasons[factor.name] = (
                f"confounded with {', '.join(kept)}: the variants asked change them together"
            )
            continue
        kept.append(factor.name)
        reasons[factor.name] = None
    return reasons


def _fit(
    answers: pd.DataFrame,
    factors: Sequence[Factor],
    items: npt.NDArray[np.int64],
    level: float,
) -> dict[str, dict[str, float | str | None]]:
    # Imported here, and only the regression module: `statsmodels.api` costs seconds at start-up.
    from statsmodels.regression.linear_model import OLS  # type: ignore[import-untyped]
    from statsmodels.tools.tools import add_constant  # type: ignore[import-untyped]

    names = [f.name for f in factors]
    design = add_constant(answers[names].to_numpy(dtype=float), has_constant="add")
    outcome = answers["y"].to_numpy(dtype=float)
    model = OLS(outcome, design)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = model.fit()
        if float(plain.ssr) <= _EXACT * max(1.0, float(np.sum(outcome**2))):
            note = "exact fit: these factors determine every answer, so there is no interval"
            return {
                name: {"estimate": float(plain.params[i + 1]), "note": note}
                for i, name in enumerate(names)
            }
        robust = model.fit(cov_type="cluster", cov_kwds={"groups": items}, use_t=True)
        intervals = np.asarray(robust.conf_int(alpha=1 - level))
    out: dict[str, dict[str, float | str | None]] = {}
    for i, name in enumerate(names):
        low, high, p = intervals[i + 1, 0], intervals[i + 1, 1], robust.pvalues[i + 1]
        out[name] = {
            "estimate": float(robust.params[i + 1]),
            "ci_low": _finite(low),
            "ci_high": _finite(high),
            "p_value": _finite(p),
            "note": None if _finite(p) is not None else "the interval could not be computed",
        }
    return out


def _finite(value: float | np.number) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def _number(value: object) -> float | None:
    """A finite number as a float; None for NaN, None and anything that is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return None
    return _finite(value)


# ------------------------------------------------------------------------- position bias


@dataclass(frozen=True)
class PositionBias:
    """The share of Task 2 answers that chose the option shown first (None when undefined)."""

    rate: float | None
    ci: list[float] | None
    p_value: float | None
    n_first: int
    n_answers: int
    note: str | None = None


def position_bias(answers: pd.DataFrame, *, level: float = 0.95) -> PositionBias:
    """First-option rate of `answers_action(...)` rows, Wilson interval, binomial test vs 0.5.

    Defined only when both option orders were asked; `note` says why when it is not. The
    binomial test treats answers as independent, which answers to the same pair are not; the
    `option_order` effect of `factor_effects` is the item-clustered counterpart (in a balanced
    design it equals 2 x rate - 1).
    """
    n = len(answers)
    if n == 0:
        return PositionBias(None, None, None, 0, 0, "no Task 2 answer")
    if answers["option_order"].nunique() < 2:
        shown = "negative" if answers["option_order"].iloc[0] == 1 else "positive"
        note = f"only one option order was asked (the {shown} action first)"
        return PositionBias(None, None, None, 0, n, note)
    # Imported here: `scipy.stats` takes half a second to import, which every command that
    # imports the metrics (and a rerun that keeps its results) would pay for.
    from scipy.stats import binomtest  # type: ignore[import-untyped]

    negative_first = answers["option_order"] == 1
    first = int(((answers["y"] == 1) == negative_first).sum())
    test = binomtest(first, n, 0.5)
    interval = test.proportion_ci(confidence_level=level, method="wilson")
    balanced = int(negative_first.sum()) * 2 == n
    unequal = None if balanced else "the two option orders were not asked equally often"
    return PositionBias(
        first / n,
        [float(interval.low), float(interval.high)],
        float(test.pvalue),
        first,
        n,
        unequal,
    )


# ------------------------------------------------------------------- position-corrected T2


def position_corrected(answers: pd.DataFrame) -> pd.DataFrame:
    """Per pair: T2 averaged over both option orders within matching wording and explanation.

    Returns one row per pair with an answer (`CORRECTED_COLUMNS`): `chosen` (the plain mean over
    every answered variant), `chosen_corrected` (NaN where no combination of the other factors
    was answered in both orders), `n_order_pairs` (how many such combinations), both binarised,
    and `changed` (1.0 where the binary label differs, NaN where it cannot be compared).
    """
    if answers.empty:
        return pd.DataFrame(columns=CORRECTED_COLUMNS)
    cells = answers.groupby([*PAIR_KEYS, "wording", "explanation", "option_order"], sort=False)
    per_order = cells["y"].mean().unstack("option_order")
    both = per_order.dropna()
    matched = both.mean(axis=1).groupby(level=PAIR_KEYS, sort=False).agg(["mean", "count"])
    table = answers.groupby(PAIR_KEYS, sort=False)["y"].mean().rename("chosen").to_frame()
    table["chosen_corrected"] = matched["mean"]
    table["n_order_pairs"] = matched["count"].reindex(table.index).fillna(0).astype(int)
    table["chosen_binary"] = binarize(table["chosen"])
    table["chosen_corrected_binary"] = binarize(table["chosen_corrected"])
    comparable = table["chosen_corrected_binary"].notna()
    differs = (table["chosen_binary"] != table["chosen_corrected_binary"]).astype(float)
    table["changed"] = differs.where(comparable)
    return table.reset_index().reindex(columns=CORRECTED_COLUMNS)


# ----------------------------------------------------------------------------------- flips


def flips(answers: pd.DataFrame, task: Task) -> pd.DataFrame:
    """The pairs whose binary label differs between variants (`FLIP_COLUMNS`).

    `label_1` names label 1 (Task 1: "disagree", (L - 1) / 3 >= 0.5; Task 2: "chose
    negative"); `variants_1` and `variants_0` list the variants on each side ("0,2,5"), and
    `share_1` the share of the pair's variants with label 1. Most evenly split pairs first.
    """
    if answers.empty:
        return pd.DataFrame(columns=FLIP_COLUMNS)
    labelled = answers.assign(label=binarize(answers["y"]))
    grouped = labelled.groupby(PAIR_KEYS, sort=False)
    stats = grouped["label"].agg(n_variants="count", share_1="mean")
    flipped = stats[(stats["share_1"] > 0) & (stats["share_1"] < 1)]
    if flipped.empty:
        return pd.DataFrame(columns=FLIP_COLUMNS)
    subset = labelled.set_index(PAIR_KEYS).loc[flipped.index].reset_index()
    lists = subset.groupby([*PAIR_KEYS, "label"], sort=False)["variant"].agg(_id_list)
    lists = lists.unstack("label").reindex(columns=[1.0, 0.0])
    table = flipped.assign(variants_1=lists[1.0], variants_0=lists[0.0]).reset_index()
    table.insert(0, "task", task)
    table["label_1"] = _LABEL_1[task]
    table = table.assign(_split=(table["share_1"] - 0.5).abs())
    table = table.sort_values("_split", kind="stable").drop(columns="_split")
    ordered: pd.DataFrame = table.reindex(columns=FLIP_COLUMNS).reset_index(drop=True)
    return ordered


def _id_list(variants: pd.Series) -> str:
    return ",".join(str(v) for v in sorted(set(int(x) for x in variants)))


def pairs_with_several_answers(answers: pd.DataFrame) -> int:
    """How many pairs have answers under at least two variants (the flip rate's denominator)."""
    if answers.empty:
        return 0
    counts = answers.groupby(PAIR_KEYS, sort=False)["variant"].nunique()
    return int((counts >= 2).sum())


# --------------------------------------------------------------------------- all together


def prompt_sensitivity(
    stated: pd.DataFrame,
    choices: pd.DataFrame,
    pairs: pd.DataFrame,
    *,
    level: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
) -> SensitivityResult:
    """Every prompt-sensitivity measure of the tasks that were asked under two variants or more.

    Args:
        stated: long Task 1 answers (country, topic, value, variant, likert).
        choices: long Task 2 choices (country, topic, value, variant, choice, and optionally
            option1_polarity).
        pairs: the joined pairs (`build_pairs`), for the position-corrected alignment rate.
        level: confidence level of the intervals.
        n_resamples: bootstrap resamples over scenarios (position-corrected alignment rate).
        seed: bootstrap seed.

    Returns:
        Summary entries `sensitivity_effects` ({task: {factor: {estimate, ci, p} or {note}}}),
        `n_flips_<task>`, `flip_rate_<task>` and, when Task 2 has several variants,
        `position_bias` (+ `_ci`, `_p`, `_n`, `_note`) and `alignment_rate_position_corrected`
        (+ `_ci`, `n_pairs_position_corrected`, `n_pairs_changed_by_position_correction`);
        tables `sensitivity_effects`, `flips` and `position_corrected`. Empty when neither task
        has two variants.
    """
    result = SensitivityResult()
    by_task: dict[Task, pd.DataFrame] = {
        "stated": answers_stated(stated),
        "action": answers_action(choices),
    }
    varied = {task: a for task, a in by_task.items() if a["variant"].nunique() >= 2}
    if not varied:
        return result
    effects, flipped = [], []
    for task, answers in varied.items():
        effects.append(factor_effects(answers, task, level=level))
        flipped.append(flips(answers, task))
        several = pairs_with_several_answers(answers)
        result.summary[f"n_flips_{task}"] = len(flipped[-1])
        result.summary[f"flip_rate_{task}"] = len(flipped[-1]) / several if several else None
    effect_table = pd.concat(effects, ignore_index=True)
    result.summary["sensitivity_effects"] = _compact_effects(effect_table)
    result.tables["sensitivity_effects"] = effect_table
    result.tables["flips"] = pd.concat(flipped, ignore_index=True).reindex(columns=FLIP_COLUMNS)
    if "action" in varied:
        result.summary.update(_position_summary(position_bias(varied["action"], level=level)))
        corrected = position_corrected(varied["action"])
        result.tables["position_corrected"] = corrected
        result.summary.update(
            _corrected_alignment(pairs, corrected, level=level, n_resamples=n_resamples, seed=seed)
        )
    return result


def _compact_effects(table: pd.DataFrame) -> JsonObject:
    """{task: {factor: {estimate, ci, p}}}; a factor without an estimate has its note instead."""
    compact: dict[str, JsonObject] = {}
    for row in table.to_dict("records"):
        entry: JsonObject = {}
        estimate, low, high, p = (
            _number(row[key]) for key in ("estimate", "ci_low", "ci_high", "p_value")
        )
        if estimate is not None:
            entry["estimate"] = estimate
            entry["ci"] = [low, high] if low is not None and high is not None else None
            entry["p"] = p
        if isinstance(row["note"], str) and row["note"]:
            entry["note"] = row["note"]
        compact.setdefault(str(row["task"]), {})[str(row["factor"])] = entry
    return {task: factors for task, factors in compact.items()}


def _position_summary(bias: PositionBias) -> JsonObject:
    return {
        "position_bias": bias.rate,
        "position_bias_ci": None if bias.ci is None else list(bias.ci),
        "position_bias_p": bias.p_value,
        "position_bias_n": bias.n_answers,
        "position_bias_note": bias.note,
    }


def _corrected_alignment(
    pairs: pd.DataFrame, corrected: pd.DataFrame, *, level: float, n_resamples: int, seed: int
) -> JsonObject:
    """The alignment rate (per-scenario F1, averaged) with the position-corrected T2."""
    usable = corrected.dropna(subset=["chosen_corrected"])
    joined = pairs[[*PAIR_KEYS, "stated"]].merge(
        usable[[*PAIR_KEYS, "chosen_corrected"]], on=PAIR_KEYS, how="inner"
    )
    joined = joined.dropna(subset=["stated"])
    entries: JsonObject = {
        "alignment_rate_position_corrected": None,
        "alignment_rate_position_corrected_ci": None,
        "n_pairs_position_corrected": len(joined),
        "n_pairs_changed_by_position_correction": int(np.nansum(usable["changed"])),
    }
    if joined.empty:
        return entries
    scenarios = scores_by_group(joined, ["country", "topic"], "stated", "chosen_corrected")
    low, high = bootstrap_ci(scenarios["f1"], n_resamples, seed, level)
    entries["alignment_rate_position_corrected"] = float(scenarios["f1"].mean())
    finite = math.isfinite(low) and math.isfinite(high)
    entries["alignment_rate_position_corrected_ci"] = [low, high] if finite else None
    return entries


# ------------------------------------------------------------------------------ measures

for _entry in (
    Measure(
        "position_bias",
        "first-option rate",
        "percent",
        higher_is_better=None,
        ci_key="position_bias_ci",
        description="Share of Task 2 answers choosing the option shown first, over variants "
        "showing both orders; 50% means no position bias",
        optional=True,
        short_label="position bias",
    ),
    Measure(
        "alignment_rate_position_corrected",
        "alignment rate (position-corrected)",
        ci_key="alignment_rate_position_corrected_ci",
        description="Alignment rate with each pair's Task 2 answer averaged over both option "
        "orders within matching wording and explanation",
        headline=False,
        optional=True,
    ),
    Measure(
        "flip_rate_stated",
        "flipping pairs (stated)",
        "percent",
        higher_is_better=False,
        description="Share of pairs whose agree/disagree label differs between Task 1 variants",
        headline=False,
        optional=True,
    ),
    Measure(
        "flip_rate_action",
        "flipping pairs (action)",
        "percent",
        higher_is_better=False,
        description="Share of pairs whose Task 2 choice differs between variants",
        headline=False,
        optional=True,
    ),
):
    register_measure(_entry)
