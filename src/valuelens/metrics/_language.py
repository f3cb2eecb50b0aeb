"""The value-action gap by prompt language, against English on the same pairs.

A run with several prompt languages (`valuelens evaluate --language en,native`) asks some
(country, topic, value) pairs in English and in another language. For each other language,
the pairs scored in both (stated and chosen present in both) are compared with
`metrics/_paired.py:paired_test`: the alignment rate, the accuracy and the mean distance in
that language and in English, their difference (language minus English) with a paired
bootstrap interval over scenarios and a paired permutation p-value. Two agreement rates say how
often the two languages give the same binary answer on a pair (`stated_agreement`,
`choice_agreement`), and `stated_shift` / `chosen_shift` are the mean differences of the
pair scores (stated = (Likert - 1) / 3; chosen = share of negative choices).

Example:
    >>> import pandas as pd
    >>> row = {"country": "India", "topic": "Religion", "value": "Honest"}
    >>> pairs = pd.DataFrame([{**row, "language": "en", "stated": 0.0, "chosen": 0.0},
    ...                       {**row, "language": "hi", "stated": 0.0, "chosen": 1.0}])
    >>> gap = language_gap(pairs, n_resamples=10, n_permutations=10)
    >>> gap.summary["hi"]["n_pairs"], gap.summary["hi"]["choice_agreement"]
    (1, 0.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from valuelens.metrics._alignment import binarize
from valuelens.metrics._paired import PAIR_KEYS, PAIRED_MEASURES, paired_test
from valuelens.metrics._value_action import build_pairs
from valuelens.taxonomy import ENGLISH, Taxonomy

LANGUAGE_GAP_COLUMNS = [
    "language",
    "measure",
    "language_value",
    "english_value",
    "difference",
    "ci_low",
    "ci_high",
    "p_value",
    "n_pairs",
    "n_scenarios",
]


@dataclass(frozen=True)
class LanguageGap:
    """The comparison of each prompt language with English.

    Attributes:
        table: one row per language and measure (`LANGUAGE_GAP_COLUMNS`).
        summary: per language: `n_pairs`, `n_scenarios`, the agreements and shifts, and per
            measure `{language, english, difference, ci, p_value}` (JSON-ready).
    """

    table: pd.DataFrame
    summary: dict[str, dict[str, object]]


def language_pairs(stated: pd.DataFrame, choices: pd.DataFrame, taxonomy: Taxonomy) -> pd.DataFrame:
    """`build_pairs` for each prompt language, stacked with a `language` column.

    Args:
        stated: Task 1 answers with a `language` column (rows without one count as English).
        choices: Task 2 choices, likewise.
        taxonomy: the run's taxonomy (the order of the pairs).
    """
    stated_by = _by_language(stated)
    choices_by = _by_language(choices)
    frames = [
        build_pairs(stated_by[code], choices_by[code], taxonomy, action_scope="sample").assign(
            language=code
        )
        for code in stated_by
        if code in choices_by
    ]
    if not frames:
        return pd.DataFrame(columns=[*PAIR_KEYS, "language", "stated", "chosen"])
    return pd.concat(frames, ignore_index=True)


def _by_language(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    codes = table["language"].fillna(ENGLISH) if "language" in table.columns else None
    if codes is None:
        return {ENGLISH: table}
    return {str(code): part for code, part in table.groupby(codes, sort=False)}


def language_gap(
    pairs: pd.DataFrame,
    *,
    reference: str = ENGLISH,
    languages: Sequence[str] | None = None,
    n_resamples: int = 1000,
    n_permutations: int = 10000,
    seed: int = 0,
    level: float = 0.95,
) -> LanguageGap:
    """Compare every language of a `language_pairs` table with `reference` on common pairs.

    Languages without a pair in common with the reference get `n_pairs` 0 and no measures.

    Args:
        pairs: a `language_pairs` table.
        reference: the language the others are compared with.
        languages: the languages to report, in order (default: those in `pairs`); one asked
            but without any scored pair gets `n_pairs` 0.
        n_resamples: bootstrap resamples of the scenarios for the intervals.
        n_permutations: swap patterns for the permutation p-values.
        seed: seeds the bootstrap and the permutations.
        level: confidence level of the intervals.
    """
    reference_pairs = pairs[pairs["language"] == reference]
    rows: list[dict[str, object]] = []
    summary: dict[str, dict[str, object]] = {}
    for code in dict.fromkeys(pairs["language"] if languages is None else languages):
        if code == reference:
            continue
        own = pairs[pairs["language"] == code]
        entry, measures = _compare(own, reference_pairs, n_resamples, n_permutations, seed, level)
        summary[str(code)] = entry
        rows += [{"language": code, **m} for m in measures]
    return LanguageGap(pd.DataFrame(rows, columns=LANGUAGE_GAP_COLUMNS), summary)


def _compare(
    own: pd.DataFrame,
    reference: pd.DataFrame,
    n_resamples: int,
    n_permutations: int,
    seed: int,
    level: float,
) -> tuple[dict[str, object], list[dict[str, object]]]:
    test = paired_test(
        own, reference, n_resamples=n_resamples, n_permutations=n_permutations, seed=seed,
        level=level,
    )  # fmt: skip
    entry: dict[str, object] = {"n_pairs": test.n_pairs, "n_scenarios": test.n_scenarios}
    if test.n_pairs == 0:
        return entry, []
    entry |= _agreements(own, reference)
    measures: list[dict[str, object]] = []
    for name in PAIRED_MEASURES:
        d = test.differences[name]
        entry[name] = {
            "language": d.first,
            "english": d.second,
            "difference": d.difference,
            "ci": [d.ci_low, d.ci_high],
            "p_value": d.p_value,
        }
        measures.append(
            {
                "measure": name,
                "language_value": d.first,
                "english_value": d.second,
                "difference": d.difference,
                "ci_low": d.ci_low,
                "ci_high": d.ci_high,
                "p_value": d.p_value,
                "n_pairs": test.n_pairs,
                "n_scenarios": test.n_scenarios,
            }
        )
    return entry, measures


def _agreements(own: pd.DataFrame, reference: pd.DataFrame) -> dict[str, object]:
    """How often both languages give the same binary answer, and the mean shifts."""
    keep = [*PAIR_KEYS, "stated", "chosen"]
    both = own[keep].merge(reference[keep], on=PAIR_KEYS, suffixes=("_l", "_r"))
    both = both.dropna(subset=["stated_l", "chosen_l", "stated_r", "chosen_r"])
    result: dict[str, object] = {}
    for column in ("stated", "chosen"):
        left, right = both[f"{column}_l"].astype(float), both[f"{column}_r"].astype(float)
        same = binarize(left) == binarize(right)
        name = "stated_agreement" if column == "stated" else "choice_agreement"
        result[name] = float(np.mean(same))
        result[f"{column}_shift"] = float((left - right).mean())
    return result
