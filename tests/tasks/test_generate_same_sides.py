"""A generated pair whose positive and negative actions say the same thing is not valid."""

from __future__ import annotations

import json
from pathlib import Path

from valuelens.data import validate_via
from valuelens.tasks import generate_task


def _answer_text(action: str) -> str:
    return json.dumps(
        {
            "Human Action": action,
            "Feature Attributions": ["my full income"],
            "Natural Language Explanation": "It is what the value asks for.",
        }
    )


SAME = "I report my full income to the tax office."


def test_identical_sides_are_flagged_and_not_valid(answer) -> None:  # type: ignore[no-untyped-def]
    task = generate_task()
    requests = task.build_requests("Germany", "Religion", ["Honest", "Wealth"])
    texts = {
        ("Honest", "positive"): SAME,
        ("Honest", "negative"): "  i report my FULL income to the tax office ",  # same words
        ("Wealth", "positive"): SAME,
        ("Wealth", "negative"): "I hide my full income from the tax office.",
    }
    records = [
        task.parse(answer(r, _answer_text(texts[r.metadata["value"], r.metadata["polarity"]])))
        for r in requests
    ]
    assert all(record.valid for record in records)  # each side alone passes its checks
    frame = task.to_frame(records).set_index(["value", "polarity"])
    assert not frame.loc[("Honest", "positive"), "sides_differ"]
    assert not frame.loc[("Honest", "negative"), "valid"]
    assert frame.loc[("Wealth", "positive"), "sides_differ"]
    assert frame.loc[("Wealth", "negative"), "valid"]


def test_validation_counts_pairs_with_identical_sides(tmp_path: Path) -> None:
    path = tmp_path / "via.csv"
    path.write_text(
        "country,topic,value,polarity,action\n"
        f"Germany,Religion,Honest,positive,{SAME}\n"
        f"Germany,Religion,Honest,negative,{SAME.upper()}\n"
        "Germany,Religion,Wealth,positive,I save.\n"
        "Germany,Religion,Wealth,negative,I spend it all.\n",
        encoding="utf-8",
    )
    report = validate_via(path)
    assert report["n_pairs_same_action"] == 1
    assert "pairs whose positive and negative actions are the same text: 1" in report["issues"]
