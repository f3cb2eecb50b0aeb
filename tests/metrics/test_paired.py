"""The paired test between two runs, checked against independent computations.

Expected values come from sklearn (per-scenario F1 and accuracy), pandas (the distance) and an
explicit enumeration of every swap pattern, never from `paired_test` itself.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, f1_score

from valuelens._errors import ValuelensError
from valuelens.metrics import PAIRED_MEASURES, paired_test

KEYS = ["country", "topic", "value"]


def _pairs(n_countries: int, n_topics: int, n_values: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [
        (f"c{c}", f"t{t}", f"v{v}", rng.random(), rng.random())
        for c in range(n_countries)
        for t in range(n_topics)
        for v in range(n_values)
    ]
    return pd.DataFrame(rows, columns=[*KEYS, "stated", "chosen"])


def _closer(pairs: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """A run whose choices follow its statements for `share` of the pairs."""
    rng = np.random.default_rng(seed)
    follow = rng.random(len(pairs)) < share
    return pairs.assign(chosen=np.where(follow, pairs["stated"], pairs["chosen"]))


def _scenario_scores(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per-scenario F1 (positive class 1, zero division 0) and accuracy, with sklearn."""
    rows = []
    for (country, topic), group in pairs.groupby(["country", "topic"], sort=False):
        truth = (group["stated"] >= 0.5).astype(int)
        pred = (group["chosen"] >= 0.5).astype(int)
        rows.append(
            {
                "country": country,
                "topic": topic,
                "f1": f1_score(truth, pred, zero_division=0),
                "accuracy": accuracy_score(truth, pred),
            }
        )
    return pd.DataFrame(rows)


def _distance(pairs: pd.DataFrame) -> float:
    """Mean over country x value of |mean stated - mean chosen| over the country's topics."""
    means = pairs.groupby(["country", "value"])[["stated", "chosen"]].mean()
    return float((means["stated"] - means["chosen"]).abs().mean())


def _measures(pairs: pd.DataFrame) -> dict[str, float]:
    scores = _scenario_scores(pairs)
    return {
        "alignment_rate": float(scores["f1"].mean()),
        "accuracy": float(scores["accuracy"].mean()),
        "distance_mean": _distance(pairs),
    }


def test_identical_runs_differ_by_zero_with_p_one() -> None:
    pairs = _pairs(4, 5, 12, seed=1)
    test = paired_test(pairs, pairs.copy(), n_resamples=200, n_permutations=500)
    assert test.n_scenarios == 20 and test.n_pairs == 240 and not test.exact
    for measure in PAIRED_MEASURES:
        d = test.differences[measure]
        assert d.difference == 0.0
        assert d.p_value == 1.0
        assert d.ci_low == pytest.approx(0.0, abs=1e-12)
        assert d.ci_high == pytest.approx(0.0, abs=1e-12)


def test_a_clearly_better_run_gets_a_small_p_value() -> None:
    base = _pairs(6, 6, 20, seed=2)
    better = _closer(base, 0.6, seed=3)
    test = paired_test(better, base, n_resamples=500, n_permutations=2000, seed=4)
    expected_better, expected_base = _measures(better), _measures(base)
    for measure in PAIRED_MEASURES:
        d = test.differences[measure]
        expected = expected_better[measure] - expected_base[measure]
        assert d.first == pytest.approx(expected_better[measure], abs=1e-12)
        assert d.second == pytest.approx(expected_base[measure], abs=1e-12)
        assert d.difference == pytest.approx(expected, abs=1e-12)
        assert d.ci_low <= d.difference <= d.ci_high
        assert d.p_value <= 1 / 2001 + 1e-12  # no permutation is as extreme as the data
    rate, distance = test.differences["alignment_rate"], test.differences["distance_mean"]
    assert rate.difference > 0.2 and rate.ci_low > 0  # following one's statements aligns
    assert distance.difference < 0 and distance.ci_high < 0  # and narrows the gap


