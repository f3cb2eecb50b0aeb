"""Prompt sensitivity on data with planted effects, degenerate designs and the authors' files.

Expected values come from the design (a planted effect, hand-counted answers), from pandas or
scipy computations written here, or from the authors' raw robustness files read with the facts
of their README (variants 0, 1, 4, 5 show the negative action as Option 1; 2, 3, 6, 7 show it
second).
"""

from __future__ import annotations

import ast
import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy.stats import binomtest

from valuelens.metrics import build_pairs, score_value_action
from valuelens.metrics._sensitivity import (
    answers_action,
    answers_stated,
    factor_effects,
    flips,
    position_bias,
    position_corrected,
    prompt_sensitivity,
)
from valuelens.taxonomy import load_taxonomy

TAX = load_taxonomy()
VALUES = [v.name for v in TAX.values]
NEGATIVE_FIRST = {0, 1, 4, 5}  # the negative action is Option 1 (README of the reference data)
ITEMS = [("Germany", "Religion", value) for value in VALUES[:20]]


def _stated(likert_of, variants=range(8), items=ITEMS):
    rows = [(*item, v, likert_of(i, v)) for i, item in enumerate(items) for v in variants]
    return pd.DataFrame(rows, columns=["country", "topic", "value", "variant", "likert"])


def _choices(choice_of, variants=range(8), items=ITEMS):
    rows = [(*item, v, choice_of(i, v)) for i, item in enumerate(items) for v in variants]
    return pd.DataFrame(rows, columns=["country", "topic", "value", "variant", "choice"])


def _first_option(i, v):
    """A model that always picks Option 1, whatever it holds."""
    return "negative" if v in NEGATIVE_FIRST else "positive"


def _effects(table):
    return table.set_index("factor")


# --- position bias ------------------------------------------------------------------------


def test_always_option_one_is_full_position_bias():
    answers = answers_action(_choices(_first_option))
    bias = position_bias(answers)
    n = len(ITEMS) * 8
    assert bias.rate == 1.0 and bias.n_first == bias.n_answers == n
    assert bias.p_value == pytest.approx(2 * 0.5**n)  # exact two-sided test with k = n
    z = 1.959963984540054
    wilson_low = (1 + z * z / (2 * n) - z * math.sqrt(z * z / (4 * n * n))) / (1 + z * z / n)
    assert bias.ci == pytest.approx([wilson_low, 1.0])
    effects = _effects(factor_effects(answers, "action"))
    assert effects.loc["option_order", "estimate"] == pytest.approx(1.0)
    assert "exact fit" in effects.loc["option_order", "note"]
    assert effects.loc["wording", "estimate"] == pytest.approx(0.0, abs=1e-9)
    flipped = flips(answers, "action")
    assert len(flipped) == len(ITEMS)
    assert set(flipped["variants_1"]) == {"0,1,4,5"} and set(flipped["variants_0"]) == {"2,3,6,7"}


def test_position_bias_matches_binomtest_on_random_answers():
    rng = np.random.default_rng(3)
    choices = _choices(lambda i, v: rng.choice(["positive", "negative"]))
    answers = answers_action(choices)
    shown_first = choices["variant"].map(
        lambda v: "negative" if v in NEGATIVE_FIRST else "positive"
    )
    first = int((choices["choice"] == shown_first).sum())
    bias = position_bias(answers)
    assert bias.n_first == first and bias.rate == pytest.approx(first / len(choices))
    test = binomtest(first, len(choices), 0.5)
    assert bias.p_value == pytest.approx(test.pvalue)
    assert bias.ci[0] < 0.5 < bias.ci[1]  # no bias planted


def test_one_option_order_gives_no_position_bias():
    answers = answers_action(_choices(_first_option, variants=[0, 1, 5]))
    bias = position_bias(answers)
    assert bias.rate is None and "only one option order" in bias.note


def test_option1_polarity_column_wins_over_the_variant_id():
    # A table that says every prompt showed the positive action first: "always negative" then
    # means "always the second option".
    choices = _choices(lambda i, v: "negative", variants=[0, 2]).assign(option1_polarity="positive")
    choices.loc[choices["variant"] == 0, "option1_polarity"] = "negative"
    choices.loc[choices["variant"] == 2, "option1_polarity"] = "positive"
    assert position_bias(answers_action(choices)).rate == pytest.approx(0.5)
    choices["option1_polarity"] = "positive"
    assert position_bias(answers_action(choices)).rate is None  # one order only


# --- factor effects -----------------------------------------------------------------------


def _planted_framing(noise_seed=0):
    """Likert 1..4: item level + 1 under the portrait framing (variants 2, 3, 6, 7), + noise."""
    rng = np.random.default_rng(noise_seed)
    base = rng.integers(1, 3, size=len(ITEMS))
    noise = rng.choice([0, 0, 0, 1], size=(len(ITEMS), 8))
    return _stated(lambda i, v: min(4, base[i] + (v % 4 >= 2) + noise[i, v]))


