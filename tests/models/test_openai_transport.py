"""The lean HTTP transport of `OpenAIBackend`: headers, error bodies, proxies (issue 12).

A tiny HTTP/1.1 server on 127.0.0.1 (in this test) records each request's head and body and
answers with what the test scripts; the fault kinds themselves are covered in tests/faults.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from valuelens.models import BackendError, Message, OpenAIBackend, Request
from valuelens.models._openai import uses_proxy

COMPLETION = {
    "choices": [{"message": {"content": "2"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1},
}


@dataclass
class Recorder:
    """Answers every request with `status`, `body` and `headers`; keeps what it received."""

    status: int = 200
    reason: str = "OK"
    body: bytes = json.dumps(COMPLETION).encode()
    headers: dict[str, str] = field(default_factory=dict)
    seen: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")[1:]
            received = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines if x)}
            body = await reader.readexactly(int(received.get("content-length", "0")))
            self.seen.append((received, body))
            extra = "".join(f"{k}: {v}\r\n" for k, v in self.headers.items())
            writer.write(
                f"HTTP/1.1 {self.status} {self.reason}\r\nContent-Length: {len(self.body)}\r\n"
                f"{extra}\r\n".encode()
                + self.body
            )
            await writer.drain()


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    recording = Recorder()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await recording.handle(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    recording.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
    yield recording
    server.close()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def ask(text: str = "Rate it") -> Request:
    return Request(messages=(Message("user", text),), max_tokens=4, seed=3)


async def test_sends_the_sdks_auth_headers_and_a_plain_json_body(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-transport-0123456789")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-test")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-test")
    backend = OpenAIBackend("some-model", base_url=recorder.url)

    response = await backend.complete(ask())
    await backend.aclose()

    headers, body = recorder.seen[0]
    assert headers["authorization"] == "Bearer sk-test-transport-0123456789"
    assert headers["openai-organization"] == "org-test"
    assert headers["openai-project"] == "proj-test"
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {
        "model": "some-model",
        "messages": [{"role": "user", "content": "Rate it"}],
        "temperature": 0.2,
        "max_tokens": 4,
        "seed": 3,
    }
    assert response.text == "2" and response.usage.prompt_tokens == 5


async def test_a_placeholder_key_and_no_org_headers_for_a_local_server(
    recorder: Recorder,
) -> None:
    backend = OpenAIBackend("m", base_url=recorder.url)
    await backend.complete(ask())
    await backend.aclose()

    headers, _ = recorder.seen[0]
    assert headers["authorization"] == "Bearer no-key-needed"
    assert "openai-organization" not in headers and "openai-project" not in headers


async def test_one_pool_keeps_its_connection_alive(recorder: Recorder) -> None:
    backend = OpenAIBackend("m", base_url=recorder.url, client_shards=1)
    for _ in range(3):
        await backend.complete(ask())
    await backend.aclose()
    assert len(recorder.seen) == 3  # one connection served all three (the loop above reads on)


@pytest.mark.parametrize(
    ("status", "body", "message", "retryable"),
    [
        (500, b"  upstream exploded \n", "HTTP 500: upstream exploded", True),
        (404, b'{"error": {"message": "no such model"}}', "HTTP 404: no such model", False),
        (503, b"", "HTTP 503: Service Unavailable", True),
    ],
)
async def test_error_bodies_read_as_the_sdk_reads_them(
    recorder: Recorder, status: int, body: bytes, message: str, retryable: bool
) -> None:
    recorder.status, recorder.body = status, body
    recorder.reason = {500: "Internal Server Error", 404: "Not Found", 503: "Service Unavailable"}[
        status
    ]
    backend = OpenAIBackend("m", base_url=recorder.url)

    with pytest.raises(BackendError) as caught:
        await backend.complete(ask())
    await backend.aclose()

    assert str(caught.value) == message
    assert caught.value.retryable is retryable and caught.value.status == status


async def test_429_carries_the_servers_wait(recorder: Recorder) -> None:
    recorder.status, recorder.reason, recorder.body = 429, "Too Many Requests", b"{}"
    recorder.headers = {"Retry-After": "7", "retry-after-ms": "250"}
    backend = OpenAIBackend("m", base_url=recorder.url)

    with pytest.raises(BackendError) as caught:
        await backend.complete(ask())
    await backend.aclose()

    assert caught.value.retryable and caught.value.retry_after_s == 0.25


async def test_a_2xx_body_that_is_not_json_is_retryable(recorder: Recorder) -> None:
    recorder.body = b"<html>oops"
    backend = OpenAIBackend("m", base_url=recorder.url)

    with pytest.raises(BackendError) as caught:
        await backend.complete(ask())
    await backend.aclose()

    assert caught.value.retryable and caught.value.status == 200
    assert str(caught.value).startswith("invalid JSON body")


def test_proxy_detection_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not uses_proxy("https://api.openai.com/v1")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    assert uses_proxy("https://api.openai.com/v1")
    assert not uses_proxy("http://127.0.0.1:8000/v1")  # only https goes through it
    monkeypatch.setenv("NO_PROXY", "api.openai.com")
    assert not uses_proxy("https://api.openai.com/v1")


async def test_requests_go_through_a_proxy_when_the_environment_names_one(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The "proxy" is the recorder itself: a proxied request names the absolute URL.
    proxy = recorder.url.removesuffix("/v1")
    monkeypatch.setenv("HTTP_PROXY", proxy)
    target = "http://127.0.0.1:9/v1"  # never contacted directly
    backend = OpenAIBackend("m", base_url=target)

    response = await backend.complete(ask())
    await backend.aclose()

    assert response.text == "2"
    assert len(recorder.seen) == 1


def test_tls_is_verified_for_https_and_not_set_up_for_http() -> None:
    import ssl

    from valuelens.models._http11 import tls_context as _tls_context

    context = _tls_context("https://api.openai.com/v1")
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert _tls_context("https://example.invalid/v1") is context  # loaded once
    assert _tls_context("http://127.0.0.1:8000/v1") is None
