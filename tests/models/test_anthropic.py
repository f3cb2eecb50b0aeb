"""The anthropic backend through the official client, against a local Messages-API server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.fake_server import FakeServer, FaultConfig
from valuelens import ValuelensError
from valuelens.models import AnthropicBackend, Message, Request
from valuelens.runner import Runner, Store

KEY = "sk-ant-valuelens-test-0a1b2c3d4e5f6a7b"


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    started = await FakeServer(FaultConfig(retry_after="0")).start()
    started.stats.keep_bodies = True
    yield started
    await started.close()


@pytest.fixture
def backend(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> AnthropicBackend:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    return AnthropicBackend("claude-test", base_url=f"http://127.0.0.1:{server.port}")


def conversation(last: str = "Rate honesty.") -> tuple[Message, ...]:
    return (Message("system", "Be brief."), Message("user", last))


async def test_messages_request_and_response(server: FakeServer, backend: AnthropicBackend) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    response = await backend.complete(
        Request(messages=conversation(), max_tokens=30, temperature=0.3, json_schema=schema)
    )
    await backend.aclose()

    body = server.stats.bodies[0]
    assert body["system"] == "Be brief."
    assert body["messages"] == [{"role": "user", "content": "Rate honesty."}]
    assert body["temperature"] == 0.3 and body["max_tokens"] == 30
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert [KEY in credentials for credentials in server.stats.authorization] == [True]
    assert response.text == "echo: Rate honesty."
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (11, 5)
    assert response.finish_reason == "stop"
    assert response.raw is not None and response.raw["id"] == "msg_fake"


async def test_runner_retries_and_stops_on_rejected_key(
    server: FakeServer, backend: AnthropicBackend, tmp_path: Path
) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        runner = Runner(backend, store, progress=False, backoff_s=0.01)
        results = await runner.run([Request(messages=conversation("<<faults:429,529>> hi"))])
        assert results[0].ok and results[0].attempts == 3

        with pytest.raises(ValuelensError, match="HTTP 401") as caught:
            await runner.run([Request(messages=conversation("<<faults:401>> hi"))])
    await backend.aclose()
    assert KEY not in str(caught.value)


async def test_missing_key_is_fatal(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    backend = AnthropicBackend("claude-test", base_url=f"http://127.0.0.1:{server.port}")
    with Store(tmp_path / "s.sqlite") as store, pytest.raises(ValuelensError, match="not set"):
        await Runner(backend, store, progress=False).run([Request(messages=conversation())])
    assert server.stats.requests == 0
