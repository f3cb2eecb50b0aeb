"""Agreement between raters (people or a judge model): Cohen's and Fleiss' kappa, Krippendorff's alpha.

Thin wrappers over scikit-learn (`cohen_kappa_score`), statsmodels (`fleiss_kappa`) and the
`krippendorff` package, with the cases those libraries leave undefined decided once:

* **Layout**: `ratings` is a DataFrame with one row per item and one column per rater; a missing
  rating is NaN/None. Ratings are categories (strings, booleans or numbers).
* **Too little data**: a coefficient needs at least two items rated by two raters (for Cohen's
  kappa: two items both raters rated). With less it is NaN. Items with fewer than two ratings
  carry no information on agreement and are dropped first.
* **One class only**: when every remaining rating is the same category, chance agreement is 1
  and every coefficient is 0/0 (scikit-learn returns NaN with a warning, statsmodels divides by
  zero, `krippendorff` raises). We report **1.0**: the raters agreed on every item, and that is
  what a reader of an annotation table expects to see; it is also the limit of the coefficient
  as a single dissenting rating among many becomes rarer. A NaN would make a perfectly
  consistent criterion look like a failure in a per-country table.
* **Missing ratings in Fleiss' kappa**: statsmodels requires the same number of ratings per
  item. When the numbers differ, each item's agreement is the share of agreeing pairs among its
  own ratings and chance agreement uses the pooled category shares (the usual generalisation);
  with equal numbers this is exactly Fleiss (1971) and the statsmodels result is returned.
  Krippendorff's alpha is the coefficient designed for missing data.

Example:
    >>> import pandas as pd
    >>> sheet = pd.DataFrame({"ann1": ["yes", "yes", "no", "no"], "ann2": ["yes", "no", "no", "no"]})
    >>> round(cohen_kappa(sheet["ann1"], sheet["ann2"]), 3)
    0.5
    >>> majority_vote(sheet.assign(ann3=["yes", "no", "yes", "no"])).tolist()
    ['yes', 'no', 'no', 'no']
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Literal

import krippendorff
import numpy as np
import pandas as pd

from valuelens._errors import ValuelensError

AlphaLevel = Literal["nominal", "ordinal", "interval", "ratio"]
KappaWeights = Literal["linear", "quadratic"]
PAIRWISE_COLUMNS = ["rater_a", "rater_b", "kappa", "n"]
_ALPHA_LEVELS: tuple[str, ...] = ("nominal", "ordinal", "interval", "ratio")


def _as_series(values: pd.Series | Sequence[object]) -> pd.Series:
    return values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)


def _rated_items(ratings: pd.DataFrame) -> pd.DataFrame:
    """The items with at least two ratings (the only ones that say anything about agreement)."""
    return ratings[ratings.notna().sum(axis=1) >= 2]


def _all_ratings(ratings: pd.DataFrame) -> pd.Series:
    """Every rating given, as one Series on an (item, rater) index."""
    return pd.Series(ratings.stack(future_stack=True)).dropna()


def _single_class(values: pd.Series) -> bool:
    return values.dropna().nunique() == 1


def cohen_kappa(
    a: pd.Series | Sequence[object],
    b: pd.Series | Sequence[object],
    *,
    weights: KappaWeights | None = None,
) -> float:
    """Cohen's kappa between two raters over the items both of them rated.

    Args:
        a: The first rater's ratings. Two Series are aligned on their index; plain sequences by
            position (they must then have the same length).
        b: The second rater's ratings.
        weights: None for nominal categories; "linear" or "quadratic" for ordered numeric ones.

    Returns:
        Kappa in [-1, 1]; NaN with fewer than two items rated by both; 1.0 when both raters gave
        the same single category to every item (see the module notes).

    Raises:
        ValuelensError: Two plain sequences of different lengths.
    """
    if not (isinstance(a, pd.Series) and isinstance(b, pd.Series)) and len(a) != len(b):
        raise ValuelensError(f"cohen_kappa: the raters have {len(a)} and {len(b)} ratings")
    first, second = _as_series(a), _as_series(b)
    if not (isinstance(a, pd.Series) and isinstance(b, pd.Series)):
        second.index = first.index
    pairs = pd.concat([first.rename("a"), second.rename("b")], axis=1).dropna()
    if len(pairs) < 2:
        return math.nan
    if _single_class(pd.concat([pairs["a"], pairs["b"]])):
        return 1.0
    # Imported here: scikit-learn costs seconds at import, and most runs never compute a kappa.
    from sklearn.metrics import cohen_kappa_score

    return float(cohen_kappa_score(pairs["a"].tolist(), pairs["b"].tolist(), weights=weights))


def category_counts(ratings: pd.DataFrame) -> pd.DataFrame:
    """How many raters gave each category to each item (rows = items, columns = categories).

    Args:
        ratings: One row per item, one column per rater, NaN where a rater gave no rating.

    Returns:
        The count table Fleiss' kappa is computed from; items without ratings are left out.
    """
    long = _all_ratings(ratings)
    if long.empty:
        return pd.DataFrame(index=ratings.index[:0])
    items = long.index.get_level_values(0)
    return pd.crosstab(items, long.to_numpy()).rename_axis(index=None, columns=None)


def _fleiss_from_counts(counts: pd.DataFrame) -> float:
    table = counts.to_numpy(dtype=float)
    per_item = table.sum(axis=1)
    if np.all(per_item == per_item[0]):
        from statsmodels.stats.inter_rater import fleiss_kappa  # type: ignore[import-untyped]

        return float(fleiss_kappa(table, method="fleiss"))
    item_agreement = (table * (table - 1)).sum(axis=1) / (per_item * (per_item - 1))
    shares = table.sum(axis=0) / table.sum()
    expected = float((shares**2).sum())
    return (float(item_agreement.mean()) - expected) / (1 - expected)


def fleiss_kappa(ratings: pd.DataFrame) -> float:
    """Fleiss' kappa among any number of raters, allowing missing ratings.

    Args:
        ratings: One row per item, one column per rater, NaN where a rater gave no rating.
            Items with fewer than two ratings are dropped.

    Returns:
        Kappa; NaN with fewer than two items left; 1.0 when every rating is the same category.
    """
    rated = _rated_items(ratings)
    if len(rated) < 2:
        return math.nan
    counts = category_counts(rated)
    if counts.shape[1] == 1:
        return 1.0
    return _fleiss_from_counts(counts)


def _alpha_data(rated: pd.DataFrame, level: str) -> np.ndarray:
    """Raters x items as floats (NaN = missing), as the `krippendorff` package reads them."""
    values = _all_ratings(rated)
    if level == "nominal":
        codes = {category: float(code) for code, category in enumerate(values.unique())}
        coded: np.ndarray = rated.apply(lambda column: column.map(codes)).T.to_numpy(dtype=float)
        return coded
    if not all(isinstance(value, int | float | np.number) for value in values):
        raise ValuelensError(
            f"krippendorff_alpha: level {level!r} needs numeric ratings; "
            "use level='nominal' for categories"
        )
    return rated.T.to_numpy(dtype=float)


def krippendorff_alpha(ratings: pd.DataFrame, level: AlphaLevel = "nominal") -> float:
    """Krippendorff's alpha among any number of raters, with missing ratings.

    Args:
        ratings: One row per item, one column per rater, NaN where a rater gave no rating.
        level: "nominal" for categories; "ordinal", "interval" or "ratio" for numbers.

    Returns:
        Alpha; NaN with fewer than two items rated twice; 1.0 when every pairable rating is
        the same value.

    Raises:
        ValuelensError: An unknown level, or non-numeric ratings at a numeric level.
    """
    if level not in _ALPHA_LEVELS:
        raise ValuelensError(
            f"krippendorff_alpha: unknown level {level!r} (accepted: {', '.join(_ALPHA_LEVELS)})"
        )
    rated = _rated_items(ratings)
    if len(rated) < 2:
        return math.nan
    if _single_class(_all_ratings(rated)):
        return 1.0
    data = _alpha_data(rated, level)
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))


def majority_vote(ratings: pd.DataFrame) -> pd.Series:
    """The most frequent rating of each item; NaN on a tie or when nobody rated it.

    Args:
        ratings: One row per item, one column per rater, NaN where a rater gave no rating.

    Returns:
        A Series on the items' index (object dtype, so categories keep their type).
    """
    winners: list[object] = []
    for _, row in ratings.iterrows():
        counts = row.dropna().value_counts()
        clear = len(counts) == 1 or (len(counts) > 1 and counts.iloc[0] > counts.iloc[1])
        winners.append(counts.index[0] if clear else math.nan)
    return pd.Series(winners, index=ratings.index, dtype=object)


def pairwise_kappa(ratings: pd.DataFrame) -> pd.DataFrame:
    """Cohen's kappa for every pair of raters (columns), over the items both rated.

    Args:
        ratings: One row per item, one column per rater, NaN where a rater gave no rating.

    Returns:
        Columns rater_a, rater_b, kappa, n (the items both rated), one row per pair in column
        order; empty with fewer than two raters.
    """
    rows = []
    for first, second in itertools.combinations(ratings.columns, 2):
        both = ratings[[first, second]].dropna()
        kappa = cohen_kappa(both[first], both[second])
        rows.append({"rater_a": first, "rater_b": second, "kappa": kappa, "n": len(both)})
    return pd.DataFrame(rows, columns=PAIRWISE_COLUMNS).astype({"n": int})
