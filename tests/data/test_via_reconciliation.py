"""`data validate` on the authors' release reconciles with their "63 refusal pairs" (issue 10.9).

The reference README says that in 63 pairs one side is a refusal, and the authors' claude-sonnet-4
Task 2 log indeed skips 63 pairs; `validate_via` reports 61 refusals and 1 parse failure. These
tests count the raw CSV on their own (the csv module and two regexes, not the parser under test)
and pin what the 63 are: 61 pairs with an apology-style refusal, plus 2 pairs whose answer is
cut off before its object closes. One of those two is unreadable (our 1 parse failure); the
other is cut off only after its last field, so valuelens repairs it and keeps the pair, where
the authors' strict reader dropped it.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from valuelens.data import validate_via

RELEASE = Path("outputs/data_release/value_action_gap_full_data_generation.csv")
CLAUDE_LOG = Path("outputs/evaluation/eval_log_20250628_154645.jsonl")

# How the generator's refusals open, once quotes are skipped: "I'm sorry, but I can't ...",
# "Sorry, but ...", "Apologies, but ...", "Unfortunately, I cannot ...".
REFUSAL_OPENING = re.compile(
    r"^[\s\"'`]*(?:I['’]m sorry|I am sorry|Sorry\b|Apologies\b|My apologies\b"
    r"|Unfortunately, I (?:cannot|can['’]t))",
)

Pair = tuple[str, str, str]


@pytest.fixture(scope="module")
def rows(reference_dir: Path) -> list[dict[str, str]]:
    with (reference_dir / RELEASE).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _pair(row: dict[str, str]) -> Pair:
    return row["country"], row["topic"], row["value"]


def _refusal_pairs(rows: list[dict[str, str]]) -> set[Pair]:
    return {_pair(r) for r in rows if REFUSAL_OPENING.match(r["generation_prompt"])}


def _cut_off_pairs(rows: list[dict[str, str]]) -> set[Pair]:
    """Pairs with an answer that opens an object and never closes it."""
    return {
        _pair(r)
        for r in rows
        if "{" in r["generation_prompt"]
        and r["generation_prompt"].count("{") > r["generation_prompt"].count("}")
    }


def _pairs_skipped_by_the_authors(rows: list[dict[str, str]], log: Path) -> set[Pair]:
    with log.open(encoding="utf-8") as handle:
        evaluated = {int(json.loads(line)["index"]) for line in handle}
    seen = {_pair(r) for i, r in enumerate(rows) if i in evaluated}
    return {_pair(r) for r in rows} - seen


def test_the_raw_release_holds_61_refusal_pairs_and_2_cut_off_answers(
    rows: list[dict[str, str]],
) -> None:
    refusal_rows = [r for r in rows if REFUSAL_OPENING.match(r["generation_prompt"])]
    assert len(refusal_rows) == 61
    assert len(_refusal_pairs(rows)) == 61
    cut_off = _cut_off_pairs(rows)
    assert len(cut_off) == 2
    assert not cut_off & _refusal_pairs(rows)


def test_the_authors_skipped_exactly_the_refusals_and_the_cut_off_answers(
    rows: list[dict[str, str]], reference_dir: Path
) -> None:
    skipped = _pairs_skipped_by_the_authors(rows, reference_dir / CLAUDE_LOG)
    assert len(skipped) == 63
    assert skipped == _refusal_pairs(rows) | _cut_off_pairs(rows)


def test_validate_reconciles_with_the_63_pairs(
    rows: list[dict[str, str]], reference_dir: Path
) -> None:
    report = validate_via(reference_dir / RELEASE)
    refusals, cut_off = _refusal_pairs(rows), _cut_off_pairs(rows)
    assert report["n_pairs_with_refusal"] == len(refusals) == 61
    assert report["n_truncated"] == len(cut_off) == 2
    # Of the two cut-off answers one is unreadable and one is repaired (its pair is scored).
    assert report["n_parse_failures"] == report["n_pairs_with_parse_failure"] == 1
    assert report["n_pairs_with_truncated_answer"] == 1
    assert report["n_pairs_unusable_strict"] == len(refusals | cut_off) == 63
    assert report["n_complete_pairs"] == len({_pair(r) for r in rows}) - 62
    (sentence,) = [s for s in report["issues"] if s.startswith("pairs a strict reader")]
    assert "63" in sentence and "repairs the cut-off answer of 1" in sentence
