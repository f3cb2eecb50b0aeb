"""A dead endpoint is reported in one line within seconds; a pool routes around one.

Real sockets on 127.0.0.1 only: a port that is bound but not listening refuses connections,
and host names under `.invalid` fail in a patched resolver (so no query leaves the machine).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from support.fake_server import FakeServer, FaultConfig
from valuelens import ValuelensError
from valuelens.models import AnthropicBackend, Message, OpenAIBackend, Request, load_backend
from valuelens.runner import Runner, Store

# The SDKs are imported above, not on the first request, so that the time bounds measure the
# runner rather than how long a busy machine takes to import them (anthropic: up to 10 s here).
_PRELOADED = (anthropic.AsyncAnthropic, openai.AsyncOpenAI)
REFUSED = "connection refused (is the server running?)"
# Generous: the guarantee is "seconds, not minutes"; this machine is shared and busy.
BOUND_S = 20.0


def ask(text: str) -> Request:
    return Request(messages=(Message("user", text),), max_tokens=8)


@pytest.fixture
def dead_port() -> Iterator[int]:
    """A port on 127.0.0.1 that is taken (so nothing else gets it) but refuses connections."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names under `.invalid` do not resolve, without asking a DNS server; returns the names asked."""
    asked: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name.endswith(".invalid"):
            asked.append(name)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


async def run_against(
    url: str, store: Store, n: int = 300, grace_s: float = 3.0
) -> tuple[str, float]:
    """Run `n` requests at `url`: the runner's error (it must raise) and the seconds it took.

    `grace_s` 3 is the default; tests of the message rather than the timing shorten it.
    """
    backend = OpenAIBackend("fake-model", base_url=url)
    runner = Runner(backend, store, concurrency=16, progress=False, unreachable_grace_s=grace_s)
    started = time.monotonic()
    try:
        with pytest.raises(ValuelensError) as caught:
            await runner.run([ask(f"q{i}") for i in range(n)])
    finally:
        await backend.aclose()
    return str(caught.value), time.monotonic() - started


async def test_refused_port_stops_in_seconds_naming_the_url(dead_port: int, store: Store) -> None:
    url = f"http://127.0.0.1:{dead_port}/v1"

    message, elapsed = await run_against(url, store)

    assert message == f"cannot reach {url}: {REFUSED}"
    assert elapsed < BOUND_S
    # Nothing was recorded as failed: the endpoint, not the requests, was the problem.
    assert store.counts() == (0, 0)


async def test_unknown_host_stops_in_seconds_naming_the_url(
    resolver: list[str], store: Store
) -> None:
    url = "http://no-such-server.invalid:8000/v1"

    message, elapsed = await run_against(url, store)

    assert message == f"cannot reach {url}: host name not found (check the URL)"
    assert elapsed < BOUND_S
    assert "no-such-server.invalid" in resolver  # the client's real lookup path was taken


async def test_credentials_in_the_url_are_not_named(dead_port: int, store: Store) -> None:
    url = f"http://user:hunter2-secret@127.0.0.1:{dead_port}/v1?key=abc"

    message, _ = await run_against(url, store, n=3, grace_s=0.5)

    assert message == f"cannot reach http://127.0.0.1:{dead_port}/v1: {REFUSED}"


