"""Scores of the explanation-based action prediction: binary F1 (positive = True) and accuracy."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from valuelens._errors import ValuelensError

SCORE_COLUMNS = [
    "n",
    "n_scored",
    "n_unparsed",
    "f1",
    "accuracy",
    "precision",
    "recall",
    "predicted_true_rate",
]
_GROUP_ORDER = ("target", "observer", "setting")


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def _scores(label: pd.Series, predicted: pd.Series) -> dict[str, float | int]:
    scored = predicted.notna() & label.notna()
    truth = label[scored].astype(bool)
    guess = predicted[scored].astype(bool)
    tp = int((truth & guess).sum())
    fp = int((~truth & guess).sum())
    fn = int((truth & ~guess).sum())
    n_scored = int(scored.sum())
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    return {
        "n": len(label),
        "n_scored": n_scored,
        "n_unparsed": int(predicted.isna().sum()),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "accuracy": _ratio(int((truth == guess).sum()), n_scored),
        "precision": precision,
        "recall": recall,
        "predicted_true_rate": _ratio(int(guess.sum()), n_scored),
    }


def prediction_scores(frame: pd.DataFrame, by: Sequence[str] | None = None) -> pd.DataFrame:
    """F1 (positive class True, 0 when undefined) and accuracy per group of predictions.

    Rows whose prediction could not be read (`predicted` missing) are left out of every score
    and counted in `n_unparsed`; `n` counts all rows, `n_scored` the scored ones.

    Args:
        frame: columns `label` and `predicted` (booleans; missing allowed), and the grouping
            columns.
        by: grouping columns; default: those of `target`, `observer`, `setting` present.

    Returns:
        One row per group: the grouping columns, then n, n_scored, n_unparsed, f1, accuracy,
        precision, recall and predicted_true_rate (share of scored predictions that are True).

    Raises:
        ValuelensError: a needed column is missing.
    """
    groups = list(by) if by is not None else [c for c in _GROUP_ORDER if c in frame.columns]
    missing = [c for c in ("label", "predicted", *groups) if c not in frame.columns]
    if missing:
        raise ValuelensError(f"the predictions table lacks column(s) {', '.join(missing)}")
    label = frame["label"].astype(object).where(frame["label"].notna(), None)
    predicted = frame["predicted"].astype(object).where(frame["predicted"].notna(), None)
    data = frame[groups].assign(label=label, predicted=predicted)
    if not groups:
        return pd.DataFrame([_scores(data["label"], data["predicted"])], columns=SCORE_COLUMNS)
    rows = []
    for key, part in data.groupby(groups, sort=False, dropna=False):
        keys = key if isinstance(key, tuple) else (key,)
        rows.append(
            {**dict(zip(groups, keys, strict=True)), **_scores(part["label"], part["predicted"])}
        )
    return pd.DataFrame(rows, columns=[*groups, *SCORE_COLUMNS])
