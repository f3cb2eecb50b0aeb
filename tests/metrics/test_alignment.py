import math

import numpy as np
import pandas as pd
import pytest

from valuelens.metrics import (
    binarize,
    bootstrap_ci,
    distance_matrix,
    prompt_agreement,
    rank_items,
    scores_by_group,
)


def test_binarize_threshold_and_nan():
    out = binarize([0.0, 0.49, 0.5, 1.0, np.nan])
    assert out[:4].tolist() == [0.0, 0.0, 1.0, 1.0]
    assert math.isnan(out[4])


def test_scores_by_group_hand_computed():
    # group a: truth 1,1,0,0 pred 1,0,1,0 -> tp1 fp1 fn1 -> f1 = 2/(2+1+1) = 0.5, acc 0.5
    # group b: truth 0,0 pred 0,0 -> no positives at all -> f1 0 (zero division), acc 1
    df = pd.DataFrame(
        {
            "g": ["a", "a", "a", "a", "b", "b"],
            "t": [1.0, 0.9, 0.1, 0.0, 0.2, 0.3],
            "p": [1, 0, 1, 0, 0, 0],
        }
    )
    out = scores_by_group(df, ["g"], "t", "p").set_index("g")
    assert out.loc["a", "f1"] == pytest.approx(0.5)
    assert out.loc["a", "accuracy"] == pytest.approx(0.5)
    assert out.loc["b", "f1"] == 0.0
    assert out.loc["b", "accuracy"] == 1.0
    assert out["n"].tolist() == [4, 2]


def test_scores_by_group_positive_class_is_disagree():
    # all "agree" (0) and predicted 0: F1 with positive class 1 is 0, not 1
    df = pd.DataFrame({"g": ["x"] * 3, "t": [0.0] * 3, "p": [0.0] * 3})
    assert scores_by_group(df, ["g"], "t", "p")["f1"].item() == 0.0


def test_scores_by_group_matches_sklearn_on_random_data():
    from sklearn.metrics import accuracy_score, f1_score

    rng = np.random.default_rng(7)
    df = pd.DataFrame(
        {
            "c": rng.integers(0, 5, 400),
            "k": rng.integers(0, 3, 400),
            "t": rng.random(400),
            "p": rng.integers(0, 2, 400).astype(float),
        }
    )
    df.loc[rng.choice(400, 30, replace=False), "p"] = np.nan
    ours = scores_by_group(df, ["c", "k"], "t", "p").set_index(["c", "k"])
    for (c, k), group in df.dropna().groupby(["c", "k"]):
        truth, pred = (group["t"] >= 0.5).astype(int), group["p"].astype(int)
        assert ours.loc[(c, k), "f1"] == pytest.approx(f1_score(truth, pred, zero_division=0))
        assert ours.loc[(c, k), "accuracy"] == pytest.approx(accuracy_score(truth, pred))


def test_distance_matrix_averages_before_difference():
    df = pd.DataFrame(
        {
            "country": ["A", "A", "A", "A"],
            "topic": ["t1", "t2", "t1", "t2"],
            "value": ["v", "v", "w", "w"],
            "a": [0.0, 1.0, 0.2, 0.4],
            "b": [1.0, 0.0, 0.0, 0.0],
        }
    )
    m = distance_matrix(df, "country", "a", "b")
    # v: |mean(0,1) - mean(1,0)| = 0 (not the mean of |diffs| = 1); w: |0.3 - 0| = 0.3
    assert m.loc["A", "v"] == pytest.approx(0.0)
    assert m.loc["A", "w"] == pytest.approx(0.3)
    assert list(m.columns) == ["v", "w"]


def test_rank_items_largest_first_per_row():
    m = pd.DataFrame({"v": [0.1, 0.9], "w": [0.5, 0.2], "x": [0.3, 0.4]}, index=["B", "A"])
    m = m.rename_axis(index="country", columns="value")
    ranks = rank_items(m)
    assert ranks["country"].tolist() == ["B"] * 3 + ["A"] * 3  # keeps the matrix's row order
    assert ranks[ranks["country"] == "B"]["value"].tolist() == ["w", "x", "v"]
    assert ranks[ranks["country"] == "A"]["rank"].tolist() == [1, 2, 3]


def test_bootstrap_ci_is_seeded_and_brackets_the_mean():
    values = np.linspace(0, 1, 50)
    low, high = bootstrap_ci(values, 500, seed=3)
    assert (low, high) == bootstrap_ci(values, 500, seed=3)
    assert low < values.mean() < high
    assert bootstrap_ci(np.full(10, 0.4), 100) == pytest.approx((0.4, 0.4))
    assert all(math.isnan(x) for x in bootstrap_ci([np.nan]))


def test_prompt_agreement_hand_computed():
    df = pd.DataFrame(
        {
            "item": ["a"] * 4 + ["b"] * 4 + ["c"],
            "answer": [1, 1, 1, 2, 2, 3, None, 3, 4],
        }
    )
    # a: 3/4 agree; b: answers 2,3,3 -> 2/3; c has one answer and is left out
    assert prompt_agreement(df, ["item"], "answer") == pytest.approx((0.75 + 2 / 3) / 2)
    assert prompt_agreement(df.iloc[8:], ["item"], "answer") is None


@pytest.mark.parametrize("n_resamples", [0, -5])
def test_bootstrap_refuses_no_resamples(n_resamples):
    from valuelens._errors import ValuelensError

    with pytest.raises(ValuelensError, match="at least 1 resample"):
        bootstrap_ci([0.1, 0.2], n_resamples=n_resamples)
