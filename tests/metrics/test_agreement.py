"""Agreement coefficients against textbook values, reference implementations and degenerate cases.

Textbook values (checked against published worked examples, not against this code):
* Cohen's kappa: 50 grant proposals read by two readers, Yes/Yes 20, Yes/No 5, No/Yes 10,
  No/No 15: p_o = 0.70, p_e = 0.50, kappa = 0.40.
* Fleiss' kappa: the 10 subjects x 14 raters x 5 categories table of the Wikipedia article
  (after Fleiss 1971): kappa = 0.210.
* Krippendorff's alpha: Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability":
  example B (2 observers, 10 units, binary) alpha = 0.095; example C (4 observers, 12 units,
  missing values) nominal alpha = 0.743, and the same data as ordinal alpha = 0.815.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from valuelens._errors import ValuelensError
from valuelens.metrics._agreement import (
    PAIRWISE_COLUMNS,
    category_counts,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    majority_vote,
    pairwise_kappa,
)

N = None
KRIPPENDORFF_C = pd.DataFrame(
    {
        "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
        "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
        "C": [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
        "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N],
    },
    dtype=float,
)
WIKIPEDIA_FLEISS_COUNTS = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]


def _ratings_from_counts(counts: list[list[int]]) -> pd.DataFrame:
    """Items x raters, the raters of each item listing its categories in order."""
    rows = [[cat for cat, n in enumerate(row, start=1) for _ in range(n)] for row in counts]
    return pd.DataFrame(rows, columns=[f"r{i}" for i in range(len(rows[0]))])


# --- Cohen's kappa -----------------------------------------------------------------------------


def test_cohen_textbook_grant_example() -> None:
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.40)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["yes", "no", "unsure"]), st.sampled_from(["yes", "no"])),
        min_size=2,
        max_size=30,
    )
)
def test_cohen_matches_sklearn(pairs: list[tuple[str, str]]) -> None:
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    if len(set(a) | set(b)) == 1:
        assert cohen_kappa(a, b) == 1.0
        return
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))


def test_cohen_weighted_matches_sklearn() -> None:
    a = [1, 2, 3, 4, 4, 2, 1, 3]
    b = [1, 3, 3, 4, 2, 2, 2, 3]
    for weights in ("linear", "quadratic"):
        expected = cohen_kappa_score(a, b, weights=weights)
        assert cohen_kappa(a, b, weights=weights) == pytest.approx(expected)


def test_cohen_uses_only_items_both_rated_and_aligns_series_on_index() -> None:
    a = pd.Series(["y", "n", "y", None, "n"], index=[10, 11, 12, 13, 14])
    b = pd.Series(["n", "y", "n", "y"], index=[14, 13, 12, 10])  # 11 missing, order differs
    both = [10, 12, 14]
    expected = cohen_kappa_score(a[both].tolist(), b[both].tolist())
    assert cohen_kappa(a, b) == pytest.approx(expected)


def test_cohen_degenerate_cases() -> None:
    assert math.isnan(cohen_kappa(["y"], ["y"]))  # one item
    assert math.isnan(cohen_kappa([None, "y"], ["n", None]))  # no item rated by both
    assert cohen_kappa(["y"] * 5, ["y"] * 5) == 1.0  # perfect agreement on one class
    assert cohen_kappa(list("ynyn"), list("ynyn")) == 1.0  # perfect agreement
    # each rater constant but on different classes: observed 0, chance 0 -> 0 (as sklearn)
    assert cohen_kappa(["y"] * 4, ["n"] * 4) == pytest.approx(
        cohen_kappa_score(["y"] * 4, ["n"] * 4)
    )
    with pytest.raises(ValuelensError, match="3 and 2"):
        cohen_kappa(["y", "n", "y"], ["y", "n"])


# --- Fleiss' kappa -----------------------------------------------------------------------------


def test_fleiss_wikipedia_table() -> None:
    ratings = _ratings_from_counts(WIKIPEDIA_FLEISS_COUNTS)
    assert ratings.shape == (10, 14)
    assert fleiss_kappa(ratings) == pytest.approx(0.210, abs=5e-4)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 12), st.integers(2, 5), st.integers(2, 4))
def test_fleiss_matches_statsmodels_on_complete_data(
    seed: int, n_items: int, n_raters: int, n_categories: int
) -> None:
    data = np.random.default_rng(seed).integers(0, n_categories, size=(n_items, n_raters))
    if len(np.unique(data)) == 1:
        return
    table, _ = aggregate_raters(data)
    expected = sm_fleiss_kappa(table, method="fleiss")
    assert fleiss_kappa(pd.DataFrame(data)) == pytest.approx(expected)


def test_fleiss_with_missing_ratings_hand_computed() -> None:
    ratings = pd.DataFrame(
        {
            "a": ["y", "y", "n", "y", "n"],
            "b": ["y", "n", "n", "n", None],
            "c": ["y", None, "n", "n", None],  # the last item has one rating: dropped
        }
    )
    # per item agreeing pairs / pairs: 1, 0, 1, 1/3; pooled shares y 5/11, n 6/11
    observed = (Fraction(1) + 0 + 1 + Fraction(1, 3)) / 4
    chance = Fraction(5, 11) ** 2 + Fraction(6, 11) ** 2
    expected = float((observed - chance) / (1 - chance))
    assert fleiss_kappa(ratings) == pytest.approx(expected)
    assert fleiss_kappa(ratings.iloc[:4]) == pytest.approx(expected)


def test_fleiss_degenerate_cases() -> None:
    assert math.isnan(fleiss_kappa(pd.DataFrame({"only": ["y", "n", "y"]})))  # single rater
    assert math.isnan(fleiss_kappa(pd.DataFrame({"a": ["y", "n"], "b": ["y", None]})))
    assert fleiss_kappa(pd.DataFrame({"a": ["y"] * 3, "b": ["y"] * 3, "c": ["y"] * 3})) == 1.0
    perfect = pd.DataFrame({"a": list("yny"), "b": list("yny"), "c": list("yny")})
    assert fleiss_kappa(perfect) == pytest.approx(1.0)


def test_category_counts() -> None:
    counts = category_counts(pd.DataFrame({"a": ["y", "n"], "b": ["y", None]}))
    assert counts.loc[0].to_dict() == {"n": 0, "y": 2}
    assert counts.loc[1].to_dict() == {"n": 1, "y": 0}


# --- Krippendorff's alpha ----------------------------------------------------------------------


def test_alpha_krippendorff_2011_example_c() -> None:
    assert krippendorff_alpha(KRIPPENDORFF_C) == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(KRIPPENDORFF_C, "ordinal") == pytest.approx(0.815, abs=5e-4)


def test_alpha_nominal_does_not_depend_on_category_labels() -> None:
    names = {1.0: "one", 2.0: "two", 3.0: "three", 4.0: "four", 5.0: "five"}
    labelled = KRIPPENDORFF_C.apply(lambda column: column.map(names))
    assert krippendorff_alpha(labelled) == pytest.approx(0.743, abs=5e-4)


def test_alpha_krippendorff_2011_example_b() -> None:
    ratings = pd.DataFrame(
        {"a": [0, 1, 0, 0, 0, 0, 0, 0, 1, 0], "b": [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]}
    )
    assert krippendorff_alpha(ratings) == pytest.approx(0.095, abs=5e-4)


def test_alpha_degenerate_cases() -> None:
    assert math.isnan(krippendorff_alpha(pd.DataFrame({"only": [1, 2, 1]})))  # single rater
    assert krippendorff_alpha(pd.DataFrame({"a": ["y"] * 3, "b": ["y", "y", None]})) == 1.0
    # the unpairable "n" on the last item does not count as a second class
    assert krippendorff_alpha(pd.DataFrame({"a": ["y", "y", "n"], "b": ["y", "y", None]})) == 1.0
    with pytest.raises(ValuelensError, match="numeric"):
        krippendorff_alpha(pd.DataFrame({"a": ["y", "n"], "b": ["n", "n"]}), "ordinal")
    with pytest.raises(ValuelensError, match="accepted"):
        krippendorff_alpha(KRIPPENDORFF_C, "cardinal")  # type: ignore[arg-type]


# --- majority vote and pairwise kappa ----------------------------------------------------------


def test_majority_vote() -> None:
    ratings = pd.DataFrame(
        {
            "a": ["y", "y", "n", None, None],
            "b": ["y", "n", "n", "y", None],
            "c": ["n", None, "n", None, None],
        },
        index=list("pqrst"),
    )
    votes = majority_vote(ratings)
    assert list(votes.index) == list("pqrst")
    assert votes["p"] == "y" and votes["r"] == "n" and votes["s"] == "y"
    assert pd.isna(votes["q"]) and pd.isna(votes["t"])  # tie, nobody


def test_majority_vote_single_rater_is_that_rater() -> None:
    assert majority_vote(pd.DataFrame({"only": [True, False]})).tolist() == [True, False]


def test_pairwise_kappa_against_sklearn() -> None:
    table = pairwise_kappa(KRIPPENDORFF_C)
    assert list(table.columns) == PAIRWISE_COLUMNS
    assert len(table) == 6
    for row in table.itertuples():
        both = KRIPPENDORFF_C[[row.rater_a, row.rater_b]].dropna()
        assert row.n == len(both)
        expected = cohen_kappa_score(both[row.rater_a], both[row.rater_b])
        assert row.kappa == pytest.approx(expected)


def test_pairwise_kappa_single_rater_is_empty() -> None:
    table = pairwise_kappa(pd.DataFrame({"only": [1, 2]}))
    assert table.empty and list(table.columns) == PAIRWISE_COLUMNS
