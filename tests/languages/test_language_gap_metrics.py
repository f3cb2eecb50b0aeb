"""The gap by prompt language against English on the same pairs, checked by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from valuelens.metrics import language_gap, language_pairs
from valuelens.taxonomy import load_taxonomy


def _pair(language: str, topic: str, value: str, stated: float, chosen: float) -> dict:
    return {"country": "India", "topic": topic, "value": value, "language": language,
            "stated": stated, "chosen": chosen}  # fmt: skip


PAIRS = pd.DataFrame(
    [
        _pair("en", "Religion", "Honest", 1.0, 1.0),
        _pair("en", "Religion", "Wealth", 0.0, 0.0),
        _pair("en", "Politics", "Honest", 1.0, 1.0),
        _pair("en", "Politics", "Wealth", 0.0, 1.0),
        _pair("en", "Politics", "Freedom", 1.0, 1.0),  # xx has no choice here: left out
        _pair("xx", "Religion", "Honest", 1.0, 0.0),
        _pair("xx", "Religion", "Wealth", 0.0, 0.0),
        _pair("xx", "Religion", "Daring", 1.0, 0.0),  # only in xx: left out
        _pair("xx", "Politics", "Honest", 1.0, 1.0),
        _pair("xx", "Politics", "Wealth", 0.0, 0.0),
        _pair("xx", "Politics", "Freedom", 1.0, math.nan),
    ]
)


def test_the_gap_is_computed_on_the_pairs_both_languages_scored() -> None:
    gap = language_gap(PAIRS, n_resamples=50, n_permutations=100)
    entry = gap.summary["xx"]
    assert (entry["n_pairs"], entry["n_scenarios"]) == (4, 2)
    # Per-scenario F1 (2TP / (2TP + FP + FN)) on the 4 common pairs, by hand:
    # English: Religion 1, Politics 2/3 -> 5/6. Testish: Religion 0, Politics 1 -> 1/2.
    rate = entry["alignment_rate"]
    assert rate["english"] == pytest.approx(5 / 6)
    assert rate["language"] == pytest.approx(0.5)
    assert rate["difference"] == pytest.approx(0.5 - 5 / 6)
    # Accuracy: English (1 + 1/2) / 2, Testish (1/2 + 1) / 2.
    assert entry["accuracy"]["difference"] == pytest.approx(0.0)
    # Mean distance over India x value of |mean stated - mean chosen| over the topics:
    # English: Honest |1 - 1| = 0, Wealth |0 - 1/2| = 1/2 -> 1/4; Testish: 1/2 and 0 -> 1/4.
    assert entry["distance_mean"]["english"] == pytest.approx(0.25)
    assert entry["distance_mean"]["language"] == pytest.approx(0.25)
    # Same stated side on all 4 pairs; same choice on 2 of 4; choices shift by -2/4.
    assert entry["stated_agreement"] == 1.0 and entry["choice_agreement"] == 0.5
    assert entry["stated_shift"] == 0.0 and entry["chosen_shift"] == -0.5
    table = gap.table.set_index("measure")
    assert table.loc["alignment_rate", "n_pairs"] == 4
    assert table.loc["alignment_rate", "difference"] == pytest.approx(-1 / 3)


def test_a_language_without_common_pairs_has_no_measures() -> None:
    alone = PAIRS[(PAIRS["language"] == "xx") | (PAIRS["topic"] == "Nowhere")]
    gap = language_gap(pd.concat([alone, PAIRS.iloc[:0]]), n_resamples=10, n_permutations=10)
    assert gap.summary == {"xx": {"n_pairs": 0, "n_scenarios": 0}}
    assert gap.table.empty


def test_language_pairs_builds_each_languages_pairs_from_the_answers() -> None:
    key = {"country": "India", "topic": "Religion", "value": "Honest"}
    stated = pd.DataFrame(
        [{**key, "variant": v, "likert": 1.0, "language": "en"} for v in (0, 1)]
        + [{**key, "variant": v, "likert": 4.0, "language": "xx"} for v in (0, 1)]
    )
    choices = pd.DataFrame(
        [{**key, "variant": 5, "choice": "negative", "language": "en"},
         {**key, "variant": 5, "choice": "positive", "language": "xx"}]
    )  # fmt: skip
    pairs = language_pairs(stated, choices, load_taxonomy()).set_index("language")
    # stated = (mean Likert - 1) / 3; chosen = share of negative choices.
    assert pairs.loc["en", ["stated", "chosen"]].tolist() == [0.0, 1.0]
    assert pairs.loc["xx", ["stated", "chosen"]].tolist() == [1.0, 0.0]
