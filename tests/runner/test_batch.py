"""Batch submission against local fakes of the OpenAI Batch API and Anthropic Message Batches."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import pytest

from support.fake_batch import BatchConfig, FakeBatchServer
from support.fake_server import FaultConfig
from valuelens import ValuelensError
from valuelens.models import (
    AnthropicBackend,
    Backend,
    BackendError,
    Message,
    OpenAIBackend,
    Request,
    load_backend,
)
from valuelens.models._args import ModelArgs, with_model_args
from valuelens.runner import BatchJournal, BatchRunner, Runner, Store
from valuelens.runner._batch import batch_provider

OPENAI_KEY = "sk-valuelens-batch-dummy-openai"
ANTHROPIC_KEY = "sk-ant-valuelens-batch-dummy"
SCHEMA = {
    "type": "object",
    "properties": {"choice": {"type": "string", "enum": ["1", "2"]}},
    "required": ["choice"],
    "additionalProperties": False,
}


def ask(text: str, **settings: object) -> Request:
    return Request(messages=(Message("user", text),), max_tokens=8, **settings)  # type: ignore[arg-type]


def echo(text: str) -> str:
    """What both fakes answer to a prompt without a schema (see tests/support/fake_server.py)."""
    return "echo: " + text[-40:]


@pytest.fixture
async def server() -> AsyncIterator[FakeBatchServer]:
    fake = await FakeBatchServer(FaultConfig(), BatchConfig(polls_to_finish=3)).start()
    yield fake
    await fake.close()


@pytest.fixture(autouse=True)
def _dummy_keys(monkeypatch: pytest.MonkeyPatch, _no_real_keys: None) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)


MakeBackend = Callable[[], Backend]


@pytest.fixture(params=["openai", "anthropic"])
async def make_backend(
    request: pytest.FixtureRequest, server: FakeBatchServer
) -> AsyncIterator[MakeBackend]:
    """Backends of one provider on the fake; closed afterwards."""
    made: list[Backend] = []

    def build() -> Backend:
        backend: Backend
        if request.param == "openai":
            backend = OpenAIBackend("fake-model", base_url=server.base_url)
        else:
            backend = AnthropicBackend("claude-fake", base_url=server.anthropic_base_url)
        made.append(backend)
        return backend

    yield build
    for backend in made:
        await backend.aclose()


def batch_runner(backend: Backend, store: Store, **options: object) -> BatchRunner:
    settings: dict[str, object] = {
        "poll_interval_s": 0.01,
        "max_poll_interval_s": 0.02,
        "progress": False,
    }
    settings.update(options)
    return BatchRunner(backend, store, **settings)  # type: ignore[arg-type]


def batches_created(server: FakeBatchServer) -> int:
    return server.batch_stats.openai_batches + server.batch_stats.anthropic_batches


def direct_count(server: FakeBatchServer) -> int:
    return server.stats.chat + server.stats.messages


async def test_batch_end_to_end_then_a_normal_run_sends_nothing(
    server: FakeBatchServer, store: Store, make_backend: MakeBackend
) -> None:
    texts = [f"question {i}" for i in range(5)]
    requests = [ask(text) for text in texts] + [ask(texts[0])]  # a duplicate is submitted once
    runner = batch_runner(make_backend(), store)

    results = await runner.run(requests)

    assert [r.request for r in results] == requests
    assert [r.response.text if r.response else r.error for r in results] == [
        echo(text) for text in [*texts, texts[0]]
    ]
    assert all(not r.cached and r.error is None for r in results)
    assert batches_created(server) == 1
    assert server.batch_stats.lines == 5
    assert server.batch_stats.rejected == []
    assert direct_count(server) == 0
    assert store.counts() == (5, 0)
    assert (runner.stats.n_sent, runner.stats.n_failed, runner.stats.n_unique) == (5, 0, 5)

    plain = Runner(make_backend(), store, progress=False)
    again = await plain.run(requests)
    assert all(r.cached and r.ok for r in again)
    assert [r.response.text for r in again if r.response] == [
        r.response.text for r in results if r.response
    ]
    assert direct_count(server) == 0


async def test_batch_lines_are_the_requests_the_runner_sends(
    server: FakeBatchServer, tmp_path: Path, make_backend: MakeBackend
) -> None:
    system = Message("system", "Answer with one choice.")
    requests = [
        Request(
            messages=(system, Message("user", "pick 1 or 2")), max_tokens=16, json_schema=SCHEMA
        ),
        Request(messages=(Message("user", "say hi"),), temperature=0.7, max_tokens=5, seed=3),
    ]
    server.stats.keep_bodies = True
    with Store(tmp_path / "direct.sqlite") as direct_store:
        await Runner(make_backend(), direct_store, progress=False).run(requests)
    sent_directly = list(server.stats.bodies)
    server.stats.bodies.clear()

    with Store(tmp_path / "batch.sqlite") as batch_store:
        results = await batch_runner(make_backend(), batch_store).run(requests)

    assert all(r.ok for r in results)
    assert server.stats.bodies == []  # nothing went one by one
    assert submitted_bodies(server) == sent_directly


async def test_model_arguments_reach_the_batch_lines_and_the_keys(
    server: FakeBatchServer, store: Store, make_backend: MakeBackend
) -> None:
    args = ModelArgs.parse(["top_p=0.5", "stop=END"])
    requests = [ask("with arguments"), ask("and again")]
    server.stats.keep_bodies = True
    with Store(store.path.with_name("direct.sqlite")) as direct_store:
        await Runner(with_model_args(make_backend(), args), direct_store, progress=False).run(
            requests
        )
    sent_directly = list(server.stats.bodies)
    server.stats.bodies.clear()

    results = await batch_runner(with_model_args(make_backend(), args), store).run(requests)

    assert all(r.ok for r in results)
    assert submitted_bodies(server) == sent_directly
    assert all(body.get("top_p") == 0.5 for body in sent_directly)
    plain = Runner(with_model_args(make_backend(), args), store, progress=False)
    assert all(r.cached for r in await plain.run(requests))
    without_args = Runner(make_backend(), store, progress=False)
    assert not any(r.cached for r in await without_args.run(requests))  # other keys


def submitted_bodies(server: FakeBatchServer) -> list[dict[str, object]]:
    """The request bodies inside the batches the fake received, in submission order."""
    bodies = []
    for job in server._jobs.values():
        for line in job.lines:
            bodies.append(line["body"] if job.provider == "openai" else line["params"])
    return bodies


async def test_failed_and_expired_lines_are_failures_that_the_next_run_resubmits(
    server: FakeBatchServer, store: Store, make_backend: MakeBackend
) -> None:
    texts = ["fine 1", "broken <<batch:fail>>", "late <<batch:expire>>", "fine 2"]
    requests = [ask(text) for text in texts]
    runner = batch_runner(make_backend(), store)

    first = await runner.run(requests)

    assert [r.ok for r in first] == [True, False, False, True]
    assert first[1].error is not None and "scripted batch failure" in first[1].error
    assert first[2].error is not None and "expire" in first[2].error
    assert runner.stats.n_failed == 2
    assert runner.stats.failure_line is not None
    assert store.counts() == (2, 2)

    second = await runner.run(requests)

    assert [r.response.text if r.response else r.error for r in second] == [echo(t) for t in texts]
    assert [r.cached for r in second] == [True, False, False, True]
    assert batches_created(server) == 2
    assert server.batch_stats.lines == 4 + 2  # only the two failures went again
    assert store.counts() == (4, 0)


async def test_openai_line_that_is_not_a_chat_completion_fails_with_its_reason(
    server: FakeBatchServer, store: Store
) -> None:
    backend = OpenAIBackend("fake-model", base_url=server.base_url)
    results = await batch_runner(backend, store).run([ask("odd <<batch:garbage>>"), ask("ok")])

    assert results[0].error is not None and "invalid response body" in results[0].error
    assert results[1].ok


async def test_a_batch_that_fails_validation_fails_each_request(store: Store) -> None:
    fake = await FakeBatchServer(batch=BatchConfig(polls_to_finish=1, fail_validation=True)).start()
    try:
        backend = OpenAIBackend("fake-model", base_url=fake.base_url)
        results = await batch_runner(backend, store).run([ask("a"), ask("b")])
    finally:
        await fake.close()

    assert [r.ok for r in results] == [False, False]
    assert all(r.error and r.error.startswith("the batch failed: scripted") for r in results)
    assert BatchJournal(store.path).jobs(state="submitted") == []


async def test_chunks_respect_the_line_limit(
    server: FakeBatchServer, store: Store, make_backend: MakeBackend
) -> None:
    requests = [ask(f"item {i}") for i in range(5)]
    results = await batch_runner(make_backend(), store, max_lines=2).run(requests)

    assert [r.response.text for r in results if r.response] == [echo(f"item {i}") for i in range(5)]
    assert batches_created(server) == 3
    assert [len(job.lines) for job in server._jobs.values()] == [2, 2, 1]


async def test_chunks_respect_the_byte_limit(server: FakeBatchServer, store: Store) -> None:
    backend = OpenAIBackend("fake-model", base_url=server.base_url)
    requests = [ask(f"item {i} " + "x" * 300) for i in range(4)]
    line_bytes = len(batch_runner(backend, store)._batches.line("k" * 64, requests[0])) + 1
    results = await batch_runner(backend, store, max_bytes=2 * line_bytes).run(requests)

    assert all(r.ok for r in results)
    assert [len(job.lines) for job in server._jobs.values()] == [2, 2]


async def test_dry_run_shows_half_the_standard_price_and_writes_nothing(
    server: FakeBatchServer, tmp_path: Path
) -> None:
    prices = {"openai:fake-model": {"input": 2.0, "output": 8.0}}
    requests = [ask(f"question number {i}") for i in range(10)]
    path = tmp_path / "new" / "store.sqlite"
    backend = OpenAIBackend("fake-model", base_url=server.base_url)
    with Store(path) as store:
        standard = Runner(backend, store, progress=False, price_table=prices).estimate(requests)
        batch = batch_runner(backend, store, price_table=prices).estimate(requests)

    expected = (standard.prompt_tokens * 2.0 + standard.completion_tokens * 8.0) / 1e6
    assert standard.cost_usd == pytest.approx(expected)
    assert batch.cost_usd == pytest.approx(expected / 2)
    assert batch.standard_cost_usd == pytest.approx(expected)
    assert (batch.n_to_send, batch.n_cached, batch.n_submitted) == (10, 0, 0)
    assert "batch price" in batch.summary()
    assert not path.exists()
    assert server.stats.requests == 0


async def test_progress_lines_name_the_batch_and_its_states(
    server: FakeBatchServer, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    backend = OpenAIBackend("fake-model", base_url=server.base_url)
    await batch_runner(backend, store, progress=True).run([ask("a"), ask("b")])

    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("openai:fake-model: submitted batch batch_")
    states = [line.split(":")[2].split()[2] for line in lines[1:]]
    assert states == ["validating", "in_progress", "completed"]
    assert lines[-1].endswith("2/2 done, 0 failed, waited 0:00:00")


async def test_key_comes_from_the_environment_and_is_never_stored(
    server: FakeBatchServer, store: Store, make_backend: MakeBackend
) -> None:
    await batch_runner(make_backend(), store).run([ask("secret?")])

    sent = set(server.batch_stats.credentials)
    assert sent in ({f"Bearer {OPENAI_KEY}"}, {f"Bearer {ANTHROPIC_KEY}"}, {ANTHROPIC_KEY})
    files = [store.path, *store.path.parent.glob(store.path.name + "-*")]
    for file in files:
        content = file.read_bytes()
        assert OPENAI_KEY.encode() not in content and ANTHROPIC_KEY.encode() not in content


async def test_a_batch_unknown_to_the_provider_stops_the_run_and_stays_recorded(
    server: FakeBatchServer, store: Store, make_backend: MakeBackend
) -> None:
    # A 404 may only mean other credentials (another OpenAI project): the paid batch is kept.
    backend = make_backend()
    runner = batch_runner(backend, store)
    requests = [ask("lost 1"), ask("lost 2")]
    owner = {**backend.identity}
    entries = [(runner.key(r), json.dumps({"stand": "in"}), None) for r in requests]
    job = runner.journal.begin(owner, entries)
    runner.journal.submitted(job, "batch_never_created")

    for _ in range(2):  # a rerun neither resubmits nor forgets it
        with pytest.raises(ValuelensError, match=r"batch batch_never_created is unknown to .*kept"):
            await runner.run(requests)
        assert [j.state for j in runner.journal.jobs()] == ["submitted"]
        assert sorted(runner.journal.keys(job)) == sorted(e[0] for e in entries)
    assert batches_created(server) == 0
    assert store.counts() == (0, 0)


async def test_an_interrupted_submission_is_reported_and_submitted_again(
    server: FakeBatchServer, store: Store, make_backend: MakeBackend
) -> None:
    backend = make_backend()
    warnings: list[str] = []
    runner = batch_runner(backend, store, warn=warnings.append)
    request = ask("half sent")
    runner.journal.begin(backend.identity, [(runner.key(request), "{}", None)])

    results = await runner.run([request])

    assert results[0].ok
    assert len(warnings) == 1 and "interrupted before the provider answered" in warnings[0]
    assert runner.stats.warnings == warnings
    assert [job.state for job in runner.journal.jobs()] == ["abandoned", "collected"]


async def test_a_pool_of_endpoints_has_no_batch_api(server: FakeBatchServer, store: Store) -> None:
    pool = load_backend("openai:fake-model", base_urls=[server.base_url, "http://127.0.0.1:9/v1"])
    with pytest.raises(ValuelensError, match="one endpoint, not openai:fake-model on several"):
        BatchRunner(pool, store)
    await pool.aclose()


async def test_read_only_store_with_missing_requests_is_refused(
    server: FakeBatchServer, tmp_path: Path
) -> None:
    path = tmp_path / "store.sqlite"
    backend = OpenAIBackend("fake-model", base_url=server.base_url)
    with Store(path) as store:
        await batch_runner(backend, store).run([ask("kept")])
    with Store(path, read_only=True) as store:
        runner = batch_runner(backend, store)
        assert [r.ok for r in await runner.run([ask("kept")])] == [True]
        with pytest.raises(ValuelensError, match="read-only"):
            await runner.run([ask("new")])
    assert batches_created(server) == 1


async def test_failed_status_checks_are_retried_then_stop_the_run_for_a_later_resume(
    server: FakeBatchServer, store: Store, make_backend: MakeBackend
) -> None:
    requests = [ask("patience 1"), ask("patience 2")]
    server.batch.failing_polls = 2
    results = await batch_runner(make_backend(), store, max_poll_errors=3).run(requests)
    assert all(r.ok for r in results)
    assert server.batch_stats.failed_polls == 2

    more = [ask("patience 3")]
    server.batch.failing_polls = 5
    with pytest.raises(ValuelensError, match="HTTP 500: scripted poll failure; it is recorded"):
        await batch_runner(make_backend(), store, max_poll_errors=2).run(more)
    assert len(BatchJournal(store.path).jobs(state="submitted")) == 1

    server.batch.failing_polls = 0
    again = await batch_runner(make_backend(), store).run(more)
    assert [r.response.text for r in again if r.response] == [echo("patience 3")]
    assert batches_created(server) == 2


class FaultyBatches:
    """The backend's real batch API with one scripted fault (fault injection only)."""

    def __init__(self, backend: Backend, journal: BatchJournal) -> None:
        self.inner = batch_provider(backend)
        self.journal = journal
        self.lose_answer: BackendError | None = None  # raised after the batch was created
        self.take_over = False  # another run abandons the job while it is being submitted
        self.collected_elsewhere = False  # another run collects the batch first

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def submit(self, lines: Sequence[bytes]) -> str:
        batch_id = await self.inner.submit(lines)
        if self.take_over:
            for job in self.journal.jobs(state="submitting"):
                self.journal.finish(job.job, "abandoned", "taken over")
        if self.lose_answer is not None:
            raise self.lose_answer
        return batch_id

    async def results(self, batch_id: str) -> AsyncIterator[object]:
        if self.collected_elsewhere:
            for job in self.journal.jobs(state="submitted"):
                self.journal.finish(job.job, "collected")
        async for line in self.inner.results(batch_id):
            yield line


