"""The `openai` backend against a real llama.cpp OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

from valuelens.models import Message, OpenAIBackend, Request
from valuelens.runner import Runner, Store


async def test_plain_completion(llama_server_url: str) -> None:
    backend = OpenAIBackend("smollm2", base_url=llama_server_url)
    try:
        response = await backend.complete(
            Request(messages=(Message("user", "Say hello."),), max_tokens=5)
        )
    finally:
        await backend.aclose()

    assert response.text
    assert response.usage.prompt_tokens > 0 and 0 < response.usage.completion_tokens <= 5
    assert response.finish_reason in ("stop", "length")
    assert response.latency_s > 0


async def test_json_schema_and_logprobs(llama_server_url: str) -> None:
    schema = {
        "type": "object",
        "properties": {"choice": {"type": "integer", "enum": [1, 2]}},
        "required": ["choice"],
        "additionalProperties": False,
    }
    backend = OpenAIBackend("smollm2", base_url=llama_server_url)
    request = Request(
        messages=(Message("user", "Option 1: tell the truth. Option 2: lie. Pick one as JSON."),),
        max_tokens=20,
        json_schema=schema,
        top_logprobs=5,
    )
    try:
        response = await backend.complete(request)
    finally:
        await backend.aclose()

    assert json.loads(response.text)["choice"] in (1, 2)
    assert response.logprobs is not None
    assert "".join(token.token for token in response.logprobs) == response.text
    assert all(0 < len(token.top) <= 5 for token in response.logprobs)
    assert backend.capabilities.json_schema  # the server accepted the schema


async def test_runner_over_a_real_server(llama_server_url: str, tmp_path: Path) -> None:
    backend = OpenAIBackend("smollm2", base_url=llama_server_url)
    requests = [
        Request(messages=(Message("user", f"Count to {n}."),), max_tokens=4) for n in range(4)
    ]
    try:
        with Store(tmp_path / "s.sqlite") as store:
            results = await Runner(backend, store, concurrency=2, progress=False).run(requests)
            assert store.counts() == (4, 0)
    finally:
        await backend.aclose()

    assert all(r.ok and r.attempts == 1 for r in results)
