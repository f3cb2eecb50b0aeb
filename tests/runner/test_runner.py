from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from support.fake_server import FakeServer, FaultConfig, serve_in_thread
from valuelens import ValuelensError
from valuelens.models import (
    Capabilities,
    Message,
    OpenAIBackend,
    Request,
    Response,
    load_backend,
)
from valuelens.runner import Runner, Store


def ask(text: str, **settings: object) -> Request:
    return Request(messages=(Message("user", text),), max_tokens=8, **settings)  # type: ignore[arg-type]


MakeRunner = Callable[..., Runner]


@pytest.fixture
async def make_runner(fake_server: FakeServer, store: Store) -> AsyncIterator[MakeRunner]:
    """Runners over one fake server and store; their backends are closed afterwards."""
    backends: list[OpenAIBackend] = []

    def build(**options: object) -> Runner:
        settings: dict[str, object] = {"concurrency": 4, "progress": False, "backoff_s": 0.01}
        settings.update(options)
        backends.append(OpenAIBackend("fake-model", base_url=fake_server.base_url))
        return Runner(backends[-1], store, **settings)  # type: ignore[arg-type]

    yield build
    for backend in backends:
        await backend.aclose()


async def test_results_come_back_in_order_and_are_stored(
    fake_server: FakeServer, store: Store, make_runner: MakeRunner
) -> None:
    requests = [ask(f"question {i}") for i in range(20)]
    results = await make_runner().run(requests)

    assert [r.request for r in results] == requests
    assert [r.response.text for r in results if r.response] == [
        f"echo: question {i}" for i in range(20)
    ]
    assert all(not r.cached and r.attempts == 1 and r.error is None for r in results)
    assert store.counts() == (20, 0)
    assert fake_server.stats.chat == 20
    record = next(store.records())
    assert record.request["backend"]["model"] == "fake-model"
    assert record.prompt_tokens > 0 and record.completion_tokens == 5
    assert record.finished_at >= record.started_at


async def test_second_run_sends_no_request(
    fake_server: FakeServer, store: Store, make_runner: MakeRunner
) -> None:
    requests = [ask(f"question {i}") for i in range(10)]
    first = await make_runner().run(requests)
    sent = fake_server.stats.chat

    second = await make_runner().run(requests)

    assert fake_server.stats.chat == sent == 10
    assert all(r.cached and r.attempts == 0 for r in second)
    assert [r.response for r in second] == [r.response for r in first]


async def test_identical_requests_are_sent_once(
    fake_server: FakeServer, store: Store, make_runner: MakeRunner
) -> None:
    requests = [ask("same"), ask("other"), ask("same", metadata={"variant": 2})]
    results = await make_runner().run(requests)

    assert fake_server.stats.chat == 2
    assert results[0].key == results[2].key != results[1].key
    assert results[2].request.metadata == {"variant": 2}


@pytest.mark.parametrize(
    "script",
    ["500", "429", "truncate", "badjson", "drop", "502,500,503", "429,truncate,badjson"],
)
async def test_transient_faults_are_retried(
    fake_server: FakeServer, store: Store, script: str, make_runner: MakeRunner
) -> None:
    fake_server.config.retry_after = "0"
    results = await make_runner().run([ask(f"<<faults:{script}>> hello")])

    assert results[0].ok, results[0].error
    assert results[0].attempts == len(script.split(",")) + 1
    assert store.counts() == (1, 0)


async def test_a_hanging_server_times_out_and_is_retried(
    fake_server: FakeServer, store: Store, make_runner: MakeRunner
) -> None:
    runner = make_runner(timeout_s=1.0)
    results = await runner.run([ask("<<faults:hang>> hello"), ask("fine")])

    assert all(r.ok for r in results)
    assert fake_server.stats.faults == {"hang": 1}
    assert results[0].attempts >= 2  # more only if this machine is too busy to answer in 1 s


async def test_retry_after_is_honoured(
    fake_server: FakeServer, store: Store, make_runner: MakeRunner
) -> None:
    fake_server.config.retry_after = "1"
    fake_server.stats.keep_bodies = True
    loop = asyncio.get_running_loop()
    arrivals: list[float] = []
    handle = fake_server.handle

    def timed(*args: object) -> None:
        arrivals.append(loop.time())
        handle(*args)  # type: ignore[arg-type]

    fake_server.handle = timed  # type: ignore[method-assign]
    results = await make_runner().run([ask("<<faults:429>> hello")])

    assert results[0].ok and results[0].attempts == 2
    assert arrivals[1] - arrivals[0] >= 0.95


