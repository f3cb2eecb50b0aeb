"""`valuelens evaluate` on the small scenario against the chaos server.

Every Task 2 prompt carries a fault script (see `SCRIPTS` in conftest.py) and seeded random
faults of every kind come on top. Whatever the server does, the run either retries to the
answers a clean server gives, ending with the baseline's numbers, or records the requests that
failed for good, says so (exit status 3, `"complete": false`) and finishes them on the rerun.
The runner gets short time limits and backoff here, so that hangs and retries cost seconds.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from chaos_server import TRANSIENT_KINDS, ChaosConfig, chaos_in_thread, uniform_rates
from fault_run import (
    DUMMY_KEY,
    N_ACTION,
    N_REQUESTS,
    N_VARIANTS,
    SCRIPTED_KINDS,
    Baseline,
    answers,
    assert_same_tables,
    evaluate_in_process,
    leftover_temp_files,
    patch_runner,
    store_rows,
)

from support.evaluate_run import read_summary, scores
from support.fake_server import FaultConfig

TIMEOUT_S = 1.5
FAST = {"timeout_s": TIMEOUT_S, "backoff_s": 0.01, "max_backoff_s": 0.05}
FAILING_VALUES = ("Wealth", "Honest")  # their scripts have 3 faults; Freedom's have 2


def chaos_config(rate: float, seed: int) -> ChaosConfig:
    return ChaosConfig(
        base=FaultConfig(latency_s=0.001, retry_after="0", hang_s=3 * TIMEOUT_S, seed=seed),
        rates=uniform_rates(rate, (*TRANSIENT_KINDS, "plainjson")) if rate else {},
        # 3 scripted + 2 random faults at most: fewer than the runner's 7 attempts.
        max_random_faults=2,
    )


def test_every_fault_kind_through_evaluate_ends_with_the_clean_numbers(
    baseline: Baseline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch_runner(monkeypatch, **FAST)
    out = tmp_path / "run"
    with chaos_in_thread(chaos_config(0.3, seed=5)) as server:
        result = evaluate_in_process(server.base_url, baseline.via, out)
        faults = dict(server.stats.faults)
        chat = server.stats.chat

    assert result.exception is None, result.output
    assert result.exit_code == 0, result.output
    assert set(faults) >= SCRIPTED_KINDS
    assert sum(faults.values()) >= 2 * N_ACTION  # two or three scripted faults per Task 2 prompt
    summary = read_summary(out)
    assert summary["complete"] is True and summary["requests_failed_by_stage"] == {}
    assert scores(summary) == scores(baseline.summary)
    assert_same_tables(out, baseline)
    assert answers(out) == baseline.answers
    rows = store_rows(out)
    assert len(rows) == N_REQUESTS == len({key for key, *_ in rows})
    assert all(ok for _, ok, _, _ in rows)
    usage = summary["usage_last_invocation"]
    assert usage["requests_sent"] == N_REQUESTS and usage["requests_failed"] == 0
    assert chat >= N_REQUESTS + sum(faults.values()) - faults.get("plainjson", 0)
    assert leftover_temp_files(out) == []
    assert DUMMY_KEY not in result.output


def test_requests_that_outlast_the_retries_are_recorded_then_finished_by_the_rerun(
    baseline: Baseline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch_runner(monkeypatch, **FAST, max_retries=2)  # 3 attempts: Wealth and Honest fail
    out = tmp_path / "run"
    n_failing = len(FAILING_VALUES) * N_VARIANTS
    with chaos_in_thread(chaos_config(0.0, seed=6)) as server:
        first = evaluate_in_process(server.base_url, baseline.via, out)
        summary = read_summary(out)
        action = pd.read_parquet(out / "responses_action.parquet")
        rows = store_rows(out)

        patch_runner(monkeypatch, **FAST)  # the runner's usual 7 attempts
        second = evaluate_in_process(server.base_url, baseline.via, out)

    assert first.exception is None, first.output
    assert first.exit_code == 3, first.output
    assert summary["complete"] is False
    assert summary["requests_failed_by_stage"] == {"action": n_failing}
    line = summary["incomplete"]
    assert line.startswith(f"{n_failing} of {N_REQUESTS} requests failed after 3 attempts")
    assert "\n" not in line and " ".join(line.split()[:6]) in " ".join(first.output.split())
    # Every failed request is in the store, with its error; every answer too.
    failed = [error for _, ok, _, error in rows if not ok]
    assert len(rows) == N_REQUESTS and len(failed) == n_failing
    assert all(error and "gave up after 3 attempts" in error for error in failed)
    # ... and in the table, one row per pair and variant, with its parse status.
    assert len(action) == N_ACTION
    lost = action["value"].isin(FAILING_VALUES)
    assert (action.loc[lost, "parse_status"] == "error").all()
    assert action.loc[lost, "error"].str.contains("gave up after 3 attempts").all()
    assert action.loc[lost, "choice"].isna().all()
    expected = baseline.tables["action"].set_index(["value", "variant"])
    kept = action[~lost].set_index(["value", "variant"])
    assert (kept["parse_status"] == "ok").all()
    assert kept["raw"].equals(expected.loc[kept.index, "raw"])
    # The two pairs without any answer are left out of the scores, and counted.
    assert summary["n_pairs_without_choice"] == len(FAILING_VALUES)
    assert summary["n_pairs_scored"] == len(baseline.summary["ranking_topics"]) == 1

    assert second.exception is None, second.output
    assert second.exit_code == 0, second.output
    again = read_summary(out)
    assert again["complete"] is True and "incomplete" not in again
    assert scores(again) == scores(baseline.summary)
    assert_same_tables(out, baseline)
    assert answers(out) == baseline.answers
    assert len(store_rows(out)) == N_REQUESTS
    last = again["usage_last_invocation"]
    assert last["requests_sent"] == n_failing and last["requests_cached"] == N_REQUESTS - n_failing
    assert again["usage"]["requests_sent"] == N_REQUESTS + n_failing
    assert again["usage"]["requests_failed"] == n_failing
    assert leftover_temp_files(out) == []
