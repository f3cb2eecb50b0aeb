"""SIGKILL `valuelens evaluate` at seeded random moments, then resume: nothing lost or duplicated.

One run directory, one fake server (a few random 429s), and a child process killed again and
again: during start-up, while requests are in flight, and at any moment after it holds the run
directory (scoring, writing tables). After the kills, one uninterrupted invocation finishes the
run. The store must hold each request exactly once with the baseline's answers, the server must
have answered at most `concurrency` requests per kill that were never saved, and the summary
must equal the uninterrupted baseline's.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from fault_run import (
    N_REQUESTS,
    Baseline,
    answers,
    assert_same_tables,
    evaluate_command,
    leftover_temp_files,
    store_path,
    store_rows,
    subprocess_env,
)

from support.evaluate_run import read_summary, scores
from support.fake_server import FaultConfig, serve_in_thread
from valuelens._rundir import read_lock_holder

SEED = 20251
CONCURRENCY = 2
KILLS = 6  # launches are killed until this many kills hit a running child
WRITING_KILLS = 2  # the last ones, once every answer is saved
MAX_LAUNCHES = 10
# What a launch waits for before its kill (drawn for the first kills).
MOMENTS = ("startup", "requests", "requests", "anywhere")
WAIT_LIMIT_S = 60.0


def _wait_for(condition: Callable[[], bool], child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + WAIT_LIMIT_S
    while time.monotonic() < deadline and child.poll() is None and not condition():
        time.sleep(0.02)


def _finished(out: Path) -> int:
    return sum(ok for _, ok, _, _ in store_rows(out))


def _kill_at_a_random_moment(
    moment: str, rng: random.Random, child: subprocess.Popen[bytes], out: Path
) -> bool:
    """Wait as `moment` says, then SIGKILL the child; True if it was still running.

    `startup`: a moment in the first 1.5 s (imports, reading the inputs); `requests`: once a
    few more answers are saved, in the middle of the next ones; `anywhere`: up to 4 s after
    the child took the run directory (requests, scoring, writing the tables); `writing`: up
    to 1.5 s after every answer is saved (scoring, writing the tables and the summary).
    """
    if moment == "startup":
        time.sleep(rng.uniform(0.2, 1.5))
    else:
        _wait_for(lambda: getattr(read_lock_holder(out), "pid", None) == child.pid, child)
        if moment == "requests":
            target = _finished(out) + rng.randint(2, 7)
            _wait_for(lambda: _finished(out) >= target, child)
            time.sleep(rng.uniform(0.0, 0.15))
        elif moment == "writing":
            _wait_for(lambda: _finished(out) >= N_REQUESTS, child)
            time.sleep(rng.uniform(0.0, 1.5))
        else:
            time.sleep(rng.uniform(0.0, 4.0))
    if child.poll() is not None:
        return False
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    return True


def _force_a_full_write(out: Path) -> None:
    """Make the next launch score and write every table again.

    A rerun of a complete run with the same inputs keeps its tables (`pipeline._reuse`) and
    rewrites only the summary; without a table file it computes and writes everything.
    """
    (out / "pairs.csv").unlink(missing_ok=True)


def _check_after_kill(out: Path) -> None:
    """What a kill may leave: an intact store, and whole files or none."""
    if (path := store_path(out)).exists():
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        finally:
            db.close()
    if (out / "summary.json").exists():
        json.loads((out / "summary.json").read_text(encoding="utf-8"))
    for table in out.glob("*.parquet"):
        if not table.name.startswith("."):
            pd.read_parquet(table)


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume(baseline: Baseline, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    out = tmp_path / "run"
    env = subprocess_env()
    kills: list[str] = []
    saved_before: set[str] = set()
    with serve_in_thread(FaultConfig(latency_s=0.15, p429=0.05, retry_after="0", seed=3)) as server:
        command = evaluate_command(server.base_url, baseline.via, out, concurrency=CONCURRENCY)
        launches = 0
        while len(kills) < KILLS and launches < MAX_LAUNCHES:
            launches += 1
            early = len(kills) < KILLS - WRITING_KILLS and len(saved_before) < N_REQUESTS
            moment = rng.choice(MOMENTS) if early else "writing"
            if moment == "writing":
                _force_a_full_write(out)
            child = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            try:
                killed = _kill_at_a_random_moment(moment, rng, child, out)
            finally:
                if child.poll() is None:
                    child.kill()
                _, stderr = child.communicate(timeout=60)
            saved = {key for key, ok, _, _ in store_rows(out) if ok}
            if killed:
                kills.append(f"{moment} at {len(saved)}/{N_REQUESTS}")
            else:  # it finished first: fine, but then it must have finished cleanly
                assert child.returncode == 0, stderr.decode()
            _check_after_kill(out)
            assert saved >= saved_before  # a kill never takes back a committed answer
            saved_before = saved

        final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
        answered = server.stats.ok

    assert final.returncode == 0, final.stderr
    assert "Traceback" not in final.stderr
    assert len(kills) == KILLS, kills
    rows = store_rows(out)
    assert len(rows) == N_REQUESTS == len({key for key, *_ in rows})
    assert all(ok for _, ok, _, _ in rows)
    assert answers(out) == baseline.answers
    # Only what was in flight at a kill is asked again.
    assert N_REQUESTS <= answered <= N_REQUESTS + CONCURRENCY * len(kills)
    summary = read_summary(out)
    assert summary["complete"] is True
    assert scores(summary) == scores(baseline.summary)
    assert_same_tables(out, baseline)
    assert leftover_temp_files(out) == []
    print(f"{len(kills)} kills in {launches} launches ({', '.join(kills)}); {answered} answers")
