"""A batch run stopped after its submission resumes: the rerun polls the batch, submits nothing."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from support.fake_batch import BatchConfig, FakeBatchServer
from support.fake_server import FaultConfig, run_in_thread
from valuelens.models import AnthropicBackend, Backend, Message, OpenAIBackend, Request
from valuelens.runner import BatchJournal, BatchRunner, Store

N_REQUESTS = 12

CLIENT = textwrap.dedent(
    """
    import sys
    from valuelens.models import Message, OpenAIBackend, Request
    from valuelens.runner import BatchRunner, Store

    base_url, store_path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    requests = [Request(messages=(Message("user", f"item {i}"),), max_tokens=4) for i in range(n)]
    runner = BatchRunner(
        OpenAIBackend("fake-model", base_url=base_url), Store(store_path),
        poll_interval_s=0.02, max_poll_interval_s=0.05,
    )
    results = runner.run_sync(requests)
    print(sum(result.ok for result in results), runner.stats.n_sent)
    """
)


def wait_for_submission(store_path: Path, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not BatchJournal(store_path).jobs(state="submitted"):
        assert time.monotonic() < deadline, "the batch was never recorded as submitted"
        time.sleep(0.02)


@pytest.mark.slow
def test_killed_after_submission_the_rerun_polls_the_same_batch(tmp_path: Path) -> None:
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    store_path = tmp_path / "store.sqlite"
    fake = FakeBatchServer(FaultConfig(), BatchConfig(polls_to_finish=3, paused=True))

    with run_in_thread(fake) as server:
        command = [sys.executable, str(script), server.base_url, str(store_path), str(N_REQUESTS)]
        client = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_for_submission(store_path)
            time.sleep(0.1)  # a poll or two of the paused batch
        finally:
            client.send_signal(signal.SIGKILL)
            _, first_err = client.communicate(timeout=60)
        assert client.returncode == -signal.SIGKILL
        assert b"submitted batch batch_" in first_err
        assert server.batch_stats.openai_batches == 1
        with Store(store_path) as store:
            assert store.counts() == (0, 0)

        server.batch.paused = False
        rerun = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)

        assert rerun.stdout.split() == [str(N_REQUESTS), str(N_REQUESTS)]
        assert "resuming batch batch_" in rerun.stderr
        assert "submitted batch" not in rerun.stderr
        assert server.batch_stats.openai_batches == 1
        assert server.batch_stats.uploads == 1
        assert server.stats.chat == 0
    with Store(store_path) as store:
        assert store.counts() == (N_REQUESTS, 0)
    assert [job.state for job in BatchJournal(store_path).jobs()] == ["collected"]


def backend_for(provider: str, server: FakeBatchServer) -> Backend:
    if provider == "openai":
        return OpenAIBackend("fake-model", base_url=server.base_url)
    return AnthropicBackend("claude-fake", base_url=server.anthropic_base_url)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_cancelled_while_polling_the_next_run_collects_without_resubmitting(
    provider: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-valuelens-dummy")
    server = await FakeBatchServer(batch=BatchConfig(polls_to_finish=2, paused=True)).start()
    requests = [Request(messages=(Message("user", f"item {i}"),), max_tokens=4) for i in range(5)]
    options = {"poll_interval_s": 0.01, "max_poll_interval_s": 0.02, "progress": False}
    backend = backend_for(provider, server)
    try:
        with Store(tmp_path / "store.sqlite") as store:
            first = BatchRunner(backend, store, **options)  # type: ignore[arg-type]
            task = asyncio.create_task(first.run(requests))
            while server.batch_stats.polls < 2:  # submitted, recorded, polled
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

            waiting = BatchRunner(backend, store, **options).estimate(requests)  # type: ignore[arg-type]
            assert (waiting.n_submitted, waiting.n_to_send) == (5, 0)

            server.batch.paused = False
            second = BatchRunner(backend, store, **options)  # type: ignore[arg-type]
            results = await second.run(requests)
    finally:
        await backend.aclose()
        await server.close()

    assert [r.response.text for r in results if r.response] == [f"echo: item {i}" for i in range(5)]
    assert server.batch_stats.openai_batches + server.batch_stats.anthropic_batches == 1
    assert server.batch_stats.lines == 5
    assert second.stats.n_sent == 5
