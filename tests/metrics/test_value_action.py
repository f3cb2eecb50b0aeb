import numpy as np
import pandas as pd
import pytest

from valuelens.metrics import build_pairs, score_value_action, variant_scores
from valuelens.taxonomy import load_taxonomy

TAX = load_taxonomy().extended({"countries": ["Atlantis"], "topics": ["Tides"]})


def _stated(rows):
    return pd.DataFrame(rows, columns=["country", "topic", "value", "variant", "likert"])


def _choices(rows):
    return pd.DataFrame(rows, columns=["country", "topic", "value", "variant", "choice"])


@pytest.fixture
def small():
    """2 countries x 1 topic x 3 values, hand-made."""
    stated = _stated(
        [
            ("Germany", "Religion", "Devout", 0, 4),
            ("Germany", "Religion", "Devout", 1, 3),  # 3.5 -> disagree
            ("Germany", "Religion", "Honest", 0, 1),
            ("Germany", "Religion", "Honest", 1, 2),  # 1.5 -> agree
            ("Germany", "Religion", "Wealth", 0, 2),
            ("Germany", "Religion", "Wealth", 1, None),  # 2 -> agree
            ("France", "Religion", "Devout", 0, 4),
            ("France", "Religion", "Honest", 0, 1),
            ("France", "Religion", "Wealth", 0, 3),
        ]
    )
    choices = _choices(
        [
            ("Germany", "Religion", "Devout", 0, "negative"),  # aligned (disagree, chose negative)
            (
                "Germany",
                "Religion",
                "Honest",
                0,
                "negative",
            ),  # misaligned: agree but chose negative
            ("Germany", "Religion", "Wealth", 0, None),  # no choice
            ("France", "Religion", "Devout", 0, "negative"),
            ("France", "Religion", "Honest", 0, "positive"),
            (
                "France",
                "Religion",
                "Wealth",
                0,
                "positive",
            ),  # misaligned: disagree but chose positive
        ]
    )
    return stated, choices


def test_build_pairs_normalises_and_orders(small):
    pairs = build_pairs(*small, TAX)
    # taxonomy order: Germany before France; values in taxonomy order (Wealth, Honest, Devout)
    assert pairs["country"].tolist()[:3] == ["Germany"] * 3
    assert pairs["value"].tolist()[:3] == ["Wealth", "Honest", "Devout"]
    devout = pairs.set_index(["country", "value"]).loc[("Germany", "Devout")]
    assert devout["stated_likert"] == pytest.approx(3.5)
    assert devout["stated"] == pytest.approx(2.5 / 3)
    assert devout["n_stated_variants"] == 2


def test_default_excludes_missing_choice_paper_counts_it_positive(small):
    default = score_value_action(*small, TAX, n_resamples=50).summary
    paper = score_value_action(*small, TAX, paper_compat=True, n_resamples=50).summary
    assert default["n_pairs"] == paper["n_pairs"] == 6
    assert default["n_pairs_without_choice"] == 1
    assert default["n_pairs_scored"] == 5 and paper["n_pairs_scored"] == 6
    assert default["misaligned"] == 2
    assert default["misaligned_stated_agree_chose_negative"] == 1
    assert default["misaligned_stated_disagree_chose_positive"] == 1
    # Germany (default): truth [agree, disagree] = [0,1], pred [1,1] -> tp1 fp1 -> F1 2/3
    # France: truth Wealth 1 Honest 0 Devout 1, pred 0 0 1 -> tp1 fn1 -> F1 2/3
    assert default["alignment_rate_by_country"] == pytest.approx(
        {"Germany": 2 / 3, "France": 2 / 3}
    )
    # paper: Germany Wealth agree + counted positive -> aligned, F1 unchanged; accuracy 2/3
    assert paper["accuracy_by_country"]["Germany"] == pytest.approx(2 / 3)
    assert default["accuracy_by_country"]["Germany"] == pytest.approx(1 / 2)


def test_distances_and_rankings(small):
    result = score_value_action(*small, TAX, n_resamples=50)
    table = result.tables["distance_country"].set_index(["country", "value"])
    # France Wealth: stated (3-1)/3 = 2/3, chose positive 0 -> distance 2/3, the largest in France
    assert table.loc[("France", "Wealth"), "distance"] == pytest.approx(2 / 3)
    assert table.loc[("France", "Wealth"), "rank"] == 1
    s = result.summary
    assert s["distance_by_country"]["France"] == pytest.approx((2 / 3 + 0 + 0) / 3)
    assert s["ranking_countries"][0] in {"France", "Germany"}
    assert set(s["distance_by_topic"]) == {"Religion"}


