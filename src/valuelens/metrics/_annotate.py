"""VIA quality control: per-criterion rates, agreement between annotators, disagreements.

Inputs are two tidy tables:

* `ratings`: one row per (item_id, annotator, criterion) with `rating` 1.0 (yes) or 0.0 (no);
  a criterion an annotator left blank has no row. A judge model is one more annotator.
* `items`: one row per item_id with its `country`, `topic`, `value`, `polarity` and the
  generation prompt `variant` (missing for files that do not record it).

Per group (all items, each country, each variant) and criterion, `quality_table` gives:

* `rate`: the share of items whose majority vote is yes, over the items with a majority (a tie
  has none); `rating_rate`: the share of yes among all ratings.
* `kappa`: Cohen's kappa when the group's items were rated by exactly two annotators, Fleiss'
  kappa when by more (`method` says which; NaN with one). `alpha`: Krippendorff's alpha
  (nominal), which also copes with annotators who rated different items. When every rating is
  yes the coefficients are 1.0 (see `valuelens.metrics._agreement`).
* `n_disagree`: items on which the annotators did not all agree (`disagreements` lists them).

`judge_agreement` compares a judge's verdicts with the people's majority the same way, and
`variant_comparison` lays the eight generation variants side by side (the paper's Tables 9-10).

Example:
    >>> import pandas as pd
    >>> ratings = pd.DataFrame({"item_id": ["a", "a", "b", "b"], "annotator": ["p", "q"] * 2,
    ...                         "criterion": "correct", "rating": [1.0, 1.0, 1.0, 0.0]})
    >>> items = pd.DataFrame({"item_id": ["a", "b"], "country": "Canada", "variant": 5})
    >>> table = quality_table(ratings, items, axes=())
    >>> table[["criterion", "rating_rate", "n_disagree", "method"]].to_dict("records")
    [{'criterion': 'correct', 'rating_rate': 0.75, 'n_disagree': 1, 'method': 'cohen'}]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from valuelens.metrics._agreement import (
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    majority_vote,
)
from valuelens.tasks._annotate import CRITERIA

ALL = "all"
"""The group name of the row over every item."""
AXES: tuple[str, ...] = ("country", "variant")
"""The groupings `quality_table` adds after the overall row: by country, by generation variant."""
RATING_COLUMNS = ["item_id", "annotator", "criterion", "rating"]
QUALITY_COLUMNS = [
    "axis",
    "group",
    "criterion",
    "n_items",
    "n_raters",
    "n_ratings",
    "rate",
    "rating_rate",
    "method",
    "kappa",
    "alpha",
    "n_disagree",
]
JUDGE_COLUMNS = [
    "axis",
    "group",
    "criterion",
    "n",
    "kappa",
    "accuracy",
    "judge_rate",
    "people_rate",
]
PUBLISHED_KAPPA = 0.7073
"""Cohen's kappa the paper reports between its annotators for the chosen generation prompt."""


def rating_matrix(ratings: pd.DataFrame, criterion: str) -> pd.DataFrame:
    """Items x annotators for one criterion: 1.0 yes, 0.0 no, NaN not rated.

    Annotators appear in the order they first appear in `ratings`; items in sorted order.
    """
    rows = ratings[ratings["criterion"] == criterion]
    annotators = list(dict.fromkeys(rows["annotator"]))
    matrix = rows.pivot_table(
        index="item_id", columns="annotator", values="rating", aggfunc="first"
    )
    return matrix.reindex(columns=annotators).rename_axis(index="item_id", columns=None)


def criterion_scores(matrix: pd.DataFrame) -> dict[str, float | str]:
    """Rates and agreement of one criterion over the items of `matrix` (see the module notes)."""
    matrix = matrix.loc[:, matrix.notna().any()]
    raters = list(matrix.columns)
    votes = pd.to_numeric(majority_vote(matrix), errors="coerce")
    ratings = pd.Series(matrix.stack(future_stack=True)).dropna()
    per_item = matrix.notna().sum(axis=1)
    mixed = (matrix.max(axis=1) != matrix.min(axis=1)) & (per_item >= 2)
    kappa, method = math.nan, "none"
    if len(raters) == 2:
        kappa, method = cohen_kappa(matrix[raters[0]], matrix[raters[1]]), "cohen"
    elif len(raters) > 2:
        kappa, method = fleiss_kappa(matrix), "fleiss"
    return {
        "n_items": int((per_item > 0).sum()),
        "n_raters": len(raters),
        "n_ratings": len(ratings),
        "rate": float(votes.mean()) if votes.notna().any() else math.nan,
        "rating_rate": float(ratings.mean()) if len(ratings) else math.nan,
        "method": method,
        "kappa": kappa,
        "alpha": krippendorff_alpha(matrix) if len(raters) >= 2 else math.nan,
        "n_disagree": int(mixed.sum()),
    }


def _groups(items: pd.DataFrame, axes: Sequence[str]) -> list[tuple[str, str, pd.Index]]:
    """(axis, group, item ids): every item, then each value of each axis the items record."""
    groups = [(ALL, ALL, pd.Index(items["item_id"]))]
    for axis in axes:
        if axis not in items or items[axis].isna().all():
            continue
        for name, part in items.dropna(subset=[axis]).groupby(axis, sort=True):
            groups.append((axis, _group_name(name), pd.Index(part["item_id"])))
    return groups


def _group_name(name: object) -> str:
    if isinstance(name, float) and name.is_integer():
        return str(int(name))
    return str(name)