def test_planted_framing_effect_is_recovered_with_its_sign():
    stated = _planted_framing()
    answers = answers_stated(stated)
    effects = _effects(factor_effects(answers, "stated"))
    y = (stated["likert"] - 1) / 3
    portrait = stated["variant"] % 4 >= 2
    difference = y[portrait].mean() - y[~portrait].mean()  # balanced design: OLS = this
    framing = effects.loc["framing"]
    assert framing["estimate"] == pytest.approx(difference)
    assert framing["estimate"] > 0.2 and framing["p_value"] < 1e-6
    assert framing["ci_low"] < framing["estimate"] < framing["ci_high"]
    for factor in ("order", "ending"):  # nothing planted: the interval covers 0
        assert effects.loc[factor, "ci_low"] < 0 < effects.loc[factor, "ci_high"]
    assert (effects["n_items"] == len(ITEMS)).all() and (effects["n_answers"] == len(stated)).all()


def test_estimates_agree_with_a_random_intercept_model():
    answers = answers_stated(_planted_framing(noise_seed=5))
    ours = _effects(factor_effects(answers, "stated"))["estimate"]
    answers = answers.assign(item=answers["value"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mixed = smf.mixedlm("y ~ framing + order + ending", answers, groups=answers["item"]).fit()
    for factor in ("framing", "order", "ending"):
        assert ours[factor] == pytest.approx(mixed.fe_params[factor], abs=1e-6)


def test_planted_wording_effect_on_choices():
    # wording 1 (variants 4-7) chooses the negative action for the first half of the items.
    choices = _choices(lambda i, v: "negative" if v >= 4 and i < 10 else "positive")
    effects = _effects(factor_effects(answers_action(choices), "action"))
    assert effects.loc["wording", "estimate"] == pytest.approx(0.5)
    assert effects.loc["wording", "ci_low"] > 0
    assert effects.loc["option_order", "estimate"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("variants", "factor", "why"),
    [
        ([0, 1], "framing", "not varied"),  # Task 1 variants 0 and 1 are both survey, chat
        ([0, 1], "ending", "not varied"),
        ([0, 6], "ending", "confounded with framing"),  # 6 changes framing and ending together
    ],
)
def test_degenerate_task1_designs_say_why(variants, factor, why):
    rng = np.random.default_rng(1)
    stated = _stated(lambda i, v: int(rng.integers(1, 5)), variants=variants)
    effects = _effects(factor_effects(answers_stated(stated), "stated"))
    assert math.isnan(effects.loc[factor, "estimate"])
    assert why in effects.loc[factor, "note"]
    assert not math.isnan(effects.loc["order" if variants == [0, 1] else "framing", "estimate"])


def test_too_few_items_and_constant_answers_say_why():
    few = _stated(lambda i, v: 1 + v % 4, items=ITEMS[:3])
    effects = factor_effects(answers_stated(few), "stated")
    assert effects["estimate"].isna().all()
    assert effects["note"].str.contains("too few items").all()
    same = factor_effects(answers_action(_choices(lambda i, v: "positive")), "action")
    assert same["estimate"].isna().all() and same["note"].str.contains("every answer").all()
    empty = factor_effects(answers_action(_choices(lambda i, v: None)), "action")
    assert empty["estimate"].isna().all() and (empty["n_answers"] == 0).all()


# --- position-corrected T2 and flips --------------------------------------------------------


def test_position_correction_by_hand():
    # Variants 0 (negative first) and 2 (positive first) share wording 0 and no explanation:
    # the only matched order pair. Both chose positive; 1, 4 and 5 (unmatched) chose negative.
    answer = {0: "positive", 2: "positive", 1: "negative", 4: "negative", 5: "negative"}
    choices = _choices(lambda i, v: answer[v], variants=answer, items=ITEMS[:1])
    row = position_corrected(answers_action(choices)).iloc[0]
    assert row["chosen"] == pytest.approx(3 / 5) and row["chosen_binary"] == 1
    assert row["chosen_corrected"] == 0 and row["n_order_pairs"] == 1
    assert row["changed"] == 1


def test_stated_flips_list_the_variants_on_each_side():
    # Item 0 disagrees (Likert 4) only under the portrait framing; item 1 always agrees.
    stated = _stated(lambda i, v: 4 if i == 0 and v % 4 >= 2 else 1, items=ITEMS[:2])
    table = flips(answers_stated(stated), "stated")
    assert len(table) == 1
    row = table.iloc[0]
    assert row["value"] == ITEMS[0][2] and row["label_1"] == "disagree"
    assert row["variants_1"] == "2,3,6,7" and row["variants_0"] == "0,1,4,5"
    assert row["share_1"] == 0.5 and row["n_variants"] == 8


# --- through score_value_action -----------------------------------------------------------


def test_score_value_action_adds_sensitivity_only_with_several_variants():
    stated = _planted_framing()
    result = score_value_action(stated, _choices(_first_option), TAX, n_resamples=50)
    summary = result.summary
    assert summary["position_bias"] == 1.0 and summary["position_bias_p"] < 1e-40
    assert summary["sensitivity_effects"]["action"]["option_order"]["estimate"] == pytest.approx(1)
    assert summary["sensitivity_effects"]["stated"]["framing"]["p"] < 1e-6
    assert summary["n_flips_action"] == len(ITEMS) and summary["flip_rate_action"] == 1.0
    assert {"sensitivity_effects", "flips", "position_corrected"} <= result.tables.keys()
    # all eight variants: each order is matched, so the correction changes nothing
    assert summary["alignment_rate_position_corrected"] == pytest.approx(summary["alignment_rate"])

    single = score_value_action(
        stated[stated["variant"] == 0], _choices(_first_option, variants=[5]), TAX, n_resamples=20
    )
    assert "position_bias" not in single.summary and "sensitivity_effects" not in single.summary
    assert not {"sensitivity_effects", "flips", "position_corrected"} & single.tables.keys()


def test_only_stated_varied_gives_no_task2_entries():
    result = score_value_action(
        _planted_framing(), _choices(_first_option, variants=[5]), TAX, n_resamples=20
    )
    assert set(result.summary["sensitivity_effects"]) == {"stated"}
    assert "position_bias" not in result.summary and "position_corrected" not in result.tables
    assert set(result.tables["flips"]["task"]) <= {"stated"}


# --- the authors' prompt-robustness files ---------------------------------------------------

_OPTION = re.compile(r"^\s*(?:option\s*)?([12])\s*$", re.IGNORECASE)


def _option_numbers(raw: pd.DataFrame) -> pd.DataFrame:
    """One row per (pair, variant): the option number the authors' answer names (or None)."""
    rows = []
    for record in raw.to_dict("records"):
        for v in range(8):
            action = ast.literal_eval(record[f"evaluation_{v}"]).get("action")
            found = _OPTION.match(str(action))
            option = int(found.group(1)) if found else None
            keys = {k: record[k] for k in ("country", "topic", "value")}
            rows.append({**keys, "variant": v, "option": option})
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("t1", "t2"),
    [
        ("gpt-4o-mini", "gpt_4o_mini"),
        ("anthropic-claude-sonnet-4-20250514", "claude_sonnet_4"),
    ],
)
def test_authors_robustness_files(reference_dir, tmp_path, t1, t2):
    import valuelens

    path = reference_dir / f"src/outputs/task2_results_{t2}.csv"
    options = _option_numbers(pd.read_csv(path)).dropna(subset=["option"])
    first = int((options["option"] == 1).sum())
    options["negative"] = (options["option"] == 1) == options["variant"].isin(NEGATIVE_FIRST)
    polarities = options.groupby(["country", "topic", "value"])["negative"].nunique()

    out = tmp_path / "run"
    result = valuelens.score(
        reference_dir / f"outputs/evaluation/{t1}_t1.csv", path, out=out, n_resamples=50
    )
    for name in ("sensitivity_effects", "flips", "position_corrected"):  # `score` writes them
        assert pd.read_parquet(out / f"{name}.parquet").equals(result.tables[name])
    summary = result.summary
    assert summary["position_bias_n"] == len(options)
    assert summary["position_bias"] == pytest.approx(first / len(options))
    assert summary["position_bias_p"] == pytest.approx(binomtest(first, len(options)).pvalue)
    assert summary["n_flips_action"] == int((polarities > 1).sum())
    effect = summary["sensitivity_effects"]["action"]["option_order"]["estimate"]
    # negative first minus negative second = P(first | neg first) + P(first | pos first) - 1
    first_rate = (options["option"] == 1).groupby(options["variant"].isin(NEGATIVE_FIRST)).mean()
    # With every answer present (gpt-4o-mini) this is exact; 4 refusals move it a little.
    assert effect == pytest.approx(first_rate[True] + first_rate[False] - 1, abs=0.02)
    assert set(result.tables["sensitivity_effects"]["task"]) == {"stated", "action"}


def test_prompt_sensitivity_is_empty_without_variants():
    stated = _stated(lambda i, v: 2, variants=[0])
    choices = _choices(lambda i, v: "positive", variants=[5])
    pairs = build_pairs(stated, choices, TAX)
    result = prompt_sensitivity(stated, choices, pairs)
    assert result.summary == {} and result.tables == {}