def faulty_runner(backend: Backend, store: Store, **options: object) -> BatchRunner:
    faulty = FaultyBatches(backend, BatchJournal(store.path))
    return batch_runner(backend, store, provider=faulty, **options)


def set_holder(store: Store, job: int, pid: int) -> None:
    with sqlite3.connect(store.path) as db:
        holder = json.dumps({"host": socket.gethostname(), "pid": pid, "at": 0})
        db.execute("UPDATE batch_jobs SET holder = ? WHERE job = ?", (holder, job))


async def test_a_submission_of_a_live_process_is_left_alone_and_a_dead_ones_is_taken(
    server: FakeBatchServer, store: Store, make_backend: MakeBackend
) -> None:
    backend = make_backend()
    warnings: list[str] = []
    runner = batch_runner(backend, store, warn=warnings.append)
    other = ask("in flight elsewhere")
    job = runner.journal.begin(backend.identity, [(runner.key(other), "{}", None)])
    set_holder(store, job, os.getppid())  # a live process on this host

    assert [r.ok for r in await runner.run([ask("mine")])] == [True]

    assert warnings == []
    assert runner.journal.jobs()[0].state == "submitting"
    assert runner.journal.keys(job) == [runner.key(other)]

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    set_holder(store, job, int(gone.stdout))  # a process that has ended
    assert [r.ok for r in await runner.run([ask("mine again")])] == [True]
    assert len(warnings) == 1 and "interrupted before the provider answered" in warnings[0]
    assert runner.journal.jobs()[0].state == "abandoned"


