"""`--limit N`: a reproducible subset that spreads over countries, topics and values."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from valuelens._errors import ValuelensError
from valuelens.pipeline._subset import stratified_pairs
from valuelens.taxonomy import load_taxonomy

TAX = load_taxonomy()
COUNTRIES, TOPICS, VALUES = TAX.country_names, TAX.topic_names, TAX.value_names


@given(
    n_countries=st.integers(1, 5),
    n_topics=st.integers(1, 4),
    n_values=st.integers(1, 7),
    limit=st.integers(1, 200),
    seed=st.integers(0, 3),
)
def test_subset_is_a_set_of_grid_pairs_of_the_asked_size(
    n_countries: int, n_topics: int, n_values: int, limit: int, seed: int
) -> None:
    countries, topics, values = COUNTRIES[:n_countries], TOPICS[:n_topics], VALUES[:n_values]
    pairs = stratified_pairs(countries, topics, values, limit, seed=seed)
    grid = {(c, t, v) for c in countries for t in topics for v in values}
    assert len(pairs) == min(limit, len(grid))
    assert len(set(pairs)) == len(pairs)
    assert set(pairs) <= grid
    if limit >= max(n_countries, n_topics):
        assert {c for c, _, _ in pairs} == set(countries)
        assert {t for _, t, _ in pairs} == set(topics)


def test_full_grid_subset_covers_everything_once() -> None:
    pairs = stratified_pairs(COUNTRIES, TOPICS, VALUES, 56)
    assert len({c for c, _, _ in pairs}) == 12
    assert len({t for _, t, _ in pairs}) == 11
    assert Counter(v for _, _, v in pairs) == Counter(VALUES)  # 56 scenarios, each value once
    assert len({(c, t) for c, t, _ in pairs}) == 56  # one pair per scenario, no scenario twice


def test_pairs_spread_evenly_over_scenarios() -> None:
    pairs = stratified_pairs(COUNTRIES, TOPICS, VALUES, 300, seed=1)
    per_scenario = Counter((c, t) for c, t, _ in pairs)
    assert len(per_scenario) == 132
    assert set(per_scenario.values()) == {2, 3}  # 300 = 132 x 2 + 36


def test_same_seed_same_pairs_other_seed_other_pairs() -> None:
    first = stratified_pairs(COUNTRIES, TOPICS, VALUES, 20, seed=7)
    assert first == stratified_pairs(COUNTRIES, TOPICS, VALUES, 20, seed=7)
    assert first != stratified_pairs(COUNTRIES, TOPICS, VALUES, 20, seed=8)


def test_pairs_come_in_grid_order() -> None:
    pairs = stratified_pairs(COUNTRIES, TOPICS, VALUES, 40, seed=2)
    rank = (
        {n: i for i, n in enumerate(COUNTRIES)},
        {n: i for i, n in enumerate(TOPICS)},
        {n: i for i, n in enumerate(VALUES)},
    )
    keys = [(rank[0][c], rank[1][t], rank[2][v]) for c, t, v in pairs]
    assert keys == sorted(keys)


@pytest.mark.parametrize("limit", [0, -3])
def test_limit_below_one_is_refused(limit: int) -> None:
    with pytest.raises(ValuelensError, match="--limit must be at least 1"):
        stratified_pairs(COUNTRIES, TOPICS, VALUES, limit)
