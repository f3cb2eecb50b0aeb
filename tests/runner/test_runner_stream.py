"""Streaming results, what the runner keeps, and prefix-ordered sending (issue 12).

Against the real fake HTTP server on 127.0.0.1 and a real SQLite store; one in-test backend
with slots of its own stands in for llama.cpp where the order of calls is the point.
"""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator, Callable

import pytest

from support.fake_server import FakeServer
from valuelens._errors import ValuelensError
from valuelens.models import Capabilities, Message, OpenAIBackend, Request, Response
from valuelens.runner import Runner, RunResult, Store
from valuelens.runner._runner import _Lanes

MakeRunner = Callable[..., Runner]


def ask(text: str) -> Request:
    return Request(messages=(Message("user", text),), max_tokens=8)


@pytest.fixture
async def make_runner(fake_server: FakeServer, store: Store) -> AsyncIterator[MakeRunner]:
    backends: list[OpenAIBackend] = []

    def build(**options: object) -> Runner:
        settings: dict[str, object] = {"concurrency": 4, "progress": False, "backoff_s": 0.01}
        settings.update(options)
        backends.append(OpenAIBackend("fake-model", base_url=fake_server.base_url))
        return Runner(backends[-1], store, **settings)  # type: ignore[arg-type]

    yield build
    for backend in backends:
        await backend.aclose()


async def test_stream_yields_every_index_once_cached_first(make_runner: MakeRunner) -> None:
    runner = make_runner()
    first = [ask("alpha"), ask("beta")]  # (the HTTP backend keeps the caller's order)
    await runner.run(first)
    # Two cached (one of them twice), two new, one of those twice.
    requests = [ask("gamma"), ask("alpha"), ask("delta"), ask("beta"), ask("alpha"), ask("gamma")]

    seen = [(index, result) async for index, result in runner.stream(requests)]

    assert sorted(index for index, _ in seen) == [0, 1, 2, 3, 4, 5]
    assert [index for index, result in seen if result.cached] == [1, 4, 3]  # caller's order
    assert [index for index, _ in seen[:3]] == [1, 4, 3]
    for index, result in seen:
        assert result.request is requests[index]
        assert result.ok and result.response is not None
        # The fake server echoes the last message of a request without a schema.
        assert requests[index].messages[-1].content in result.response.text
    assert runner.stats.n_requests == 6 and runner.stats.n_unique == 4
    assert runner.stats.n_cached == 2 and runner.stats.n_sent == 2


async def test_run_and_on_result_agree_with_the_stream(make_runner: MakeRunner) -> None:
    requests = [ask(f"item {n}") for n in range(12)] + [ask("item 3")]
    calls: list[tuple[int, RunResult]] = []

    results = await make_runner().run(requests, on_result=lambda i, r: calls.append((i, r)))

    assert [r.request for r in results] == requests
    assert sorted(i for i, _ in calls) == list(range(13))
    assert all(results[i] is r for i, r in calls)
    assert results[12].key == results[3].key and results[12].request is requests[12]


async def test_results_drop_the_raw_payload_the_store_keeps_it(
    make_runner: MakeRunner, store: Store
) -> None:
    requests = [ask("keep me raw")]
    sent = await make_runner().run(requests)
    replayed = await make_runner().run(requests)

    assert sent[0].response is not None and sent[0].response.raw is None
    assert replayed[0].cached and replayed[0].response is not None
    assert replayed[0].response.raw is None
    assert replayed[0].response.text == sent[0].response.text
    (record,) = list(store.records())
    assert record.response is not None and record.response["raw"]["choices"]
    assert record.request["messages"] == [["user", "keep me raw"]]


async def test_the_runner_keeps_no_result_once_it_is_yielded(make_runner: MakeRunner) -> None:
    runner = make_runner(concurrency=8)
    requests = [ask(f"forget {n}") for n in range(40)]
    alive: list[weakref.ref[Response]] = []

    async for _, result in runner.stream(requests):
        assert result.response is not None
        alive.append(weakref.ref(result.response))
    del result
    gc.collect()

    assert len(alive) == 40
    assert [ref for ref in alive if ref() is not None] == []


