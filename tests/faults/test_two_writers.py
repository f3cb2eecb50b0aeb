"""Two `valuelens evaluate` processes started at once on one run directory.

Exactly one runs; the other stops at once with one line naming the process that holds the
directory (its lock), sends nothing, and nothing crashes on shared temporary files. The run
that went through ends with the baseline's numbers, and `--wait` lets a second process wait
its turn and then answer everything from the cache.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from fault_run import (
    N_REQUESTS,
    Baseline,
    assert_same_tables,
    evaluate_command,
    leftover_temp_files,
    store_rows,
    subprocess_env,
)

from support.evaluate_run import read_summary, scores
from support.fake_server import FaultConfig, serve_in_thread
from valuelens._rundir import LOCK_NAME

CONCURRENCY = 2
# Slow answers keep the first run busy for seconds: the second one starts while it runs.
LATENCY_S = 0.15
CRASH_SIGNS = ("Traceback", "FileNotFoundError", "OSError", ".tmp")


def _start(command: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_two_processes_on_one_run_directory(baseline: Baseline, tmp_path: Path) -> None:
    out = tmp_path / "run"
    with serve_in_thread(FaultConfig(latency_s=LATENCY_S)) as server:
        command = evaluate_command(server.base_url, baseline.via, out, concurrency=CONCURRENCY)
        children = [_start(command), _start(command)]
        finished = [(child, *child.communicate(timeout=180)) for child in children]
        answered = server.stats.ok

    for _, _, stderr in finished:
        assert not any(sign in stderr for sign in CRASH_SIGNS), stderr
    codes = sorted(child.returncode for child, _, _ in finished)
    assert codes == [0, 2], [stderr for _, _, stderr in finished]
    [(winner, _, _)] = [f for f in finished if f[0].returncode == 0]
    [(_, _, refusal)] = [f for f in finished if f[0].returncode == 2]
    lines = refusal.strip().splitlines()
    assert len(lines) == 1, refusal
    assert "in use by process" in lines[0] and str(winner.pid) in lines[0]
    assert "--wait" in lines[0]
    # Nobody paid twice: the server answered each request once.
    assert answered == N_REQUESTS
    assert len(store_rows(out)) == N_REQUESTS
    assert scores(read_summary(out)) == scores(baseline.summary)
    assert_same_tables(out, baseline)
    assert leftover_temp_files(out) == []
    assert not (out / LOCK_NAME).exists()


@pytest.mark.slow
def test_with_wait_the_second_process_takes_its_turn(baseline: Baseline, tmp_path: Path) -> None:
    out = tmp_path / "run"
    with serve_in_thread(FaultConfig(latency_s=LATENCY_S)) as server:
        command = evaluate_command(server.base_url, baseline.via, out, concurrency=CONCURRENCY)
        children = [_start([*command, "--wait"]), _start([*command, "--wait"])]
        finished = [(child, *child.communicate(timeout=180)) for child in children]
        answered = server.stats.ok

    for child, _, stderr in finished:
        assert child.returncode == 0, stderr
        assert not any(sign in stderr for sign in CRASH_SIGNS), stderr
    assert any("waiting for it to finish" in stderr for _, _, stderr in finished)
    assert answered == N_REQUESTS  # the second answered everything from the cache
    summary = read_summary(out)
    assert summary["invocations"] == 2
    assert summary["usage_last_invocation"]["requests_cached"] == N_REQUESTS
    assert scores(summary) == scores(baseline.summary)
    assert leftover_temp_files(out) == []
