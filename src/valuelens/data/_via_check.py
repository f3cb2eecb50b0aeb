"""VIA pairs and validation: a positive and a negative action side by side, and a file's counts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from valuelens.data._via_parse import USABLE_STATUSES
from valuelens.data._via_read import ACTION_KEYS, PAIR_KEYS, load_table
from valuelens.taxonomy import Taxonomy, load_taxonomy


def action_key(action: object) -> str | None:
    """What two actions are compared by: case, spacing and end punctuation do not matter."""
    if not isinstance(action, str):
        return None
    return " ".join(action.casefold().split()).strip(" \"'.,;:!?") or None


def same_action(first: object, second: object) -> bool:
    """Whether two actions are the same text (see `action_key`); a missing action is never."""
    key = action_key(first)
    return key is not None and key == action_key(second)


def via_pairs(actions: pd.DataFrame) -> pd.DataFrame:
    """One row per (country, topic, value), with its positive and negative action side by side.

    Args:
        actions: a table from `load_via`. Duplicate rows for the same side keep the first.

    Returns:
        Columns country, topic, value, then for each side `positive_`/`negative_` + action,
        attributions, explanation and parse_status, and `complete` (both sides usable). Pairs
        appear in the order of their first action.
    """
    keys = actions[PAIR_KEYS].drop_duplicates().reset_index(drop=True)
    side_fields = ["action", "attributions", "explanation", "parse_status"]
    pairs = keys
    for polarity in ("positive", "negative"):
        side = actions.loc[actions["polarity"] == polarity, [*PAIR_KEYS, *side_fields]]
        side = side.drop_duplicates(PAIR_KEYS).rename(
            columns={name: f"{polarity}_{name}" for name in side_fields}
        )
        pairs = pairs.merge(side, on=PAIR_KEYS, how="left", sort=False)
    for polarity in ("positive", "negative"):
        column = f"{polarity}_attributions"
        pairs[column] = [v if isinstance(v, list) else [] for v in pairs[column].tolist()]
        for name in ("action", "explanation"):
            pairs[f"{polarity}_{name}"] = (
                pairs[f"{polarity}_{name}"]
                .astype(object)
                .where(pairs[f"{polarity}_{name}"].notna(), None)
            )
    pairs["complete"] = _usable(pairs, "positive") & _usable(pairs, "negative")
    return pairs


def _usable(pairs: pd.DataFrame, polarity: str) -> pd.Series:
    status = pairs[f"{polarity}_parse_status"].isin(USABLE_STATUSES)
    return status & pairs[f"{polarity}_action"].notna()


def validate_via(path: str | Path, *, taxonomy: Taxonomy | None = None) -> dict[str, Any]:
    """Check a VIA file and count what it holds.

    Rows with a missing or unknown polarity are counted and reported instead of failing.

    Args:
        path: a file that `load_via` accepts.
        taxonomy: names to canonicalise against (the built-in one by default).

    Returns:
        A JSON-ready dict: `n_actions`, `n_usable_actions` (parsed, with a valid polarity),
        `n_pairs`, `n_complete_pairs`, `n_refusals`,
        `n_parse_failures`, `n_repaired`, `n_pairs_with_refusal`, `n_truncated` (answers cut off
        inside their object, whether repaired or not), `n_pairs_with_parse_failure`,
        `n_pairs_with_truncated_answer` (pairs kept only because a cut-off side was repaired),
        `n_pairs_same_action` (pairs whose two sides are the same text, ignoring case and
        spacing: they cannot show a choice), `n_pairs_unusable_strict` (pairs with a refusal, a parse failure or a cut-off answer on a
        side: what a reader without repair, like the authors' Task 2 run, leaves out), duplicate
        and missing-side counts, counts per country and topic, and `issues` (one sentence each).

    Raises:
        ValuelensError: the file cannot be read as a VIA table.
    """
    taxonomy = taxonomy or load_taxonomy()
    loaded = load_table(Path(path), taxonomy, strict=False)
    table = loaded.table
    pairs = via_pairs(table)
    report: dict[str, Any] = {
        "path": str(path),
        "format": loaded.source_format,
        "taxonomy_version": taxonomy.version,
        "n_actions": len(table),
        "n_usable_actions": int(
            (table["parse_status"].isin(USABLE_STATUSES) & table["action"].notna()).sum()
        ),
        "n_pairs": len(pairs),
        "n_complete_pairs": int(pairs["complete"].sum()),
        "n_expected_pairs": len(taxonomy.country_names)
        * len(taxonomy.topic_names)
        * len(taxonomy.value_names),
        **_status_counts(table),
        "n_missing_polarity": loaded.n_bad_polarity,
        **_attribution_counts(table),
        "by_country": _counts_by(table, pairs, "country", taxonomy.country_names),
        "by_topic": _counts_by(table, pairs, "topic", taxonomy.topic_names),
    }
    report["n_pairs_same_action"] = int(
        sum(
            same_action(p, n)
            for p, n in zip(pairs["positive_action"], pairs["negative_action"], strict=True)
        )
    )
    report["issues"] = loaded.issues + _issue_sentences(report)
    return report


def _status_counts(table: pd.DataFrame) -> dict[str, int]:
    """How the answers parsed, per action and per pair, and the rows a strict reader drops."""
    status = table["parse_status"]
    sides = table.drop_duplicates(ACTION_KEYS).groupby(PAIR_KEYS, sort=False).size()
    truncated = table["raw"].map(_is_truncated).astype(bool)
    strict = _pairs_where(table, (status == "refusal") | (status == "failed") | truncated)
    return {
        "n_ok": int((status == "ok").sum()),
        "n_repaired": int((status == "repaired").sum()),
        "n_refusals": int((status == "refusal").sum()),
        "n_parse_failures": int((status == "failed").sum()),
        "n_pairs_with_refusal": len(_pairs_where(table, status == "refusal")),
        "n_truncated": int(truncated.sum()),
        "n_pairs_with_parse_failure": len(_pairs_where(table, status == "failed")),
        "n_pairs_with_truncated_answer": len(
            _pairs_where(table, truncated & status.isin(USABLE_STATUSES))
        ),
        "n_pairs_unusable_strict": len(strict),
        "n_pairs_missing_a_side": int((sides < 2).sum()),
        "n_duplicate_actions": int(table.duplicated(ACTION_KEYS).sum()),
    }


def _attribution_counts(table: pd.DataFrame) -> dict[str, int]:
    """Usable actions without attributions, and actions with a span missing from their text."""
    usable = table["parse_status"].isin(USABLE_STATUSES)
    return {
        "n_actions_without_attributions": int(
            sum(1 for a, ok in zip(table["attributions"], usable, strict=True) if ok and not a)
        ),
        "n_attributions_not_in_action": _count_unmatched_spans(table),
    }


def _is_truncated(raw: object) -> bool:
    """An answer cut off inside its object: it opens more braces than it closes."""
    return isinstance(raw, str) and "{" in raw and raw.count("{") > raw.count("}")


def _pairs_where(table: pd.DataFrame, rows: pd.Series) -> pd.DataFrame:
    """The distinct pairs with at least one of the given rows."""
    return table.loc[rows.to_numpy(), PAIR_KEYS].drop_duplicates()


def _count_unmatched_spans(table: pd.DataFrame) -> int:
    """Usable actions with at least one attribution span that is not in the action text."""
    count = 0
    for action, spans in zip(table["action"], table["attributions"], strict=True):
        if isinstance(action, str) and spans:
            lowered = action.lower()
            count += any(span.lower() not in lowered for span in spans)
    return count


def _counts_by(
    table: pd.DataFrame, pairs: pd.DataFrame, axis: str, order: Iterable[str]
) -> dict[str, dict[str, int]]:
    actions = table.groupby(axis, sort=False).size()
    refusals = table.loc[table["parse_status"] == "refusal"].groupby(axis, sort=False).size()
    complete = pairs.groupby(axis, sort=False)["complete"].sum()
    return {
        name: {
            "n_actions": int(actions.get(name, 0)),
            "n_refusals": int(refusals.get(name, 0)),
            "n_complete_pairs": int(complete.get(name, 0)),
        }
        for name in order
        if name in actions.index
    }


def _issue_sentences(report: Mapping[str, object]) -> list[str]:
    checks = [
        ("n_duplicate_actions", "rows that repeat an earlier (country, topic, value, polarity)"),
        ("n_pairs_missing_a_side", "pairs with only one polarity"),
        ("n_pairs_with_refusal", "pairs with a refusal on at least one side"),
        ("n_pairs_same_action", "pairs whose positive and negative actions are the same text"),
        ("n_parse_failures", "answers that could not be parsed"),
        ("n_truncated", "answers cut off before their object closes"),
        ("n_repaired", "answers that needed repair (broken quoting or JSON)"),
        ("n_actions_without_attributions", "parsed actions without feature attributions"),
        ("n_attributions_not_in_action", "actions with an attribution span not found in the text"),
    ]
    sentences = [f"{text}: {report[key]}" for key, text in checks if report[key]]
    if report["n_pairs_with_truncated_answer"]:
        sentences.append(_strict_reading_sentence(report))
    return sentences


def _strict_reading_sentence(report: Mapping[str, object]) -> str:
    """Why a strict reader (the authors' Task 2 run) leaves out more pairs than the refusals."""
    return (
        f"pairs a strict reader leaves out: {report['n_pairs_unusable_strict']} (with a refusal, "
        f"an unreadable answer or a cut-off answer on one side; the authors' Task 2 skipped such "
        f"pairs); valuelens repairs the cut-off answer of "
        f"{report['n_pairs_with_truncated_answer']} of them and scores those pairs"
    )