async def test_a_job_taken_over_during_its_submission_fails_its_requests_clearly(
    server: FakeBatchServer, store: Store, make_backend: MakeBackend
) -> None:
    runner = faulty_runner(make_backend(), store, warn=lambda _: None)
    faulty = runner._batches
    assert isinstance(faulty, FaultyBatches)
    faulty.take_over = True

    results = await runner.run([ask("taken 1"), ask("taken 2")])

    assert [r.ok for r in results] == [False, False]
    assert all(r.error and "took this batch submission over" in r.error for r in results)
    assert [job.state for job in runner.journal.jobs()] == ["abandoned"]  # not set back
    assert runner.journal.submitted(runner.journal.jobs()[0].job, "batch_x") is False


async def test_a_batch_collected_by_another_run_meanwhile_still_answers_this_run(
    server: FakeBatchServer, store: Store, make_backend: MakeBackend
) -> None:
    runner = faulty_runner(make_backend(), store)
    faulty = runner._batches
    assert isinstance(faulty, FaultyBatches)
    faulty.collected_elsewhere = True

    results = await runner.run([ask("twice 1"), ask("twice 2")])

    assert [r.response.text for r in results if r.response] == [echo("twice 1"), echo("twice 2")]


async def test_a_lost_answer_to_the_submission_keeps_the_job_for_the_next_runs_warning(
    server: FakeBatchServer, store: Store, make_backend: MakeBackend
) -> None:
    backend = make_backend()
    runner = faulty_runner(backend, store)
    faulty = runner._batches
    assert isinstance(faulty, FaultyBatches)
    faulty.lose_answer = BackendError("ReadError: connection reset", retryable=True)
    requests = [ask("reset 1")]

    with pytest.raises(ValuelensError, match="answer to the batch submission was lost"):
        await runner.run(requests)

    assert [job.state for job in runner.journal.jobs()] == ["submitting"]
    assert batches_created(server) == 1  # it did reach the provider
    warnings: list[str] = []
    again = await batch_runner(backend, store, warn=warnings.append).run(requests)
    assert [r.ok for r in again] == [True]
    assert len(warnings) == 1 and "cancel it in the provider's console" in warnings[0]


async def test_a_submission_refused_with_an_http_status_is_abandoned(
    server: FakeBatchServer, store: Store, make_backend: MakeBackend
) -> None:
    runner = faulty_runner(make_backend(), store)
    faulty = runner._batches
    assert isinstance(faulty, FaultyBatches)
    faulty.lose_answer = BackendError("HTTP 500: overloaded", retryable=True, status=500)

    with pytest.raises(ValuelensError, match="cannot submit the batch: HTTP 500"):
        await runner.run([ask("refused")])

    assert [job.state for job in runner.journal.jobs()] == ["abandoned"]
