"""Alignment measures as pure functions over DataFrames (no I/O).

ValueActionLens: `score_value_action` compares a model's stated values with its actions.
ValueCompass: `compass_score` compares one model's value ratings with people's survey answers
(`human_cell_means` and `model_cell_means` put both on the same 1..4 scale per cell).
Predicting gaps from explanations: `prediction_scores` gives an observer's F1 and accuracy.

Example:
    >>> import pandas as pd
    >>> from valuelens.metrics import scores_by_group
    >>> df = pd.DataFrame({"s": ["a"] * 4, "t": [1, 1, 0, 0], "p": [1, 0, 0, 0]})
    >>> scores_by_group(df, ["s"], "t", "p")[["f1", "accuracy"]].round(3).values.tolist()
    [[0.667, 0.75]]
"""

from valuelens.metrics._agreement import (
    category_counts,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    majority_vote,
    pairwise_kappa,
)
from valuelens.metrics._alignment import (
    THRESHOLD,
    abs_distance_matrix,
    agreement_shares,
    binarize,
    bootstrap_ci,
    bootstrap_distance_ci,
    bootstrap_ratio_ci,
    distance_matrix,
    prompt_agreement,
    rank_items,
    resample_weights,
    scores_by_group,
)
from valuelens.metrics._compass import (
    HUMAN_TO_LIKERT,
    NEUTRAL_LIKERT,
    CompassResult,
    compass_score,
    human_cell_means,
    model_cell_means,
)
from valuelens.metrics._language import (
    LANGUAGE_GAP_COLUMNS,
    LanguageGap,
    language_gap,
    language_pairs,
)
from valuelens.metrics._measures import (
    Measure,
    Summary,
    format_number,
    headline_measures,
    measure,
    measures,
    register_measure,
    unregister_measure,
)
from valuelens.metrics._paired import (
    PAIRED_MEASURES,
    PairedDifference,
    PairedTest,
    paired_test,
)
from valuelens.metrics._predict import SCORE_COLUMNS, prediction_scores
from valuelens.metrics._value_action import (
    ActionScope,
    ValueActionResult,
    build_pairs,
    first_option_rate,
    score_pairs,
    score_value_action,
    variant_scores,
)

__all__ = [
    "HUMAN_TO_LIKERT",
    "LANGUAGE_GAP_COLUMNS",
    "NEUTRAL_LIKERT",
    "PAIRED_MEASURES",
    "SCORE_COLUMNS",
    "THRESHOLD",
    "ActionScope",
    "CompassResult",
    "LanguageGap",
    "Measure",
    "PairedDifference",
    "PairedTest",
    "Summary",
    "ValueActionResult",
    "abs_distance_matrix",
    "agreement_shares",
    "binarize",
    "bootstrap_ci",
    "bootstrap_distance_ci",
    "bootstrap_ratio_ci",
    "build_pairs",
    "category_counts",
    "cohen_kappa",
    "compass_score",
    "distance_matrix",
    "first_option_rate",
    "fleiss_kappa",
    "format_number",
    "headline_measures",
    "human_cell_means",
    "krippendorff_alpha",
    "language_gap",
    "language_pairs",
    "majority_vote",
    "measure",
    "measures",
    "model_cell_means",
    "paired_test",
    "pairwise_kappa",
    "prediction_scores",
    "prompt_agreement",
    "rank_items",
    "register_measure",
    "resample_weights",
    "score_pairs",
    "score_value_action",
    "scores_by_group",
    "unregister_measure",
    "variant_scores",
]