async def test_exhausted_retries_are_recorded_and_retried_next_run(
    fake_server: FakeServer, store: Store, make_runner: MakeRunner
) -> None:
    request = ask("<<faults:500,500,500>> hello")
    first = await make_runner(max_retries=1).run([request])

    assert not first[0].ok and first[0].attempts == 2
    assert "HTTP 500" in (first[0].error or "") and "gave up after 2 attempts" in (
        first[0].error or ""
    )
    assert store.counts() == (0, 1)
    failure = next(store.records(ok=False))
    assert failure.attempts == 2 and failure.response is None and failure.error == first[0].error

    second = await make_runner(max_retries=1).run([request])

    assert second[0].ok and not second[0].cached and second[0].attempts == 2
    assert store.counts() == (1, 0)
    assert fake_server.stats.chat == 4


async def test_client_errors_fail_at_once_without_stopping_the_run(
    fake_server: FakeServer, store: Store, make_runner: MakeRunner
) -> None:
    results = await make_runner().run([ask("<<faults:404>> x"), ask("fine")])

    assert not results[0].ok and results[0].attempts == 1
    assert (results[0].error or "").startswith("HTTP 404")
    assert results[1].ok


async def test_rejected_key_stops_the_run_without_echoing_it(
    fake_server: FakeServer, store: Store, monkeypatch: pytest.MonkeyPatch, make_runner: MakeRunner
) -> None:
    secret = "sk-proj-valuelens-test-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    # One at a time, in the order given: the third request comes after the rejection.
    runner = make_runner(concurrency=1, prefix_order=False)

    with pytest.raises(ValuelensError) as caught:
        await runner.run([ask("fine"), ask("<<faults:401>> x"), ask("never sent")])

    assert "HTTP 401" in str(caught.value)
    assert secret not in str(caught.value)
    assert fake_server.stats.authorization[-1] == f"Bearer {secret}"
    assert fake_server.stats.chat == 2
    assert store.counts() == (1, 0)  # finished work is kept


async def test_api_key_is_never_stored(
    fake_server: FakeServer, store: Store, monkeypatch: pytest.MonkeyPatch, make_runner: MakeRunner
) -> None:
    secret = "sk-valuelens-test-SECRET-9f8e7d6c5b4a"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    requests = [ask(f"question {i}", metadata={"i": i}) for i in range(5)]
    requests.append(ask("<<faults:500,500>> failing"))
    runner = make_runner(max_retries=1)

    results = await runner.run(requests)

    assert fake_server.stats.authorization.count(f"Bearer {secret}") == 7  # the key was used
    assert sum(r.ok for r in results) == 5
    assert secret not in json.dumps(runner.stats.__dict__)
    assert all(secret not in (r.error or "") for r in results)
    files = list(store.path.parent.iterdir())
    assert any(f.name.endswith("-wal") for f in files)
    for file in files:
        assert secret.encode() not in file.read_bytes(), file.name
        assert b"9f8e7d6c5b4a" not in file.read_bytes(), file.name


async def test_schema_fallback_to_plain_text_is_remembered(store: Store) -> None:
    server = await FakeServer(FaultConfig(reject_json_schema=True)).start()
    server.stats.keep_bodies = True
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    backend = OpenAIBackend("fake-model", base_url=server.base_url)
    runner = Runner(backend, store, concurrency=1, progress=False)
    try:
        results = await runner.run([ask(f"q{i}", json_schema=schema) for i in range(3)])
    finally:
        await backend.aclose()
        await server.close()

    assert all(r.ok for r in results)
    assert ["response_format" in body for body in server.stats.bodies] == [
        True,
        False,
        False,
        False,
    ]
    assert backend.capabilities.json_schema is False


async def test_several_endpoints_share_the_load(store: Store) -> None:
    servers = [await FakeServer(FaultConfig(latency_s=0.01)).start() for _ in range(2)]
    backend = load_backend("openai:fake-model", base_urls=[s.base_url for s in servers])
    try:
        results = await Runner(backend, store, concurrency=6, progress=False).run(
            [ask(f"q{i}") for i in range(60)]
        )
    finally:
        await backend.aclose()
        for server in servers:
            await server.close()

    assert all(r.ok for r in results)
    counts = [s.stats.chat for s in servers]
    assert sum(counts) == 60
    assert min(counts) >= 20, counts
    assert backend.identity["endpoint"] == " ".join(sorted(s.base_url for s in servers))


async def test_cancelling_keeps_finished_work(
    fake_server: FakeServer, store: Store, make_runner: MakeRunner
) -> None:
    fake_server.config.latency_s = 0.02
    requests = [ask(f"question {i}") for i in range(80)]
    task = asyncio.create_task(make_runner().run(requests))
    while fake_server.stats.ok < 20:
        await asyncio.sleep(0.002)
    task.cancel()  # what asyncio.run does on Ctrl-C
    with pytest.raises(asyncio.CancelledError):
        await task
    sent_before = fake_server.stats.chat
    finished, _ = store.counts()

    assert 0 < finished < 80
    assert sent_before - finished <= 4  # only what was in flight

    results = await make_runner().run(requests)

    assert all(r.ok for r in results)
    assert fake_server.stats.chat - sent_before == 80 - finished