async def test_leaving_the_stream_early_stops_sending(
    fake_server: FakeServer, store: Store, make_runner: MakeRunner
) -> None:
    runner = make_runner(concurrency=1)
    requests = [ask(f"one of many {n}") for n in range(30)]

    stream = runner.stream(requests)
    async for _ in stream:
        break
    await stream.aclose()
    await asyncio.sleep(0.05)

    finished, _ = store.counts()
    assert 1 <= finished <= 2  # the one yielded, and at most the one in flight
    assert fake_server.stats.chat <= 2
    assert runner.stats.elapsed_s > 0


async def test_stream_yields_what_it_got_then_raises_when_the_key_is_rejected(
    make_runner: MakeRunner, store: Store
) -> None:
    runner = make_runner(concurrency=1, prefix_order=False)
    requests = [ask("fine"), ask("<<faults:401>> stop"), ask("never sent")]
    got: list[int] = []

    with pytest.raises(ValuelensError, match="HTTP 401"):
        async for index, _ in runner.stream(requests):
            got.append(index)

    assert got == [0]
    assert store.counts() == (1, 0)


async def test_requests_are_sent_in_prefix_order(
    fake_server: FakeServer, make_runner: MakeRunner
) -> None:
    fake_server.stats.keep_bodies = True
    texts = ["b: second", "a: shared start 2", "c: last", "a: shared start 1", "a: other"]
    requests = [ask(text) for text in texts]

    results = await make_runner(concurrency=1, prefix_order=True).run(requests)

    sent = [body["messages"][-1]["content"] for body in fake_server.stats.bodies]
    assert sent == ["a: other", "a: shared start 1", "a: shared start 2", "b: second", "c: last"]
    assert [r.request.messages[-1].content for r in results] == texts


@pytest.mark.parametrize("setting", [False, None])
async def test_an_http_server_gets_the_callers_order_unless_asked(
    fake_server: FakeServer, make_runner: MakeRunner, setting: bool | None
) -> None:
    fake_server.stats.keep_bodies = True
    texts = ["b", "a", "c"]

    await make_runner(concurrency=1, prefix_order=setting).run([ask(text) for text in texts])

    assert [body["messages"][-1]["content"] for body in fake_server.stats.bodies] == texts


class SlotBackend:
    """A backend with two slots of its own (like llama.cpp) that records the order of calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @property
    def identity(self) -> dict[str, str]:
        return {"kind": "slots", "model": "test", "endpoint": "in-test"}

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(max_concurrency=2)

    async def complete(self, request: Request) -> Response:
        self.calls.append(request.messages[-1].content)
        await asyncio.sleep(0.001)
        return Response(text="1")

    async def aclose(self) -> None:
        return None


async def test_a_backend_with_slots_gets_one_contiguous_lane_per_slot(store: Store) -> None:
    # Prefix order is on by default for a backend with slots; each worker keeps to a lane.
    backend = SlotBackend()
    texts = [f"prompt {letter}" for letter in "jihgfedcba"]  # sorted: a..j
    runner = Runner(backend, store, concurrency=8, progress=False)

    results = await runner.run([ask(text) for text in texts])

    assert all(r.ok for r in results) and runner.concurrency == 2
    assert sorted(backend.calls) == sorted(texts)
    first_lane = [c for c in backend.calls if c[-1] in "abcde"]
    second_lane = [c for c in backend.calls if c[-1] in "fghij"]
    assert first_lane == [f"prompt {x}" for x in "abcde"]
    assert second_lane == [f"prompt {x}" for x in "fghij"]
    assert set(backend.calls[:2]) == {"prompt a", "prompt f"}


def test_lanes_steal_from_the_end_of_the_longest_lane() -> None:
    lanes = _Lanes([(n, str(n)) for n in range(7)], 3)  # [0 1 2] [3 4 5] [6]

    assert lanes.take(2) == (6, "6")
    assert lanes.take(2) == (2, "2")  # lane 2 is empty: the end of the first longest lane
    assert lanes.take(1) == (3, "3")
    assert lanes.take(0) == (0, "0")
    # Left: [1] [4 5] []: the longest first, then ties go to the first lane.
    assert [lanes.take(2) for _ in range(4)] == [(5, "5"), (1, "1"), (4, "4"), None]
