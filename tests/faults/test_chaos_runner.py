"""Every fault kind of the chaos server, through the real `Runner` and `OpenAIBackend`.

Each kind is either retried until the request gets the answer a clean server gives, or, when it
outlasts the retries, recorded in the store as a failure with a one-line error that says what
happened; the next run sends it again. Nothing raises, nothing is lost.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from chaos_server import (
    ACCEPTABLE_KINDS,
    FAULT_KINDS,
    GIVE_UP_KINDS,
    TRANSIENT_KINDS,
    ChaosConfig,
    ChaosServer,
    uniform_rates,
)
from fault_run import DUMMY_KEY

from support.fake_server import FakeServer, FaultConfig
from valuelens.models import Message, OpenAIBackend, Request
from valuelens.runner import Runner, Store

TIMEOUT_S = 1.5  # the runner's limit per attempt; `hang` waits longer
HANG_S = 3 * TIMEOUT_S
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "answer": {"type": "string", "enum": ["Option 1", "Option 2"]},
        "why": {"type": "string"},
    },
    "required": ["answer", "why"],
    "additionalProperties": False,
}
# What the recorded error of a request that failed for good says, per kind (lower case).
EXPECTED_ERROR = {
    "429": "http 429",
    "429date": "http 429",
    "500": "http 500",
    "502": "http 502",
    "503": "http 503",
    "html502": "http 502",
    "hang": f"no answer within {TIMEOUT_S:g} s",
    "truncate": "",  # the HTTP client's own words for a body shorter than promised
    "truncjson": "invalid json",
    "badjson": "invalid json",
    "invalidjson": "invalid json",
    "empty200": "invalid json",
    "error200": "the server had an error",
    "nochoices": "invalid response body",
    "reset": "",  # the HTTP client's own words for a reset connection
    "drop": "",  # the HTTP client's own words for a closed connection
    "jsonhtml": "invalid json",
}


def request(text: str) -> Request:
    return Request(messages=(Message("user", text),), max_tokens=64, json_schema=SCHEMA)


def make_runner(server: FakeServer, store: Store, **settings: Any) -> Runner:
    backend = OpenAIBackend("fake", base_url=server.base_url, client_shards=1)
    options: dict[str, Any] = {
        "concurrency": 4,
        "timeout_s": TIMEOUT_S,
        "backoff_s": 0.01,
        "max_backoff_s": 0.05,
        "progress": False,
        **settings,
    }
    return Runner(backend, store, **options)


async def clean_answers(texts: list[str], tmp_path: Path) -> dict[str, str]:
    """What a fault-free server answers to each prompt (scripts are plain text to it)."""
    server = await FakeServer(FaultConfig()).start()
    try:
        with Store(tmp_path / "clean.sqlite") as store:
            results = await make_runner(server, store).run([request(t) for t in texts])
    finally:
        await server.close()
    assert all(r.response is not None for r in results)
    return {t: r.response.text for t, r in zip(texts, results, strict=True) if r.response}


@pytest.fixture
async def chaos() -> AsyncIterator[ChaosServer]:
    config = ChaosConfig(
        base=FaultConfig(latency_s=0.001, retry_after="0", hang_s=HANG_S),
        retry_after_date_s=0.0,
    )
    server = ChaosServer(config)
    await server.start()
    yield server
    await server.close()


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with Store(tmp_path / "store.sqlite") as opened:
        yield opened


def test_the_kinds_cover_the_brief() -> None:
    wanted = {"429", "429date", "500", "502", "503", "html502", "hang", "truncjson"}
    wanted |= {"invalidjson", "empty200", "error200", "reset", "plainjson", "jsonhtml"}
    wanted |= {"nochoices"}
    assert wanted <= set(FAULT_KINDS)
    assert set(EXPECTED_ERROR) == set(FAULT_KINDS) - ACCEPTABLE_KINDS - GIVE_UP_KINDS


@pytest.mark.parametrize("kind", [k for k in FAULT_KINDS if k not in GIVE_UP_KINDS])
async def test_each_kind_is_retried_to_the_clean_answer(
    kind: str, chaos: ChaosServer, store: Store, tmp_path: Path
) -> None:
    text = f"Pick one for {kind}. <<chaos:{kind},{kind}>>"
    runner = make_runner(chaos, store)

    [result] = await runner.run([request(text)])

    expected = await clean_answers([text], tmp_path)
    assert result.response is not None, result.error
    assert result.response.text == expected[text]
    # A usable answer is taken as it is; any other fault is retried, once per fault.
    attempts = 1 if kind in ACCEPTABLE_KINDS else 3
    assert result.attempts == attempts
    assert len(chaos.attempt_times[text]) == attempts
    assert chaos.stats.faults.get(kind) == (1 if kind in ACCEPTABLE_KINDS else 2)
    [record] = store.records()
    assert record.ok and record.attempts == attempts and record.error is None
    assert runner.stats.complete and runner.stats.failure_line is None


@pytest.mark.parametrize("kind", sorted(EXPECTED_ERROR))
async def test_a_kind_that_outlasts_the_retries_is_recorded_then_retried(
    kind: str, chaos: ChaosServer, store: Store, tmp_path: Path
) -> None:
    text = f"Pick one for {kind}. <<chaos:{kind},{kind},{kind}>>"
    runner = make_runner(chaos, store, max_retries=2)

    [failed] = await runner.run([request(text)])

    assert failed.response is None and failed.error is not None
    assert failed.attempts == 3 and len(chaos.attempt_times[text]) == 3
    assert EXPECTED_ERROR[kind] in failed.error.lower()
    assert "gave up after 3 attempts" in failed.error
    assert DUMMY_KEY not in failed.error
    [record] = store.records()
    assert not record.ok and record.error == failed.error and record.attempts == 3
    stats = runner.stats
    assert stats.n_failed == 1 and not stats.complete
    assert stats.failure_line is not None and stats.failure_line.startswith("1 of 1 requests")

    # The script is spent: the next run sends the request again and the answer replaces the
    # recorded failure.
    [answered] = await runner.run([request(text)])

    assert answered.response is not None and not answered.cached
    assert answered.response.text == (await clean_answers([text], tmp_path))[text]
    [record] = store.records()
    assert record.ok and record.error is None
    assert store.counts() == (1, 0)


@pytest.mark.parametrize("kind", sorted(set(EXPECTED_ERROR) - {"hang"}))
async def test_the_failure_line_of_a_kind_is_one_line(
    kind: str, chaos: ChaosServer, store: Store
) -> None:
    # Proxies answer with multi-line HTML pages; the user still gets one line.
    text = f"Pick one for {kind}. <<chaos:{kind},{kind}>>"
    runner = make_runner(chaos, store, max_retries=1)

    [failed] = await runner.run([request(text)])

    assert failed.error is not None
    assert "\n" not in failed.error and "\r" not in failed.error
    assert runner.stats.failure_line is not None and "\n" not in runner.stats.failure_line


@pytest.mark.parametrize("kind", ["reset", "truncate", "drop"])
async def test_a_broken_connection_says_how_it_broke(
    kind: str, chaos: ChaosServer, store: Store
) -> None:
    [failed] = await make_runner(chaos, store, max_retries=0).run(
        [request(f"Break for {kind}. <<chaos:{kind}>>")]
    )
    assert failed.error is not None
    assert any(word in failed.error.lower() for word in ("reset", "closed", "disconnected"))


async def test_retry_after_seconds_is_honoured(store: Store) -> None:
    config = ChaosConfig(base=FaultConfig(retry_after="1"))
    server = ChaosServer(config)
    await server.start()
    try:
        text = "Wait for me. <<chaos:429>>"
        [result] = await make_runner(server, store).run([request(text)])
    finally:
        await server.close()
    assert result.response is not None and result.attempts == 2
    first, second = server.attempt_times[text]
    assert 0.9 <= second - first < 5.0


async def test_retry_after_as_an_http_date_is_honoured(store: Store) -> None:
    # The date has whole seconds: two seconds ahead means a wait of a little over one.
    config = ChaosConfig(base=FaultConfig(), retry_after_date_s=2.0)
    server = ChaosServer(config)
    await server.start()
    try:
        text = "Wait until then. <<chaos:429date>>"
        [result] = await make_runner(server, store).run([request(text)])
    finally:
        await server.close()
    assert result.response is not None and result.attempts == 2
    first, second = server.attempt_times[text]
    assert 0.9 <= second - first < 5.0


async def test_a_retry_after_of_an_hour_fails_the_request_at_once(
    chaos: ChaosServer, store: Store
) -> None:
    text = "Come back later. <<chaos:429long>>"
    started = time.monotonic()
    [result] = await make_runner(chaos, store).run([request(text)])

    assert time.monotonic() - started < 10
    assert result.response is None and result.attempts == 1
    assert result.error is not None and "asked to wait 3600 s" in result.error
    assert store.counts() == (0, 1)


async def test_a_seeded_storm_of_every_kind_ends_with_the_clean_answers(
    store: Store, tmp_path: Path
) -> None:
    texts = [f"Item {i}: which option fits?" for i in range(120)]
    config = ChaosConfig(
        base=FaultConfig(latency_s=0.001, retry_after="0", hang_s=HANG_S, seed=7),
        rates=uniform_rates(0.5, (*TRANSIENT_KINDS, "plainjson")),
        max_random_faults=3,
    )
    server = ChaosServer(config)
    await server.start()
    try:
        runner = make_runner(server, store, concurrency=8)  # 1 try + 6 retries > 3 faults
        results = await runner.run([request(t) for t in texts])
    finally:
        await server.close()

    assert set(server.stats.faults) == {*TRANSIENT_KINDS, "plainjson"}
    assert sum(server.stats.faults.values()) >= 60
    expected = await clean_answers(texts, tmp_path)
    assert [r.response.text if r.response else r.error for r in results] == [
        expected[t] for t in texts
    ]
    assert runner.stats.complete and runner.stats.n_sent == len(texts)
    assert runner.stats.attempts == server.stats.chat == sum(r.attempts for r in results)
    assert store.counts() == (len(texts), 0)
    assert {r.key for r in store.records()} == {r.key for r in results}