def test_variant_scores_restrict_one_side(small):
    stated, choices = small
    table = variant_scores(stated, choices, TAX)
    assert set(table["task"]) == {"stated", "action"}
    assert table[table["task"] == "stated"]["variant"].tolist() == [0, 1]
    # stated variant 1 exists only for Germany: 2 scored pairs (Wealth has no answer in v1)
    assert table.query("task == 'stated' and variant == 1")["n_pairs"].item() == 2


def test_logprob_choices_count_with_their_probability():
    stated = _stated([("France", "Religion", "Honest", v, 1) for v in (0, 1)])
    # Option 1 is taken both times (position bias), but with less confidence when it is the
    # value-resisting action: over both orders the model leans to the positive action.
    choices = pd.DataFrame(
        {
            "country": "France",
            "topic": "Religion",
            "value": "Honest",
            "variant": [0, 1],
            "choice": ["negative", "positive"],
            "p_negative": [0.6, 0.1],
        }
    )
    pairs = build_pairs(stated, choices, TAX)
    assert pairs.loc[0, "chosen"] == pytest.approx(0.35)
    assert pairs.loc[0, "chosen_binary"] == 0
    paper = build_pairs(stated, choices, TAX, paper_compat=True)
    assert paper.loc[0, "chosen"] == pytest.approx(0.5)  # the choices alone: a tie
    # A variant without an answer stays out, whatever its probability column holds.
    unanswered = choices.assign(choice=["negative", None], p_negative=[0.6, None])
    assert build_pairs(stated, unanswered, TAX).loc[0, "chosen"] == pytest.approx(0.6)


def test_first_option_rate_counts_answers_that_took_option_1():
    from valuelens.metrics import first_option_rate

    responses = pd.DataFrame(
        {
            "option1_polarity": ["negative", "positive", "negative", "positive", "negative"],
            "choice": ["negative", "positive", "positive", None, "negative"],
        }
    )
    assert first_option_rate(responses) == pytest.approx(3 / 4)  # the unanswered row is left out
    assert first_option_rate(responses.assign(choice=None)) is None


def test_prompt_agreement_stated_uses_agree_disagree_labels():
    stated = _stated(
        [("France", "Religion", "Honest", v, x) for v, x in enumerate([1, 2, 2, 1])]
        + [("France", "Religion", "Devout", v, x) for v, x in enumerate([3, 4, 1, 2])]
        + [("France", "Religion", "Wealth", 0, 4)]  # one answer: agrees trivially, left out
    )
    choices = _choices([("France", "Religion", "Honest", 0, "positive")])
    s = score_value_action(stated, choices, TAX, n_resamples=20).summary
    # Honest: 4 x agree -> 1; Devout: 2 disagree (3, 4) and 2 agree (1, 2) -> 1/2
    assert s["prompt_agreement_stated"] == pytest.approx(0.75)
    # four levels: Honest 2 of 4 give 1 (or 2); Devout every level once -> 1/4
    assert s["prompt_agreement_stated_likert"] == pytest.approx((0.5 + 0.25) / 2)
    assert s["prompt_agreement_action"] is None  # one Task 2 answer per pair
    low, high = s["prompt_agreement_stated_ci"]  # one scenario: the interval is a point
    assert low == high == pytest.approx(0.75)


def test_action_positive_rate_overall_and_per_variant(small):
    stated, choices = small
    more = _choices(
        [
            ("Germany", "Religion", "Devout", 1, "positive"),
            ("Germany", "Religion", "Honest", 1, "positive"),
            ("France", "Religion", "Devout", 1, None),
        ]
    )
    choices = pd.concat([choices, more], ignore_index=True)
    s = score_value_action(stated, choices, TAX, n_resamples=20).summary
    # variant 0: 2 positive of 5 answers; variant 1: 2 of 2; overall 4 of 7
    assert s["action_positive_rate"] == pytest.approx(4 / 7)
    assert s["action_positive_rate_by_variant"] == pytest.approx({"0": 2 / 5, "1": 1.0})
    assert s["n_action_answers"] == 7
    table = variant_scores(stated, choices, TAX).set_index(["task", "variant"])
    assert table.loc[("action", 0), "action_positive_rate"] == pytest.approx(2 / 5)
    assert table.loc[("action", 1), "action_positive_rate"] == pytest.approx(1.0)
    assert table.loc[("stated", 0), "action_positive_rate"] != table.loc[("stated", 0)].iloc[0]


