"""`valuelens evaluate` end to end against a local OpenAI-compatible server that answers like a model.

One scenario (one country x one topic, all 56 values), every prompt variant of both tasks:
8 Task 1 requests (each rates all 56 values) and 56 pairs x 8 variants = 448 Task 2 requests.
The server answers each JSON schema with a valid instance, injects faults, and in one test
answers every other request with unreadable text.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from support import evaluate_run
from support.evaluate_run import read_summary, scores, write_via
from support.fake_server import GARBAGE_TEXTS, FakeServer, FaultConfig, serve_in_thread
from valuelens.cli import app
from valuelens.runner import Store
from valuelens.taxonomy import load_taxonomy

COUNTRY = "United States"
TOPIC = "Environment"
N_VALUES = 56
N_VARIANTS = 8
N_STATED = N_VARIANTS
N_ACTION = N_VALUES * N_VARIANTS
# Scripted faults ride in one action's text: each of that pair's 8 prompts gets a 429, then a 500.
SCRIPTED_VALUE = "Wealth"
SCRIPT = "<<faults:429,500>>"


@pytest.fixture
def via_csv(tmp_path: Path) -> Path:
    """A tidy VIA table for one scenario: 56 values x 2 polarities."""
    values = [v.name for v in load_taxonomy().values]
    assert len(values) == N_VALUES
    actions = {
        value: (
            f"I volunteer every weekend in a way that puts {value.lower()} first."
            + (f" {SCRIPT}" if value == SCRIPTED_VALUE else ""),
            f"I skip the local meeting and ignore {value.lower()} entirely.",
        )
        for value in values
    }
    explanations = ("It shows the value.", "It resists it.")
    return write_via(tmp_path / "via.csv", COUNTRY, TOPIC, actions, explanations=explanations)


def _server(config: FaultConfig) -> Iterator[FakeServer]:
    with serve_in_thread(config) as server:
        server.stats.keep_bodies = True
        yield server


@pytest.fixture
def faulty_server() -> Iterator[FakeServer]:
    """Random 429s (Retry-After: 0) and 500s on top of the scripted ones."""
    config = FaultConfig(latency_s=0.002, p429=0.05, p500=0.02, retry_after="0", seed=11)
    yield from _server(config)


@pytest.fixture
def garbage_server() -> Iterator[FakeServer]:
    """Every second answer is unreadable prose or a refusal."""
    yield from _server(FaultConfig(latency_s=0.002, garbage_every=2))


def evaluate_args(server: FakeServer, via: Path, out: Path) -> list[str]:
    return evaluate_run.evaluate_args(
        server.base_url, via, out, country=COUNTRY, topic=TOPIC, concurrency=32
    )


def evaluate(server: FakeServer, via: Path, out: Path) -> dict[str, Any]:
    result = CliRunner().invoke(app, evaluate_args(server, via, out))
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.output,
        result.exception,
    )
    assert result.exit_code == 0, result.output
    return read_summary(out)


def store_of(out: Path) -> Path:
    """The store the run in `out` used (named in its requests.json), else the test's shared one."""
    ledger = out / "requests.json"
    if ledger.is_file():
        return Path(json.loads(ledger.read_text(encoding="utf-8"))["store"])
    return Path(os.environ["VALUELENS_CACHE_DIR"]) / "cache.sqlite"


def stored(out: Path) -> list[Any]:
    with Store(store_of(out)) as store:
        return list(store.records())


def distinct(bodies: list[dict[str, Any]]) -> set[str]:
    return {json.dumps([b["messages"], b.get("seed")], sort_keys=True) for b in bodies}


def test_all_variants_with_faults_then_fully_cached(
    faulty_server: FakeServer, via_csv: Path, tmp_path: Path, dummy_openai_key: str
) -> None:
    out = tmp_path / "run"
    summary = evaluate(faulty_server, via_csv, out)

    stats = faulty_server.stats
    n_faults = sum(stats.faults.values())
    assert stats.faults.get("429", 0) >= N_VARIANTS and stats.faults.get("500", 0) >= N_VARIANTS
    # Every request answered exactly once, every fault retried: nothing else reached the server.
    assert len(distinct(stats.bodies)) == N_STATED + N_ACTION
    assert stats.ok == N_STATED + N_ACTION
    assert stats.chat == len(stats.bodies) == N_STATED + N_ACTION + n_faults
    assert all(dummy_openai_key in header for header in stats.authorization)
    records = stored(out)
    assert len(records) == N_STATED + N_ACTION and all(r.ok for r in records)
    assert sum(r.attempts for r in records) == stats.chat
    scripted = [r for r in records if SCRIPT in r.request["messages"][-1][1]]
    assert len(scripted) == N_VARIANTS and {r.attempts for r in scripted} == {3}

    assert summary["n_pairs"] == N_VALUES
    assert 0.0 <= summary["alignment_rate"] <= 1.0
    assert summary["parse_status_stated"] == {"ok": N_VALUES * N_VARIANTS}
    assert summary["parse_status_action"] == {"ok": N_ACTION}
    assert summary["usage"]["requests_sent"] == N_STATED + N_ACTION
    assert summary["usage"]["requests_cached"] == 0
    assert summary["usage"]["requests_failed"] == 0
    action = pd.read_parquet(out / "responses_action.parquet")
    assert len(action) == N_ACTION and action["variant"].nunique() == N_VARIANTS
    assert set(action["choice"]) == {"positive", "negative"}
    assert (action.groupby("value").size() == N_VARIANTS).all()
    stated = pd.read_parquet(out / "responses_stated.parquet")
    assert len(stated) == N_VALUES * N_VARIANTS and stated["likert"].between(1, 4).all()
    assert stated["likert"].nunique() > 1

    requests_before = stats.requests
    again = evaluate(faulty_server, via_csv, out)

    assert stats.requests == requests_before
    assert scores(again) == scores(summary)
    assert summary["complete"] is True and again["complete"] is True
    assert again["usage_last_invocation"]["requests_sent"] == 0
    assert again["usage_last_invocation"]["requests_cached"] == N_STATED + N_ACTION
    # Over both invocations: the cached rerun adds no tokens, only cached requests.
    assert again["invocations"] == 2
    assert again["usage"]["requests_sent"] == N_STATED + N_ACTION
    assert again["usage"]["requests_cached"] == N_STATED + N_ACTION
    assert again["usage"]["prompt_tokens"] == summary["usage"]["prompt_tokens"] > 0
    assert pd.read_parquet(out / "responses_action.parquet").equals(action)


