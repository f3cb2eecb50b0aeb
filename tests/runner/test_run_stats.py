"""A run with requests that failed for good says so, and the next run retries them."""

from __future__ import annotations

import json
from collections import Counter

from support.fake_server import FakeServer
from valuelens.models import Message, OpenAIBackend, Request
from valuelens.runner import Runner, RunStats, Store


def ask(text: str) -> Request:
    return Request(messages=(Message("user", text),), max_tokens=8)


async def test_failures_are_counted_summed_up_and_retried_next_run(
    fake_server: FakeServer, store: Store
) -> None:
    fake_server.config.retry_after = "0"
    requests = [ask(f"fine {i}") for i in range(6)]
    requests += [ask(f"<<faults:500,500,500>> storm {i}") for i in range(3)]  # outlasts 2 tries
    requests.append(ask("<<faults:404>> missing"))  # not worth retrying
    requests.append(ask("fine 0"))  # a duplicate: sent once
    backend = OpenAIBackend("fake-model", base_url=fake_server.base_url)
    runner = Runner(backend, store, concurrency=4, progress=False, backoff_s=0.01, max_retries=1)
    try:
        first = await runner.run(requests)
        stats = runner.stats

        assert [r.ok for r in first] == [True] * 6 + [False] * 4 + [True]
        assert (stats.n_requests, stats.n_unique, stats.n_sent, stats.n_failed) == (11, 10, 10, 4)
        assert not stats.complete
        assert stats.failure_reasons == Counter(
            {"HTTP 500: internal error": 3, "HTTP 404: scripted status": 1}
        )
        assert stats.failed_attempts == Counter({2: 3, 1: 1})
        assert stats.most_common_failure == ("HTTP 500: internal error", 3)
        assert stats.failure_line == (
            "4 of 10 requests failed after 1-2 attempts "
            "(most often: HTTP 500: internal error, 3 times); rerun to retry them"
        )
        assert store.counts() == (6, 4)

        # The failures are not "finished": the next run sends exactly those again.
        sent_before = fake_server.stats.chat
        second = await runner.run(requests)
    finally:
        await backend.aclose()

    assert all(r.ok for r in second)
    # Each storm has one scripted 500 left, then an answer; the 404 was for the first try only.
    assert fake_server.stats.chat - sent_before == 3 * 2 + 1
    assert runner.stats.n_cached == 6 and runner.stats.n_sent == 4
    assert runner.stats.complete and runner.stats.failure_line is None
    assert store.counts() == (10, 0)
    # The totals over both runs keep the first run's failures.
    assert runner.totals.n_failed == 4 and runner.totals.n_sent == 14
    assert runner.totals.failure_reasons["HTTP 500: internal error"] == 3


def test_failure_line_wording() -> None:
    one = RunStats(n_unique=440, n_sent=440, n_failed=64)
    one.failure_reasons.update({"HTTP 503: overloaded": 60, "no answer within 120 s": 4})
    one.failed_attempts.update({7: 64})
    assert one.failure_line == (
        "64 of 440 requests failed after 7 attempts "
        "(most often: HTTP 503: overloaded, 60 times); rerun to retry them"
    )
    single = RunStats(n_unique=3, n_sent=3, n_failed=1)
    single.failure_reasons.update({"HTTP 400: bad": 1})
    single.failed_attempts.update({1: 1})
    assert single.failure_line == (
        "1 of 3 requests failed after 1 attempt (most often: HTTP 400: bad, once); "
        "rerun to retry them"
    )
    assert RunStats(n_unique=5, n_sent=5).failure_line is None


def test_stats_add_up_and_serialise() -> None:
    first = RunStats(n_requests=3, n_unique=3, n_sent=3, n_failed=1, warnings=["a"])
    first.failure_reasons.update({"x": 1})
    first.failed_attempts.update({7: 1})
    second = RunStats(n_requests=2, n_unique=2, n_cached=1, n_sent=1, warnings=["a", "b"])

    total = first + second

    assert (total.n_requests, total.n_unique, total.n_failed) == (5, 5, 1)
    assert total.warnings == ["a", "b"]
    document = json.loads(json.dumps(total.as_dict()))
    assert document["complete"] is False
    assert document["failure_reasons"] == {"x": 1}
    assert document["failed_attempts"] == {"7": 1}
