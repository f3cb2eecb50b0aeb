"""Harm codes counted and compared: pure functions over the tables of a harms run (no I/O).

A harms run holds misaligned examples (`examples`: one row per example, with model, country,
topic and gap direction), the judge's codes (`codes`: example_id, harm) and people's codes
(`human_codes`: example_id, coder, harm). Labels are the keys of the harm taxonomy, `none`
included (`valuelens.tasks._harms.HarmTaxonomy`).

Example:
    >>> import pandas as pd
    >>> people = pd.DataFrame({"example_id": ["a", "a", "b", "b"], "coder": ["ann", "bo"] * 2,
    ...                        "harm": ["polarization", "polarization", "none", "misinformation"]})
    >>> ratings_matrix(people).loc["a"].tolist()
    ['polarization', 'polarization']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from valuelens.metrics._agreement import (
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    majority_vote,
    pairwise_kappa,
)

COUNT_DIMENSIONS = ("all", "model", "country", "topic", "direction")
"""What the counts table groups by (`all`: every example together)."""
COUNT_COLUMNS = ["source", "by", "group", "unit", "key", "level", "n", "share"]
AGREEMENT_COLUMNS = ["statistic", "rater_a", "rater_b", "value", "n"]
MERGED_COLUMNS = ["example_id", "harm", "n_coders", "n_agreeing", "unanimous"]
JUDGE = "judge"
"""The rater name the judge model gets in agreement tables."""
MAJORITY = "majority"
"""The rater name of people's majority label in agreement tables."""
ALL_CODERS = "all coders"


def ratings_matrix(human_codes: pd.DataFrame) -> pd.DataFrame:
    """People's labels as one row per example and one column per coder (NaN: not coded).

    Args:
        human_codes: columns example_id, coder, harm (one row per coded example and coder;
            rows with an empty harm are ignored).

    Returns:
        Rows in first-seen example order, columns in first-seen coder order.
    """
    coded = human_codes[human_codes["harm"].notna()]
    wide = coded.pivot_table(
        index="example_id", columns="coder", values="harm", aggfunc="last", sort=False
    )
    examples = list(dict.fromkeys(human_codes["example_id"]))
    coders = list(dict.fromkeys(human_codes["coder"]))
    return wide.reindex(index=examples, columns=coders).rename_axis(index=None, columns=None)


def merged_labels(ratings: pd.DataFrame) -> pd.DataFrame:
    """People's majority label per example (None on a tie), with how many coded and agreed.

    Returns:
        Columns example_id, harm (the majority, None on a tie or when nobody coded it),
        n_coders, n_agreeing (coders who gave the majority label), unanimous.
    """
    majority = majority_vote(ratings)
    rows = []
    for (example_id, row), label in zip(ratings.iterrows(), majority.tolist(), strict=True):
        given = row.dropna()
        has_label = isinstance(label, str)
        agreeing = int((given == label).sum()) if has_label else 0
        rows.append(
            {
                "example_id": str(example_id),
                "harm": label if has_label else None,
                "n_coders": len(given),
                "n_agreeing": agreeing,
                "unanimous": has_label and agreeing == len(given) and len(given) > 1,
            }
        )
    return pd.DataFrame(rows, columns=MERGED_COLUMNS)


def agreement_table(ratings: pd.DataFrame, judge: pd.Series | None = None) -> pd.DataFrame:
    """Agreement among people, and between each of them (and their majority) and the judge.

    Rows: Cohen's kappa for every pair of coders; Krippendorff's alpha (nominal) and Fleiss'
    kappa over all coders when there are two or more; Cohen's kappa of each coder and of the
    majority label against the judge when `judge` is given.

    Args:
        ratings: one row per example, one column per coder (`ratings_matrix`).
        judge: the judge's label per example (index: example_id); None to leave it out.

    Returns:
        Columns statistic (cohen_kappa, krippendorff_alpha, fleiss_kappa), rater_a, rater_b,
        value (NaN when undefined), n (examples the statistic is computed over).
    """
    rows: list[dict[str, object]] = []
    for pair in pairwise_kappa(ratings).to_dict("records"):
        rows.append(
            {
                "statistic": "cohen_kappa",
                "rater_a": str(pair["rater_a"]),
                "rater_b": str(pair["rater_b"]),
                "value": pair["kappa"],
                "n": int(pair["n"]),
            }
        )
    if ratings.shape[1] >= 2:
        n_multi = int((ratings.notna().sum(axis=1) >= 2).sum())
        for statistic, value in (
            ("krippendorff_alpha", krippendorff_alpha(ratings, level="nominal")),
            ("fleiss_kappa", fleiss_kappa(ratings)),
        ):
            rows.append(
                {
                    "statistic": statistic,
                    "rater_a": ALL_CODERS,
                    "rater_b": "",
                    "value": value,
                    "n": n_multi,
                }
            )
    if judge is not None:
        rows.extend(_against_judge(ratings, judge))
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def _against_judge(ratings: pd.DataFrame, judge: pd.Series) -> list[dict[str, object]]:
    judged = judge.dropna()
    raters = {str(c): ratings[c] for c in ratings.columns}
    if ratings.shape[1] >= 2:
        raters[MAJORITY] = majority_vote(ratings)
    rows: list[dict[str, object]] = []
    for name, labels in raters.items():
        both = pd.concat([labels.rename("a"), judged.rename("b")], axis=1, join="inner").dropna()
        rows.append(
            {
                "statistic": "cohen_kappa",
                "rater_a": name,
                "rater_b": JUDGE,
                "value": cohen_kappa(both["a"], both["b"]),
                "n": len(both),
            }
        )
    return rows