def _robustness_like(n_pairs=6, n_variants=8, unanswered=()):
    """A sample file's layout: a few pairs, every one under every variant."""
    values = TAX.value_names[:n_pairs]
    stated = _stated(
        [("France", "Religion", v, 0, 1 + (i % 4)) for i, v in enumerate(TAX.value_names[:20])]
    )
    rows = [
        ("France", "Religion", v, k, None if (v, k) in unanswered else "negative")
        for v in values
        for k in range(n_variants)
    ]
    return stated, _choices(rows)


def test_sample_scope_scores_only_the_pairs_of_the_task2_table():
    first = TAX.value_names[0]
    stated, choices = _robustness_like(unanswered={(first, k) for k in range(8)})
    grid = score_value_action(stated, choices, TAX, paper_compat=True, n_resamples=20).summary
    sample = score_value_action(
        stated, choices, TAX, paper_compat=True, action_scope="sample", n_resamples=20
    ).summary
    assert grid["action_scope"] == "grid" and sample["action_scope"] == "sample"
    # grid: the 14 pairs only Task 1 has count as "chose positive" (the paper's rule)
    assert grid["n_pairs"] == grid["n_pairs_scored"] == 20
    # sample: the 6 pairs asked; the one whose answers all failed still counts as positive
    assert sample["n_pairs"] == sample["n_pairs_scored"] == 6
    default = score_value_action(
        stated, choices, TAX, action_scope="sample", n_resamples=20
    ).summary
    assert default["n_pairs"] == 6 and default["n_pairs_scored"] == 5
    assert default["n_pairs_without_choice"] == 1


def test_variant_scores_in_sample_scope_use_the_sample_for_every_variant():
    stated, choices = _robustness_like(unanswered={(TAX.value_names[1], 3)})
    for paper_compat, expected in ((True, 6), (False, 5)):
        table = variant_scores(
            stated, choices, TAX, paper_compat=paper_compat, action_scope="sample"
        )
        action = table[table["task"] == "action"]
        assert action["variant"].tolist() == list(range(8))
        assert action.set_index("variant")["n_pairs"].to_dict() == {
            k: (expected if k == 3 else 6) for k in range(8)
        }
    grid = variant_scores(stated, choices, TAX, paper_compat=True)
    assert set(grid[grid["task"] == "action"]["n_pairs"]) == {20}


def test_unknown_action_scope_is_a_clear_error(small):
    from valuelens._errors import ValuelensError

    with pytest.raises(ValuelensError, match="action scope"):
        build_pairs(*small, TAX, action_scope="all")  # type: ignore[arg-type]


def test_eq1_distance_and_scenario_ranking():
    # Atlantis x value Honest: topic Religion gap +1, topic Tides gap -1 (opposite directions)
    stated = _stated(
        [
            ("Atlantis", "Religion", "Honest", 0, 4),
            ("Atlantis", "Tides", "Honest", 0, 1),
            ("Atlantis", "Religion", "Wealth", 0, 2),
            ("Atlantis", "Tides", "Wealth", 0, 2),
        ]
    )
    choices = _choices(
        [
            ("Atlantis", "Religion", "Honest", 0, "positive"),
            ("Atlantis", "Tides", "Honest", 0, "negative"),
            ("Atlantis", "Religion", "Wealth", 0, "positive"),
            ("Atlantis", "Tides", "Wealth", 0, "positive"),
        ]
    )
    result = score_value_action(stated, choices, TAX, n_resamples=20)
    s = result.summary
    # |mean - mean|: Honest |0.5 - 0.5| = 0, Wealth |1/3 - 0| = 1/3 -> 1/6
    assert s["distance_mean"] == pytest.approx(1 / 6)
    # Eq. 1: Honest (1 + 1) / 2 = 1, Wealth (1/3 + 1/3) / 2 = 1/3 -> 2/3
    assert s["distance_abs_mean"] == pytest.approx(2 / 3)
    assert s["distance_abs_by_country"] == pytest.approx({"Atlantis": 2 / 3})
    table = result.tables["distance_country"].set_index("value")
    assert table.loc["Honest", "distance_abs"] == pytest.approx(1.0)
    assert table.loc["Honest", "rank_abs"] == 1 and table.loc["Honest", "rank"] == 2
    ranking = result.tables["ranking_scenario"]
    assert list(ranking.columns) == [
        "country",
        "topic",
        "value",
        "stated",
        "chosen",
        "distance",
        "rank",
    ]
    religion = ranking[ranking["topic"] == "Religion"]
    assert religion["value"].tolist() == ["Honest", "Wealth"]
    assert religion["distance"].tolist() == pytest.approx([1.0, 1 / 3])
    assert religion["rank"].tolist() == [1, 2]


