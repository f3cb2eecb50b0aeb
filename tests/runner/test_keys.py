from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from valuelens.models import Message, Request
from valuelens.runner import request_key

IDENTITY = {"kind": "openai", "model": "gpt-4o-mini", "endpoint": "https://api.openai.com/v1"}
SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}}
BASE = Request(
    messages=(Message("system", "Be brief."), Message("user", "Rate honesty.")),
    temperature=0.2,
    max_tokens=64,
    json_schema=SCHEMA,
    top_logprobs=5,
    seed=1,
)


@pytest.mark.parametrize(
    "change",
    [
        {"messages": (Message("system", "Be brief."), Message("user", "Rate honesty!"))},
        {"messages": (Message("user", "Be brief."), Message("user", "Rate honesty."))},
        {"messages": (Message("user", "Rate honesty."),)},
        {"temperature": 0.7},
        {"max_tokens": 65},
        {"json_schema": {"type": "object"}},
        {"json_schema": None},
        {"top_logprobs": 6},
        {"top_logprobs": None},
        {"seed": 2},
        {"seed": None},
    ],
)
def test_everything_that_shapes_the_answer_changes_the_key(change: dict[str, Any]) -> None:
    assert request_key(dataclasses.replace(BASE, **change), IDENTITY) != request_key(BASE, IDENTITY)


@pytest.mark.parametrize("field", ["kind", "model", "endpoint"])
def test_the_backend_identity_changes_the_key(field: str) -> None:
    assert request_key(BASE, {**IDENTITY, field: "other"}) != request_key(BASE, IDENTITY)


def test_metadata_and_spelling_do_not_change_the_key() -> None:
    same = dataclasses.replace(
        BASE,
        metadata={"task": "stated", "variant": 3},
        json_schema={
            "properties": {"b": {"type": "string"}, "a": {"type": "integer"}},
            "type": "object",
        },
    )
    assert request_key(same, IDENTITY) == request_key(BASE, IDENTITY)
    assert request_key(dataclasses.replace(BASE, temperature=1), IDENTITY) == request_key(
        dataclasses.replace(BASE, temperature=1.0), IDENTITY
    )


def test_key_is_a_stable_sha256_hex() -> None:
    key = request_key(BASE, IDENTITY)
    assert len(key) == 64 and int(key, 16) >= 0
    assert key == request_key(BASE, dict(reversed(list(IDENTITY.items()))))