def headline_agreement(agreement: pd.DataFrame, n_coders: int) -> tuple[str, float] | None:
    """The one agreement figure to show among people: Cohen's kappa for two, alpha for more."""
    if n_coders < 2 or agreement.empty:
        return None
    if n_coders == 2:
        found = agreement[
            (agreement["statistic"] == "cohen_kappa") & (agreement["rater_b"] != JUDGE)
        ]
        name = "cohen_kappa"
    else:
        found = agreement[agreement["statistic"] == "krippendorff_alpha"]
        name = "krippendorff_alpha"
    if found.empty:
        return None
    return name, float(found["value"].iloc[0])


def harm_counts(
    examples: pd.DataFrame,
    labels: pd.Series,
    levels: Mapping[str, str],
    *,
    source: str,
    order: Sequence[str] = (),
) -> pd.DataFrame:
    """How many examples got each label, overall and by model, country, topic and direction.

    Args:
        examples: the examples table (example_id and the columns of `COUNT_DIMENSIONS`).
        labels: one label per example (index: example_id); examples without one are left out.
        levels: label -> its level (`none` -> `none`).
        source: whose labels these are (`judge`, `people`), written in the `source` column.
        order: labels in display order (the taxonomy's); others follow alphabetically.

    Returns:
        Columns source, by (a dimension), group (e.g. the country; "" for `all`), unit (`type`
        for a label, `level` for a level's total), key (the label or level), level, n, share
        (n over the coded examples of the group). Every label of `order` appears in each group,
        with n = 0 when no example got it.
    """
    labelled = examples.assign(
        _label=examples["example_id"].astype(str).map(labels.dropna().astype(str))
    )
    labelled = labelled[labelled["_label"].notna()]
    keys = list(dict.fromkeys([*order, *sorted(set(labelled["_label"]) - set(order))]))
    rows: list[dict[str, object]] = []
    for by in COUNT_DIMENSIONS:
        if by != "all" and by not in labelled.columns:
            continue
        groups = [("", labelled)] if by == "all" else _groups(labelled, by)
        for group, part in groups:
            rows.extend(_group_counts(part, keys, levels, source, by, group))
    return pd.DataFrame(rows, columns=COUNT_COLUMNS)


def _groups(labelled: pd.DataFrame, by: str) -> list[tuple[str, pd.DataFrame]]:
    names = labelled[by].fillna("").astype(str)
    return [(name, labelled[names == name]) for name in dict.fromkeys(names)]


def _group_counts(
    part: pd.DataFrame,
    keys: Sequence[str],
    levels: Mapping[str, str],
    source: str,
    by: str,
    group: str,
) -> list[dict[str, object]]:
    found = part["_label"].value_counts()
    total = len(part)

    def row(unit: str, key: str, level: str, n: int) -> dict[str, object]:
        share = n / total if total else math.nan
        return {
            "source": source,
            "by": by,
            "group": group,
            "unit": unit,
            "key": key,
            "level": level,
            "n": n,
            "share": share,
        }

    rows = [row("type", k, levels.get(k, ""), int(found.get(k, 0))) for k in keys]
    level_totals: dict[str, int] = {}
    for key in keys:
        level = levels.get(key, "")
        level_totals[level] = level_totals.get(level, 0) + int(found.get(key, 0))
    rows.extend(row("level", level, level, n) for level, n in level_totals.items())
    return rows


def count_matrix(
    counts: pd.DataFrame, by: str, *, source: str, keys: Sequence[str]
) -> pd.DataFrame:
    """Counts of one source as a group x label matrix (e.g. country x risk type), zeros filled."""
    part = counts[(counts["source"] == source) & (counts["by"] == by) & (counts["unit"] == "type")]
    wide = part.pivot_table(index="group", columns="key", values="n", aggfunc="sum", sort=False)
    return wide.reindex(columns=list(keys)).fillna(0).astype(int)
