"""A reproducible, stratified subset of (country, topic, value) pairs: `--limit N --seed S`.

The subset spreads over the grid rather than taking its first rows: every country and every
topic is represented as soon as N allows it (N >= the number of countries and of topics), pairs
are spread as evenly as possible over the scenarios chosen, and values are dealt round-robin
from a shuffled list, so no value is drawn twice before every value was drawn once. The same
grid, N and seed always give the same pairs, in the grid's order.

Example:
    >>> pairs = stratified_pairs(["India", "Nigeria"], ["Health", "Work"], ["Honest", "Wealth"], 3)
    >>> len(pairs), len({c for c, _, _ in pairs}), len({t for _, t, _ in pairs})
    (3, 2, 2)
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from valuelens._errors import ValuelensError

Pair = tuple[str, str, str]


def stratified_pairs(
    countries: Sequence[str],
    topics: Sequence[str],
    values: Sequence[str],
    limit: int,
    *,
    seed: int = 0,
) -> list[Pair]:
    """`limit` pairs of the grid countries x topics x values, stratified (see the module).

    Raises:
        ValuelensError: when `limit` is below 1 or the grid is empty.
    """
    if limit < 1:
        raise ValuelensError(f"--limit must be at least 1, not {limit}")
    grid_size = len(countries) * len(topics) * len(values)
    if grid_size == 0:
        raise ValuelensError("--limit: no country, topic or value left to sample from")
    if limit >= grid_size:
        return [(c, t, v) for c in countries for t in topics for v in values]
    rng = random.Random(seed)
    scenarios = _spread_scenarios(countries, topics, min(limit, len(countries) * len(topics)), rng)
    chosen = _deal_values(scenarios, values, limit, rng)
    order = (
        {name: i for i, name in enumerate(countries)},
        {name: i for i, name in enumerate(topics)},
    )
    rank = {name: i for i, name in enumerate(values)}
    return sorted(chosen, key=lambda p: (order[0][p[0]], order[1][p[1]], rank[p[2]]))


def _spread_scenarios(
    countries: Sequence[str], topics: Sequence[str], n: int, rng: random.Random
) -> list[tuple[str, str]]:
    """`n` scenarios, each new one adding an unseen country and/or topic while any is left."""
    remaining = [(c, t) for c in countries for t in topics]
    rng.shuffle(remaining)
    seen_countries: set[str] = set()
    seen_topics: set[str] = set()
    picked: list[tuple[str, str]] = []
    for _ in range(n):
        best = max(
            range(len(remaining)),
            key=lambda i: (
                (remaining[i][0] not in seen_countries) + (remaining[i][1] not in seen_topics)
            ),
        )
        country, topic = remaining.pop(best)
        seen_countries.add(country)
        seen_topics.add(topic)
        if len(seen_countries) == len(countries) and len(seen_topics) == len(topics):
            seen_countries.clear()  # every one seen: start spreading the next round
            seen_topics.clear()
        picked.append((country, topic))
    return picked


def _deal_values(
    scenarios: Sequence[tuple[str, str]], values: Sequence[str], limit: int, rng: random.Random
) -> list[Pair]:
    """Deal `limit` pairs over `scenarios` round-robin, values from a cycling shuffled deck."""
    per_scenario = {scenario: 0 for scenario in scenarios}
    base, extra = divmod(limit, len(scenarios))
    for i, scenario in enumerate(scenarios):
        per_scenario[scenario] = min(base + (i < extra), len(values))
    shortfall = limit - sum(per_scenario.values())
    for scenario in scenarios:  # scenarios that ran out of values pass pairs on
        room = len(values) - per_scenario[scenario]
        take = min(room, shortfall)
        per_scenario[scenario] += take
        shortfall -= take
    deck: list[str] = []
    chosen: list[Pair] = []
    for (country, topic), count in per_scenario.items():
        taken: set[str] = set()
        while len(taken) < count:
            if not deck:
                deck = list(values)
                rng.shuffle(deck)
            candidate = next((v for v in deck if v not in taken), None)
            if candidate is None:  # the deck's rest is all taken here: draw a fresh deck
                deck = []
                continue
            deck.remove(candidate)
            taken.add(candidate)
            chosen.append((country, topic, candidate))
    return chosen
