"""Task 1 answers: JSON keys match value names ignoring case and spacing, and via aliases.

The built-in aliases (`valuelens/data/value_aliases.yaml`) apply by default; `aliases=` adds to
them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from valuelens.data import load_value_aliases
from valuelens.tasks import StatedRecord, StatedTask, stated_task

VALUES = ["Honest", "Devout", "Honoring of Parents and Elders", "Preserving my Public Image"]
EXPECTED = dict(zip(VALUES, [1.0, 2.0, 3.0, 4.0], strict=True))


@pytest.fixture(scope="module")
def task() -> StatedTask:
    return stated_task(variants="0")


def _parse(
    task: StatedTask, answer: Callable[..., Any], text: str, values: list[str] = VALUES
) -> dict[str, StatedRecord]:
    request = task.build_requests("Germany", "Religion", values)[0]
    return {r.value: r for r in task.parse(answer(request, text))}


def test_keys_ignore_case_and_spacing(task: StatedTask, answer: Callable[..., Any]) -> None:
    text = json.dumps(
        {
            "  HONEST ": "1",
            "devout": "2",
            "honoring  of parents\tand elders": "3",
            "PRESERVING MY PUBLIC IMAGE": "4",
        }
    )
    records = _parse(task, answer, text)
    assert {v: r.likert for v, r in records.items()} == EXPECTED
    assert {r.parse_status for r in records.values()} == {"ok"}


def test_built_in_aliases_apply_by_default(task: StatedTask, answer: Callable[..., Any]) -> None:
    builtin = load_value_aliases()
    assert builtin["Devoted"] == "Devout"
    assert builtin["Honouring of Parents and Elders"] == "Honoring of Parents and Elders"
    text = json.dumps(
        {
            "Honest": "1",
            "devoted": "2",
            "Honouring of Parents and Elders": "3",
            "Preserving Human's Public Image": "4",
        }
    )
    records = _parse(task, answer, text)
    assert {v: r.likert for v, r in records.items()} == EXPECTED
    assert {r.parse_status for r in records.values()} == {"ok"}


def test_aliases_also_apply_outside_readable_json(
    task: StatedTask, answer: Callable[..., Any]
) -> None:
    # No braces: the loose "Name": "digit" scan, which now knows the aliases too.
    text = '```\n"Honest": "1",\n"Devoted": "2",\n"honouring of parents  and elders": "3"\n```'
    records = _parse(task, answer, text)
    assert records["Honest"].likert == 1.0
    assert records["Devout"].likert == 2.0 and records["Devout"].parse_status == "repaired"
    assert records["Honoring of Parents and Elders"].likert == 3.0
    assert records["Preserving my Public Image"].likert is None
    assert records["Preserving my Public Image"].parse_status == "failed"


def test_user_aliases_add_to_the_built_in_ones(answer: Callable[..., Any]) -> None:
    task = stated_task(variants="0", aliases={"Truthful": "Honest"})
    text = json.dumps({"truthful": "2", "Devoted": "3", "Wealth": "4"})
    records = _parse(task, answer, text, ["Honest", "Devout", "Wealth"])
    assert {v: r.likert for v, r in records.items()} == {
        "Honest": 2.0,
        "Devout": 3.0,
        "Wealth": 4.0,
    }


def test_an_alias_only_counts_for_values_that_were_asked(
    task: StatedTask, answer: Callable[..., Any]
) -> None:
    records = _parse(task, answer, json.dumps({"Devoted": "2", "Honest": "1"}), ["Honest"])
    assert list(records) == ["Honest"] and records["Honest"].likert == 1.0