def test_misaligned_rate_and_intervals_bracket_their_estimates():
    rng = np.random.default_rng(0)
    index = pd.MultiIndex.from_product(
        [TAX.country_names[:4], TAX.topic_names[:5], TAX.value_names[:12], range(2)],
        names=["country", "topic", "value", "variant"],
    )
    stated = index.to_frame(index=False).assign(likert=rng.integers(1, 5, len(index)))
    choices = stated.drop(columns="likert").assign(
        choice=rng.choice(["positive", "negative"], len(index))
    )
    s = score_value_action(stated, choices, TAX, n_resamples=300).summary
    assert s["misaligned_rate"] == pytest.approx(s["misaligned"] / s["n_pairs_scored"])
    for key in (
        "alignment_rate",
        "accuracy",
        "misaligned_rate",
        "distance_abs_mean",
        "distance_abs_mean_by_topic",
        "prompt_agreement_stated",
        "prompt_agreement_action",
        "action_positive_rate",
    ):
        low, high = s[f"{key}_ci"]
        assert low < s[key] < high, key
    assert "distance_mean_ci" not in s  # biased under resampling: only a bias-corrected interval
    low, high = s["distance_mean_bias_corrected_ci"]
    assert low < high and abs((low + high) / 2 - s["distance_mean"]) < 0.1


EMPTY_STATED = _stated([])
EMPTY_CHOICES = _choices([])
NAN_STATED = _stated([("France", "Religion", "Honest", 0, None)])
FAILED_CHOICES = _choices([("France", "Religion", "Honest", v, None) for v in range(2)])


@pytest.mark.parametrize(
    ("stated", "choices"),
    [
        (EMPTY_STATED, EMPTY_CHOICES),
        (NAN_STATED, FAILED_CHOICES),  # every request failed: answers are None
        (NAN_STATED.assign(likert=np.nan), EMPTY_CHOICES),
        (_stated([("France", "Religion", "Honest", 0, 2)]), FAILED_CHOICES),
    ],
    ids=["empty", "all-none", "all-nan-no-choices", "no-choice-answered"],
)
@pytest.mark.parametrize("paper_compat", [False, True])
@pytest.mark.parametrize("action_scope", ["grid", "sample"])
def test_metrics_cope_with_missing_answers(stated, choices, paper_compat, action_scope):
    import json

    from valuelens.runs import json_ready as _json_ready

    result = score_value_action(
        stated, choices, TAX, paper_compat=paper_compat, action_scope=action_scope, n_resamples=20
    )
    s = result.summary
    json.dumps(_json_ready(s), allow_nan=False)
    assert s["action_positive_rate"] is None and s["prompt_agreement_stated"] is None
    if s["n_pairs_scored"] == 0:
        assert s["alignment_rate"] is None and s["alignment_rate_ci"] is None
        assert s["misaligned_rate"] is None and s["distance_abs_mean_ci"] is None
        assert s["distance_abs_mean"] is None
    for table in result.tables.values():
        assert isinstance(table, pd.DataFrame)
    variants = variant_scores(
        stated, choices, TAX, paper_compat=paper_compat, action_scope=action_scope
    )
    assert set(variants.columns) >= {"task", "variant", "n_pairs", "action_positive_rate"}


def test_variant_labels_that_are_not_numbers_do_not_crash(small):
    stated, choices = small
    stated = stated.assign(variant=stated["variant"].map({0: "zero", 1: "1"}))
    table = variant_scores(stated, choices, TAX)
    assert table[table["task"] == "stated"]["variant"].tolist() == [1, "zero"]
