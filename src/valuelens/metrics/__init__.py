"""Alignment measures as pure functions over DataFrames (no I/O).

Example:
    >>> import pandas as pd
    >>> from valuelens.metrics import scores_by_group
    >>> df = pd.DataFrame({"s": ["a"] * 4, "t": [1, 1, 0, 0], "p": [1, 0, 0, 0]})
    >>> scores_by_group(df, ["s"], "t", "p")[["f1", "accuracy"]].round(3).values.tolist()
    [[0.667, 0.75]]
"""

from valuelens.metrics._alignment import (
    THRESHOLD,
    binarize,
    bootstrap_ci,
    distance_matrix,
    prompt_agreement,
    rank_items,
    scores_by_group,
)
from valuelens.metrics._value_action import (
    ValueActionResult,
    build_pairs,
    score_value_action,
    variant_scores,
)

__all__ = [
    "THRESHOLD",
    "ValueActionResult",
    "binarize",
    "bootstrap_ci",
    "build_pairs",
    "distance_matrix",
    "prompt_agreement",
    "rank_items",
    "score_value_action",
    "scores_by_group",
    "variant_scores",
]
