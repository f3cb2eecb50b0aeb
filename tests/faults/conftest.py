"""Fixtures of the fault suite: the clean baseline run, and a dummy key for every test.

Shared helpers and the scenario are in fault_run.py, the chaos server in chaos_server.py.
"""

from __future__ import annotations

import httpx2  # noqa: F401  (imported now, not inside the first request's time limit)
import openai  # noqa: F401
import pytest
from fault_run import (
    DUMMY_KEY,
    N_REQUESTS,
    VALUES,
    Baseline,
    answers,
    evaluate_in_process,
    response_tables,
    write_via,
)

from support.evaluate_run import read_summary
from support.fake_server import FaultConfig, serve_in_thread


@pytest.fixture(scope="session")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    via = write_via(tmp_path_factory.mktemp("scenario") / "via.csv")
    out = tmp_path_factory.mktemp("baseline") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPENAI_API_KEY", DUMMY_KEY)
        patch.delenv("ANTHROPIC_API_KEY", raising=False)
        with serve_in_thread(FaultConfig(latency_s=0.001)) as server:
            result = evaluate_in_process(server.base_url, via, out)
            assert server.stats.ok == N_REQUESTS and not server.stats.faults
    assert result.exception is None and result.exit_code == 0, result.output
    summary = read_summary(out)
    assert summary["complete"] is True and summary["n_pairs"] == len(VALUES)
    return Baseline(via, out, summary, answers(out), response_tables(out))


@pytest.fixture(autouse=True)
def _dummy_key_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only local servers are contacted; a developer's real key must never be sent to them.
    monkeypatch.setenv("OPENAI_API_KEY", DUMMY_KEY)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
