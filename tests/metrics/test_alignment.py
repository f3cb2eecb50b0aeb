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


def _naive_distance_ci(df, axis, per_row, weights, level=0.95):
    """One resample at a time: repeat each scenario's rows as often as it was drawn."""
    from valuelens.metrics import abs_distance_matrix

    scenarios = list(dict.fromkeys(zip(df["country"], df["topic"], strict=True)))
    build = abs_distance_matrix if per_row else distance_matrix
    estimates = []
    for draw in weights:
        parts = [
            df[(df["country"] == c) & (df["topic"] == t)]
            for (c, t), times in zip(scenarios, draw, strict=True)
            for _ in range(int(times))
        ]
        estimates.append(np.nanmean(build(pd.concat(parts), axis, "a", "b").to_numpy()))
    return np.quantile(estimates, [(1 - level) / 2, (1 + level) / 2])


@pytest.fixture
def random_cells():
    rng = np.random.default_rng(3)
    index = pd.MultiIndex.from_product(
        [["c1", "c2", "c3"], ["t1", "t2", "t3", "t4"], ["v1", "v2", "v3"]],
        names=["country", "topic", "value"],
    )
    df = index.to_frame(index=False).assign(a=rng.random(len(index)), b=rng.random(len(index)))
    df.loc[[0, 7, 20], "b"] = np.nan  # unscored pairs drop out of every cell
    return df


def test_bootstrap_distance_ci_matches_a_loop_over_resamples(random_cells):
    from valuelens.metrics import abs_distance_matrix, bootstrap_distance_ci, resample_weights

    n_scenarios = 12
    weights = resample_weights(n_scenarios, 40, seed=5)
    scored = random_cells.dropna(subset=["a", "b"])  # what the bootstrap and score_pairs use
    assert weights.sum(axis=1).tolist() == [n_scenarios] * 40
    got = bootstrap_distance_ci(
        random_cells, ["country", "topic"], "country", "a", "b", n_resamples=40, seed=5
    )
    low, high = _naive_distance_ci(scored, "country", True, weights)
    assert got["distance_abs"] == pytest.approx((low, high))
    # |mean - mean|: the basic interval, reflected about the estimate
    estimate = np.nanmean(distance_matrix(scored, "country", "a", "b").to_numpy())
    low, high = _naive_distance_ci(scored, "country", False, weights)
    assert got["distance"] == pytest.approx((2 * estimate - high, 2 * estimate - low))
    by_topic = bootstrap_distance_ci(
        random_cells, ["country", "topic"], "topic", "a", "b", n_resamples=40, seed=5
    )
    low, high = _naive_distance_ci(scored, "topic", True, weights)
    assert by_topic["distance_abs"] == pytest.approx((low, high))
    eq1 = np.nanmean(abs_distance_matrix(random_cells, "topic", "a", "b").to_numpy())
    assert low <= eq1 <= high


def test_abs_distance_matrix_takes_the_gap_per_row():
    df = pd.DataFrame(
        {
            "country": ["X", "X"],
            "topic": ["A", "B"],
            "value": ["v", "v"],
            "a": [1.0, 0.0],
            "b": [0.0, 1.0],
        }
    )
    from valuelens.metrics import abs_distance_matrix

    assert abs_distance_matrix(df, "country", "a", "b").loc["X", "v"] == 1.0  # (1 + 1) / 2
    assert distance_matrix(df, "country", "a", "b").loc["X", "v"] == 0.0  # |0.5 - 0.5|


def test_bootstrap_ratio_ci_pools_per_group_counts():
    from valuelens.metrics import bootstrap_ratio_ci, resample_weights

    hits = np.array([1, 0, 5, 2, 3.0])
    totals = np.array([4, 2, 6, 5, 0.0])  # the last group has nothing to count: left out
    low, high = bootstrap_ratio_ci(hits, totals, 200, seed=1)
    weights = resample_weights(4, 200, seed=1)
    ratios = (weights @ hits[:4]) / (weights @ totals[:4])
    assert (low, high) == pytest.approx(tuple(np.quantile(ratios, [0.025, 0.975])))
    assert low < hits[:4].sum() / totals[:4].sum() < high
    assert all(math.isnan(x) for x in bootstrap_ratio_ci([], [], 10))


def test_rank_items_breaks_ties_by_column_order_and_skips_nan():
    matrix = pd.DataFrame(
        [[0.2, 0.5, 0.2], [np.nan, 0.1, 0.3]],
        index=pd.Index(["b", "a"], name="country"),
        columns=pd.Index(["x", "y", "z"], name="value"),
    )
    ranked = rank_items(matrix)
    assert ranked["country"].tolist() == ["b", "b", "b", "a", "a"]
    assert ranked["value"].tolist() == ["y", "x", "z", "z", "y"]
    assert ranked["rank"].tolist() == [1, 2, 3, 1, 2]
    assert rank_items(matrix.iloc[:0]).empty


def test_scores_by_group_on_a_filtered_frame_keeps_rows_and_groups_together():
    df = pd.DataFrame({"s": ["a", "a", "b", "b"], "t": [1, 0, 1, 1], "p": [1, 0, 0, 1]})
    subset = df[df["s"] == "b"]  # index 2, 3: not a fresh RangeIndex
    out = scores_by_group(subset, ["s"], "t", "p")
    assert out[["s", "n"]].values.tolist() == [["b", 2]]
    assert out["accuracy"].item() == 0.5
