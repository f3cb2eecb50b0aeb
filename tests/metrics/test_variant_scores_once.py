"""`variant_scores` joins the tables once; each row must still be that variant's own scores.

Two independent references: a plain-Python computation of the definition (per variant: mean
Likert and negative share per pair, binarised at 0.5, F1 and accuracy per scenario, averaged),
and the definition through the public `build_pairs` on the table restricted to one variant.
"""

import itertools
import random

import numpy as np
import pandas as pd
import pytest

from valuelens.metrics import build_pairs, variant_scores
from valuelens.metrics._alignment import scores_by_group
from valuelens.taxonomy import load_taxonomy

TAX = load_taxonomy()
COUNTRIES = TAX.country_names[:2]
TOPICS = TAX.topic_names[:3]
VALUES = TAX.value_names[:6]


def _tables(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random answers with gaps: unanswered rows, a pair without Task 2, one without Task 1."""
    rng = random.Random(seed)
    stated, choices = [], []
    for country, topic, value in itertools.product(COUNTRIES, TOPICS, VALUES):
        for variant in range(3):
            likert = rng.choice([1, 2, 3, 4, None])
            choice = rng.choice(["positive", "negative", "negative", None])
            if (topic, value) != (TOPICS[0], VALUES[0]):
                stated.append((country, topic, value, variant, likert))
            if (topic, value) != (TOPICS[1], VALUES[1]) and not (topic == TOPICS[2] and variant):
                choices.append((country, topic, value, variant, choice))
    rng.shuffle(stated)
    rng.shuffle(choices)
    return (
        pd.DataFrame(stated, columns=["country", "topic", "value", "variant", "likert"]),
        pd.DataFrame(choices, columns=["country", "topic", "value", "variant", "choice"]),
    )


def _mean_of(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _by_hand(stated, choices, task, variant, paper_compat, sample):
    """(alignment_rate, accuracy, n_pairs) of one variant, from the definition."""
    s_rows = stated[stated["variant"] == variant] if task == "stated" else stated
    c_rows = choices[choices["variant"] == variant] if task == "action" else choices
    likert: dict[tuple, list[float]] = {}
    for row in s_rows.itertuples():
        likert.setdefault((row.country, row.topic, row.value), [])
        if row.likert == row.likert and row.likert is not None:
            likert[(row.country, row.topic, row.value)].append(float(row.likert))
    negative: dict[tuple, list[float]] = {}
    for row in c_rows.itertuples():
        negative.setdefault((row.country, row.topic, row.value), [])
        if row.choice in ("positive", "negative"):
            negative[(row.country, row.topic, row.value)].append(float(row.choice == "negative"))
    asked = set(zip(choices["country"], choices["topic"], choices["value"], strict=True))
    per_scenario: dict[tuple, list[tuple[int, int]]] = {}
    for pair in set(likert) | set(negative):
        if sample and pair not in asked:
            continue
        mean_likert = _mean_of(likert.get(pair, []))
        share = _mean_of(negative.get(pair, []))
        if share is None and paper_compat:
            share = 0.0
        if mean_likert is None or share is None:
            continue
        truth, pred = int((mean_likert - 1) / 3 >= 0.5), int(share >= 0.5)
        per_scenario.setdefault(pair[:2], []).append((truth, pred))
    f1s, accuracies = [], []
    for labels in per_scenario.values():
        tp = sum(t == p == 1 for t, p in labels)
        wrong = sum(t != p for t, p in labels)
        f1s.append(2 * tp / (2 * tp + wrong) if 2 * tp + wrong else 0.0)
        accuracies.append(sum(t == p for t, p in labels) / len(labels))
    n_pairs = sum(len(labels) for labels in per_scenario.values())
    return _mean_of(f1s), _mean_of(accuracies), n_pairs


@pytest.mark.parametrize(
    ("paper_compat", "scope"), list(itertools.product([False, True], ["grid", "sample"]))
)
@pytest.mark.parametrize("seed", [0, 1])
def test_each_row_matches_the_definition(seed, paper_compat, scope):
    stated, choices = _tables(seed)
    table = variant_scores(stated, choices, TAX, paper_compat=paper_compat, action_scope=scope)
    assert list(zip(table["task"], table["variant"], strict=True)) == [
        (task, variant) for task in ("stated", "action") for variant in range(3)
    ]
    for row in table.itertuples():
        rate, accuracy, n_pairs = _by_hand(
            stated, choices, row.task, row.variant, paper_compat, scope == "sample"
        )
        assert row.alignment_rate == pytest.approx(rate, rel=1e-12)
        assert row.accuracy == pytest.approx(accuracy, rel=1e-12)
        assert row.n_pairs == n_pairs


@pytest.mark.parametrize("paper_compat", [False, True])
def test_each_row_is_bit_identical_to_build_pairs_on_that_variant(paper_compat):
    stated, choices = _tables(2)
    table = variant_scores(stated, choices, TAX, paper_compat=paper_compat)
    for row in table.itertuples():
        restrict = stated if row.task == "stated" else choices
        only = restrict[restrict["variant"] == row.variant]
        s, c = (only, choices) if row.task == "stated" else (stated, only)
        pairs = build_pairs(s, c, TAX, paper_compat=paper_compat)
        scenarios = scores_by_group(pairs, ["country", "topic"], "stated", "chosen")
        assert row.alignment_rate == float(np.nanmean(scenarios["f1"]))
        assert row.accuracy == float(np.nanmean(scenarios["accuracy"]))
        assert row.n_pairs == int(scenarios["n"].sum())
