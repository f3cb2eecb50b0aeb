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