async def test_estimate_counts_cached_tokens_and_cost(
    fake_server: FakeServer, store: Store, make_runner: MakeRunner
) -> None:
    requests = [ask("a" * 400), ask("b" * 800), ask("a" * 400)]
    prices = {"openai:fake-model": {"input": 2.0, "output": 10.0}}
    runner = make_runner(price_table=prices)
    await runner.run([requests[0]])

    estimate = runner.estimate(requests)

    assert (estimate.n_requests, estimate.n_unique, estimate.n_cached, estimate.n_to_send) == (
        3,
        2,
        1,
        1,
    )
    assert estimate.prompt_tokens == 800 // 4 + 4
    assert estimate.completion_tokens == 8
    assert estimate.cost_usd == pytest.approx((204 * 2.0 + 8 * 10.0) / 1e6)
    assert "1 to send" in estimate.summary()


async def test_requests_per_minute_limit_spaces_requests(
    fake_server: FakeServer, store: Store
) -> None:
    # Times are taken where the runner hands a request to the backend (after the limiter),
    # not at the server, so a slow first connection on a busy machine cannot skew them.
    loop = asyncio.get_running_loop()
    sent: list[float] = []
    backend = OpenAIBackend("fake-model", base_url=fake_server.base_url)
    await backend.complete(ask("warm-up"))  # the client's first call imports and connects
    complete = backend.complete

    async def timed(request: Request) -> Response:
        sent.append(loop.time())
        return await complete(request)

    backend.complete = timed  # type: ignore[method-assign]
    runner = Runner(backend, store, concurrency=12, progress=False, requests_per_minute=60)
    try:
        await runner.run([ask(f"q{i}") for i in range(12)])
    finally:
        await backend.aclose()

    # 60/min: a burst of 10 (a sixth of the minute), then one per second.
    assert len(sent) == 12
    assert sent[9] - sent[0] < 0.9
    assert sent[11] - sent[0] >= 1.5


def test_bad_settings_are_refused(store: Store) -> None:
    backend = OpenAIBackend("m", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ValuelensError, match="concurrency"):
        Runner(backend, store, concurrency=0)
    with pytest.raises(ValuelensError, match="per minute"):
        Runner(backend, store, requests_per_minute=0)


async def test_missing_openai_key_is_one_clear_error(store: Store) -> None:
    runner = Runner(OpenAIBackend("gpt-4o-mini"), store, progress=False)
    with pytest.raises(ValuelensError, match="OPENAI_API_KEY is not set"):
        await runner.run([ask("hi")])


async def test_progress_bar_on_a_terminal(
    fake_server: FakeServer,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make_runner: MakeRunner,
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "160")
    prices = {"openai:fake-model": {"input": 1000.0, "output": 1000.0}}
    runner = make_runner(progress=True, price_table=prices)

    await runner.run([ask(f"q{i}") for i in range(5)] + [ask("<<faults:404>> x")])

    shown = capsys.readouterr().err
    assert "openai:fake-model" in shown
    assert "6/6" in shown
    assert "1 errors" in shown
    assert "$0.0" in shown  # cost so far


async def test_progress_is_silent_when_disabled(
    fake_server: FakeServer,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make_runner: MakeRunner,
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    await make_runner(progress=False).run([ask("q")])
    assert capsys.readouterr().err == ""


def test_run_sync_twice_with_one_backend(tmp_path: Path) -> None:
    with serve_in_thread(FaultConfig()) as server, Store(tmp_path / "s.sqlite") as store:
        backend = OpenAIBackend("fake-model", base_url=server.base_url)
        first = Runner(backend, store, progress=False).run_sync([ask("one")])
        # The first loop is closed now; its pooled connections must not be reused.
        second = Runner(backend, store, progress=False).run_sync([ask("two"), ask("one")])
        asyncio.run(backend.aclose())

    assert first[0].ok and not first[0].cached
    assert [(r.ok, r.cached) for r in second] == [(True, False), (True, True)]


class _SlowInProcessBackend:
    """Answers after a delay, like a local model decoding on this machine's CPU."""

    def __init__(self, in_process: bool) -> None:
        self.calls = 0
        self._in_process = in_process

    @property
    def identity(self) -> dict[str, str]:
        return {"kind": "slow", "model": "m", "endpoint": "here"}

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(in_process=self._in_process)

    async def complete(self, request: Request) -> Response:
        self.calls += 1
        await asyncio.sleep(0.3)
        return Response(text="done")

    async def aclose(self) -> None:
        return None


@pytest.mark.parametrize("in_process", [True, False])
async def test_in_process_backends_get_no_time_limit(store: Store, in_process: bool) -> None:
    backend = _SlowInProcessBackend(in_process)
    runner = Runner(backend, store, timeout_s=0.05, max_retries=0, progress=False)
    [result] = await runner.run([ask("slow")])
    # A timed-out local call cannot be cancelled; retrying would only pile up work.
    assert (result.error is None) is in_process
    assert backend.calls == 1