def test_exact_p_value_matches_an_enumeration_of_every_swap() -> None:
    """Few scenarios: every pattern of swapping the runs within scenarios is enumerated."""
    first = _pairs(2, 2, 8, seed=5)
    second = _closer(_pairs(2, 2, 8, seed=6), 0.3, seed=7)
    test = paired_test(first, second, n_resamples=100, n_permutations=1000)
    assert test.exact and test.n_permutations == 2**4

    scenarios = list(first.groupby(["country", "topic"], sort=False).groups)
    observed = {m: _measures(first)[m] - _measures(second)[m] for m in PAIRED_MEASURES}
    extreme = dict.fromkeys(PAIRED_MEASURES, 0)
    for pattern in itertools.product((False, True), repeat=len(scenarios)):
        swapped = {s for s, flip in zip(scenarios, pattern, strict=True) if flip}
        scenario_of = zip(first["country"], first["topic"], strict=True)
        in_swapped = [(c, t) in swapped for c, t in scenario_of]
        a = first.copy()
        b = second.copy()
        a.loc[in_swapped, "chosen"] = second.loc[in_swapped, "chosen"]
        a.loc[in_swapped, "stated"] = second.loc[in_swapped, "stated"]
        b.loc[in_swapped, "chosen"] = first.loc[in_swapped, "chosen"]
        b.loc[in_swapped, "stated"] = first.loc[in_swapped, "stated"]
        permuted_a, permuted_b = _measures(a), _measures(b)
        for m in PAIRED_MEASURES:
            if abs(permuted_a[m] - permuted_b[m]) >= abs(observed[m]) - 1e-12:
                extreme[m] += 1
    for m in PAIRED_MEASURES:
        assert test.differences[m].difference == pytest.approx(observed[m], abs=1e-12)
        assert test.differences[m].p_value == pytest.approx(extreme[m] / 16)


def test_only_pairs_both_runs_scored_count() -> None:
    first = _pairs(3, 3, 10, seed=8)
    second = _closer(first, 0.5, seed=9)
    first.loc[first["value"] == "v0", "chosen"] = np.nan  # no Task 2 answer for one value
    second.loc[(second["country"] == "c2") & (second["topic"] == "t2"), "stated"] = np.nan
    second = second[second["value"] != "v9"]  # a value the second run never asked
    test = paired_test(first, second, n_resamples=100, n_permutations=200)

    common = first.dropna().merge(second.dropna(), on=KEYS, suffixes=("_a", "_b"))
    assert test.n_pairs == len(common) == 8 * 8  # values v1-v8 in 8 of the 9 scenarios
    assert test.n_scenarios == 8
    a = common[KEYS].assign(stated=common["stated_a"], chosen=common["chosen_a"])
    b = common[KEYS].assign(stated=common["stated_b"], chosen=common["chosen_b"])
    for m in PAIRED_MEASURES:
        expected = _measures(a)[m] - _measures(b)[m]
        assert test.differences[m].difference == pytest.approx(expected, abs=1e-12)


def test_no_common_pairs_gives_nan() -> None:
    first = _pairs(1, 1, 3, seed=10)
    second = first.assign(country="elsewhere")
    test = paired_test(first, second, n_resamples=10)
    assert test.n_pairs == 0 and test.n_scenarios == 0
    assert all(np.isnan(d.p_value) for d in test.differences.values())


def test_bad_settings_are_user_errors() -> None:
    pairs = _pairs(1, 1, 3, seed=11)
    with pytest.raises(ValuelensError, match="at least 1 resample"):
        paired_test(pairs, pairs, n_resamples=0)
    with pytest.raises(ValuelensError, match="level in"):
        paired_test(pairs, pairs, level=1.0)


def test_seeded() -> None:
    first = _pairs(4, 4, 6, seed=12)
    second = _closer(first, 0.2, seed=13)
    one = paired_test(first, second, n_resamples=100, n_permutations=300, seed=7)
    two = paired_test(first, second, n_resamples=100, n_permutations=300, seed=7)
    assert one == two


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), share=st.floats(0.0, 1.0))
def test_swapping_the_runs_negates_the_differences(seed: int, share: float) -> None:
    first = _pairs(3, 3, 5, seed=seed)
    second = _closer(_pairs(3, 3, 5, seed=seed + 1), share, seed=seed + 2)
    forward = paired_test(first, second, n_resamples=50, n_permutations=600)
    backward = paired_test(second, first, n_resamples=50, n_permutations=600)
    assert forward.exact  # 9 scenarios: 512 patterns
    for m in PAIRED_MEASURES:
        f, b = forward.differences[m], backward.differences[m]
        assert b.difference == pytest.approx(-f.difference, abs=1e-12)
        assert b.p_value == pytest.approx(f.p_value)
        assert 0 < f.p_value <= 1