def test_garbage_answers_are_counted_and_kept(
    garbage_server: FakeServer, via_csv: Path, tmp_path: Path, dummy_openai_key: str
) -> None:
    out = tmp_path / "run"
    summary = evaluate(garbage_server, via_csv, out)

    # What the server actually sent back, per task, read from the run's own cache.
    records = stored(out)
    assert all(r.ok for r in records)
    texts: dict[str, list[tuple[int, str]]] = {"stated": [], "action": []}
    for record in records:
        assert record.metadata is not None and record.response is not None
        texts[record.metadata["task"]].append((record.metadata["variant"], record.response["text"]))
    garbage = {task: sum(t in GARBAGE_TEXTS for _, t in found) for task, found in texts.items()}
    assert garbage_server.stats.garbage == sum(garbage.values()) > 0
    assert garbage["stated"] > 0 and garbage["action"] > 0
    # A stated answer without scores is asked again once (max_reasks 1), as a new request.
    first_pass_failures = Counter(v for v, t in texts["stated"] if t in GARBAGE_TEXTS)
    assert len(texts["stated"]) == N_STATED + len(first_pass_failures)
    # A variant stays unscored only when all its attempts were garbage.
    lost_variants = sum(
        all(t in GARBAGE_TEXTS for v2, t in texts["stated"] if v2 == v)
        for v in {v for v, _ in texts["stated"]}
    )

    action = pd.read_parquet(out / "responses_action.parquet")
    stated = pd.read_parquet(out / "responses_stated.parquet")
    assert len(action) == N_ACTION and action["variant"].nunique() == N_VARIANTS
    assert len(stated) == N_VALUES * N_VARIANTS
    for table in (action, stated):
        is_garbage = table["raw"].isin(GARBAGE_TEXTS)
        assert (table.loc[is_garbage, "parse_status"] == "failed").all()
        assert (table.loc[~is_garbage, "parse_status"] == "ok").all()
        assert (table["refusal"] == (table["raw"] == GARBAGE_TEXTS[1])).all()
    assert action["raw"].isin(GARBAGE_TEXTS).sum() == garbage["action"]
    assert action.loc[action["raw"].isin(GARBAGE_TEXTS), "choice"].isna().all()
    assert stated["likert"].isna().sum() == N_VALUES * lost_variants

    assert summary["parse_status_action"] == {
        k: v
        for k, v in {"ok": N_ACTION - garbage["action"], "failed": garbage["action"]}.items()
        if v
    }
    assert summary["parse_status_stated"] == {
        k: v
        for k, v in {
            "ok": N_VALUES * (N_VARIANTS - lost_variants),
            "failed": N_VALUES * lost_variants,
        }.items()
        if v
    }
    assert summary["n_pairs"] + summary.get("n_pairs_without_choice", 0) >= 1
    assert 0.0 <= summary["alignment_rate"] <= 1.0

    assert summary["usage"]["requests_sent"] == len(records)
    assert summary["usage"]["requests_failed"] == 0

    # The rerun reads everything, garbage and re-asks included, from the cache.
    requests_before = garbage_server.stats.requests
    again = evaluate(garbage_server, via_csv, out)
    assert garbage_server.stats.requests == requests_before
    assert again["usage_last_invocation"]["requests_cached"] == len(records)
    assert scores(again) == scores(summary)


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_the_rerun_resumes(
    via_csv: Path, tmp_path: Path, dummy_openai_key: str
) -> None:
    out = tmp_path / "run"
    with serve_in_thread(FaultConfig(latency_s=0.2)) as server:
        command = [sys.executable, "-m", "valuelens", *evaluate_args(server, via_csv, out)]
        child = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy()
        )
        deadline = time.monotonic() + 60
        while not _finished_rows(out) and time.monotonic() < deadline:
            time.sleep(0.05)
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=60)
        assert child.returncode == 130, stderr.decode()
        assert "rerun to resume" in stderr.decode()
        assert "Traceback" not in stderr.decode()
        assert not (out / "summary.json").exists()
        saved = _finished_rows(out)
        assert 0 < saved < N_STATED + N_ACTION

        summary = evaluate(server, via_csv, out)
    assert summary["n_pairs"] == N_VALUES
    assert summary["usage"]["requests_cached"] == saved
    assert summary["usage"]["requests_sent"] == N_STATED + N_ACTION - saved


def _finished_rows(out: Path) -> int:
    path = store_of(out)
    if not path.exists():
        return 0
    with Store(path) as store:
        return store.counts()[0]