def quality_table(
    ratings: pd.DataFrame, items: pd.DataFrame, *, axes: Sequence[str] = AXES
) -> pd.DataFrame:
    """Rates and agreement per group and criterion (columns `QUALITY_COLUMNS`).

    Args:
        ratings: the long ratings table (`RATING_COLUMNS`).
        items: the items with their country, variant, ... (`item_id` is the key).
        axes: the item columns to group by, after the overall row.
    """
    criteria = [c for c in CRITERIA if c in set(ratings["criterion"])]
    matrices = {c: rating_matrix(ratings, c) for c in criteria}
    rows = []
    for axis, group, ids in _groups(items, axes):
        for criterion in criteria:
            matrix = matrices[criterion]
            scores = criterion_scores(matrix[matrix.index.isin(ids)])
            rows.append({"axis": axis, "group": group, "criterion": criterion, **scores})
    return pd.DataFrame(rows, columns=QUALITY_COLUMNS)


def disagreements(ratings: pd.DataFrame) -> pd.DataFrame:
    """The (item, criterion) pairs on which the annotators did not all agree.

    Returns:
        Columns item_id, criterion, n_yes, n_no, annotators_yes, annotators_no (comma-separated),
        in item then criterion order.
    """
    rows = []
    order = {c: i for i, c in enumerate(CRITERIA)}
    for (item_id, criterion), part in ratings.groupby(["item_id", "criterion"], sort=False):
        yes = part.loc[part["rating"] == 1.0, "annotator"].astype(str).tolist()
        no = part.loc[part["rating"] == 0.0, "annotator"].astype(str).tolist()
        if yes and no:
            rows.append(
                {
                    "item_id": item_id,
                    "criterion": criterion,
                    "n_yes": len(yes),
                    "n_no": len(no),
                    "annotators_yes": ", ".join(yes),
                    "annotators_no": ", ".join(no),
                }
            )
    columns = ["item_id", "criterion", "n_yes", "n_no", "annotators_yes", "annotators_no"]
    flagged = pd.DataFrame(rows, columns=columns)
    rank = flagged["criterion"].map(lambda c: order.get(c, len(order)))
    return (
        flagged.assign(_rank=rank)
        .sort_values(["item_id", "_rank"], kind="stable")
        .drop(columns="_rank")
        .reset_index(drop=True)
    )


def majority_votes(ratings: pd.DataFrame) -> pd.DataFrame:
    """One row per item, one column per criterion: the majority vote (1.0, 0.0, NaN on a tie)."""
    votes = pd.DataFrame(index=pd.Index(sorted(set(ratings["item_id"])), name="item_id"))
    for criterion in CRITERIA:
        matrix = rating_matrix(ratings, criterion)
        votes[criterion] = pd.to_numeric(majority_vote(matrix), errors="coerce")
    return votes.reset_index()


def judge_agreement(
    judge: pd.DataFrame,
    ratings: pd.DataFrame,
    items: pd.DataFrame,
    *,
    axes: Sequence[str] = AXES,
) -> pd.DataFrame:
    """A judge's verdicts against the people's majority vote, per group and criterion.

    Args:
        judge: the judge's long ratings (`RATING_COLUMNS`; one annotator).
        ratings: the people's long ratings.
        items: the items with their country, variant, ...
        axes: the item columns to group by, after the overall row.

    Returns:
        Columns `JUDGE_COLUMNS`: over the items both rated (and where people have a majority),
        Cohen's kappa and accuracy of the judge against the people, and each side's yes rate.
    """
    people = majority_votes(ratings).set_index("item_id")
    verdicts = majority_votes(judge).set_index("item_id")
    rows = []
    for axis, group, ids in _groups(items, axes):
        for criterion in CRITERIA:
            pair = pd.concat(
                [verdicts[criterion].rename("judge"), people[criterion].rename("people")], axis=1
            )
            pair = pair[pair.index.isin(ids)].dropna()
            rows.append(
                {
                    "axis": axis,
                    "group": group,
                    "criterion": criterion,
                    "n": len(pair),
                    "kappa": cohen_kappa(pair["judge"], pair["people"]),
                    "accuracy": float((pair["judge"] == pair["people"]).mean())
                    if len(pair)
                    else math.nan,
                    "judge_rate": float(pair["judge"].mean()) if len(pair) else math.nan,
                    "people_rate": float(pair["people"].mean()) if len(pair) else math.nan,
                }
            )
    return pd.DataFrame(rows, columns=JUDGE_COLUMNS)


def variant_comparison(table: pd.DataFrame) -> pd.DataFrame:
    """The generation variants side by side: one row per variant, rate and kappa per criterion.

    Args:
        table: a `quality_table` (its `variant` rows are used).

    Returns:
        Columns variant, n_items, then `<criterion>_rate` and `<criterion>_kappa` for each
        criterion; variants in numeric order. Empty when the items record no variant.
    """
    rows = table[table["axis"] == "variant"]
    out: list[dict[str, object]] = []
    for group, part in rows.groupby("group", sort=False):
        entry: dict[str, object] = {"variant": group, "n_items": int(part["n_items"].max())}
        for record in part.to_dict("records"):
            entry[f"{record['criterion']}_rate"] = record["rate"]
            entry[f"{record['criterion']}_kappa"] = record["kappa"]
        out.append(entry)
    columns = ["variant", "n_items"] + [f"{c}_{m}" for c in CRITERIA for m in ("rate", "kappa")]
    frame = pd.DataFrame(out).reindex(columns=columns)
    key = pd.to_numeric(frame["variant"], errors="coerce")
    return frame.assign(_key=key).sort_values("_key").drop(columns="_key").reset_index(drop=True)