async def test_anthropic_backend_too(
    dead_port: int, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0000000000000000")
    url = f"http://127.0.0.1:{dead_port}"
    backend = AnthropicBackend("claude-test", base_url=url)
    started = time.monotonic()
    with pytest.raises(ValuelensError) as caught:
        await Runner(backend, store, progress=False, unreachable_grace_s=0.5).run([ask("hi")])

    assert str(caught.value) == f"cannot reach {url}: {REFUSED}"
    assert time.monotonic() - started < BOUND_S


async def test_a_server_that_starts_a_moment_late_still_gets_the_work(store: Store) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = OpenAIBackend("fake-model", base_url=f"http://127.0.0.1:{port}/v1")
    runner = Runner(backend, store, concurrency=4, progress=False, backoff_s=0.01)
    task = asyncio.create_task(runner.run([ask(f"q{i}") for i in range(20)]))
    await asyncio.sleep(1.0)  # the first attempts are refused
    server = await FakeServer(FaultConfig()).start(port=port)
    try:
        results = await task
    finally:
        await backend.aclose()
        await server.close()

    assert all(r.ok for r in results)
    assert any(r.attempts > 1 for r in results)
    assert runner.stats.complete and runner.stats.n_failed == 0


async def test_an_endpoint_that_goes_away_stops_the_run_and_keeps_the_work(store: Store) -> None:
    server = await FakeServer(FaultConfig(latency_s=0.01)).start()
    url = server.base_url
    backend = OpenAIBackend("fake-model", base_url=url)
    runner = Runner(
        backend, store, concurrency=4, progress=False, backoff_s=0.01, outage_grace_s=1.0
    )
    requests = [ask(f"q{i}") for i in range(400)]
    task = asyncio.create_task(runner.run(requests))
    while server.stats.ok < 20:
        await asyncio.sleep(0.005)
    await server.close()
    started = time.monotonic()
    try:
        with pytest.raises(ValuelensError) as caught:
            await task
    finally:
        await backend.aclose()

    assert str(caught.value).startswith(f"cannot reach {url}: {REFUSED} (no connection for ")
    assert str(caught.value).endswith("rerun to resume")
    assert time.monotonic() - started < BOUND_S
    finished, _ = store.counts()
    assert finished >= 20
    assert runner.totals.n_sent >= finished  # the stopped run still counts in the totals


async def test_a_pool_with_a_dead_endpoint_completes_and_warns_once(
    dead_port: int,
    store: Store,
    fake_server: FakeServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dead = f"http://127.0.0.1:{dead_port}/v1"
    backend = load_backend("openai:fake-model", base_urls=[dead, fake_server.base_url])
    runner = Runner(backend, store, concurrency=6, progress=False)
    try:
        results = await runner.run([ask(f"q{i}") for i in range(60)])
    finally:
        await backend.aclose()

    assert all(r.ok for r in results)
    assert all(r.attempts == 1 for r in results)  # the pool moved them; no retry was needed
    assert fake_server.stats.chat == 60
    expected = f"cannot reach {dead}: {REFUSED}; its requests go to the other endpoints meanwhile"
    assert runner.stats.warnings == [expected]
    assert capsys.readouterr().err.splitlines() == [f"warning: {expected}"]


async def test_a_pool_with_no_live_endpoint_stops(
    dead_port: int, resolver: list[str], store: Store
) -> None:
    dead = f"http://127.0.0.1:{dead_port}/v1"
    unknown = "http://gpu7.invalid:8000/v1"
    backend = load_backend("openai:fake-model", base_urls=[dead, unknown])
    warnings: list[str] = []
    runner = Runner(
        backend, store, concurrency=8, progress=False, warn=warnings.append, unreachable_grace_s=1
    )
    started = time.monotonic()
    try:
        with pytest.raises(ValuelensError) as caught:
            await runner.run([ask(f"q{i}") for i in range(100)])
    finally:
        await backend.aclose()

    assert time.monotonic() - started < BOUND_S
    message = str(caught.value)
    assert message.startswith("no endpoint can be reached: ")
    assert f"cannot reach {dead}: {REFUSED}" in message
    assert f"cannot reach {unknown}: host name not found" in message
    assert len(warnings) == 2 and len(set(warnings)) == 2
    assert store.counts() == (0, 0)


async def test_https_to_a_plain_http_server_is_a_failed_handshake(store: Store) -> None:
    async def answer(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1"
    try:
        message, elapsed = await run_against(url, store, n=20, grace_s=0.5)
    finally:
        server.close()

    assert message == (
        f"cannot reach {url}: TLS handshake failed "
        "(WRONG_VERSION_NUMBER; is the server plain http:// rather than https://?)"
    )
    assert elapsed < BOUND_S
