"""A run killed with SIGKILL (or stopped with Ctrl-C) resumes, redoing only what was in flight."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from support.fake_server import FaultConfig, serve_in_thread
from valuelens.runner import Store

N_REQUESTS = 300
CONCURRENCY = 8

CLIENT = textwrap.dedent(
    """
    import sys
    from valuelens.models import Message, OpenAIBackend, Request
    from valuelens.runner import Runner, Store

    base_url, store_path, n, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    requests = [Request(messages=(Message("user", f"item {i}"),), max_tokens=4) for i in range(n)]
    runner = Runner(
        OpenAIBackend("fake-model", base_url=base_url), Store(store_path),
        concurrency=concurrency, progress=False,
    )
    results = runner.run_sync(requests)
    print(sum(result.ok for result in results))
    """
)


def finished_count(path: Path) -> int:
    with Store(path) as store:
        return store.counts()[0]


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "Ctrl-C"])
def test_stop_then_resume_loses_only_requests_in_flight(tmp_path: Path, stop: int) -> None:
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    store_path = tmp_path / "store.sqlite"

    with serve_in_thread(FaultConfig(latency_s=0.02)) as server:
        command = [
            sys.executable,
            str(script),
            server.base_url,
            str(store_path),
            str(N_REQUESTS),
            str(CONCURRENCY),
        ]
        client = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while server.stats.ok < N_REQUESTS // 3 and time.monotonic() < deadline:
            time.sleep(0.002)
        client.send_signal(stop)
        client.communicate(timeout=60)
        time.sleep(0.2)  # let the server read whatever the client had already written
        sent_first = server.stats.chat
        finished_first = finished_count(store_path)

        assert client.returncode != 0
        assert 0 < finished_first < N_REQUESTS
        assert sent_first - finished_first <= CONCURRENCY

        rerun = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
        sent_second = server.stats.chat - sent_first

    assert rerun.stdout.strip() == str(N_REQUESTS)
    assert sent_second == N_REQUESTS - finished_first
    assert finished_count(store_path) == N_REQUESTS
