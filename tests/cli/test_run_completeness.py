"""Runs whose requests fail for good say so: exit status 3, one line, `complete: false`, a banner.

The fake OpenAI-compatible server (tests/support/fake_server.py) follows a per-prompt script:
a prompt holding `<<faults:429,...>>` gets those faults on its first attempts. With seven 429s
(Retry-After: 0, so no waiting) such a request uses up the runner's 1 + 6 attempts and fails;
on the next invocation the script is spent and the same request succeeds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from support.evaluate_run import evaluate_args, read_summary, write_via
from support.fake_server import FakeServer, FaultConfig, serve_in_thread
from valuelens.cli import app

COUNTRY = "United States"
TOPIC = "Environment"
VALUES = ("Wealth", "Honest", "Freedom")
FAILING_VALUE = "Wealth"
ATTEMPTS = 7  # the runner's default: 1 try + 6 retries
OUTLAST_RETRIES = "<<faults:" + ",".join(["429"] * ATTEMPTS) + ">>"
N_VARIANTS = 8
N_STATED = N_VARIANTS
N_ACTION = len(VALUES) * N_VARIANTS


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with serve_in_thread(FaultConfig(latency_s=0.001, retry_after="0")) as fake:
        yield fake


@pytest.fixture
def via_csv(tmp_path: Path) -> Path:
    """Three pairs; every Task 2 prompt of the Wealth pair carries a script that outlasts retries."""
    actions = {
        value: (
            f"I give a weekend to a project that puts {value.lower()} first."
            + (f" {OUTLAST_RETRIES}" if value == FAILING_VALUE else ""),
            f"I skip the meeting about {value.lower()} and do something else.",
        )
        for value in VALUES
    }
    return write_via(tmp_path / "via.csv", COUNTRY, TOPIC, actions)


def _evaluate(server: FakeServer, via: Path, out: Path) -> subprocess.CompletedProcess[str]:
    args = evaluate_args(
        server.base_url,
        via,
        out,
        country=COUNTRY,
        topic=TOPIC,
        values=VALUES,
        stated_variants=None,
        concurrency=8,
        report=True,
    )
    command = [sys.executable, "-m", "valuelens", *args]
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def test_failed_requests_exit_3_and_a_rerun_completes(
    server: FakeServer, via_csv: Path, tmp_path: Path, dummy_openai_key: str
) -> None:
    out = tmp_path / "run"
    first = _evaluate(server, via_csv, out)

    assert first.returncode == 3, first.stderr
    assert "Traceback" not in first.stderr
    expected = (
        f"{N_VARIANTS} of {N_STATED + N_ACTION} requests failed after {ATTEMPTS} attempts "
        f"(action {N_VARIANTS}; most often: HTTP 429"
    )
    lines = [line for line in first.stderr.splitlines() if expected in line]
    assert len(lines) == 1, first.stderr
    assert lines[0].startswith("warning: ") and lines[0].endswith("rerun to retry them")
    assert server.stats.faults == {"429": N_VARIANTS * ATTEMPTS}

    summary = read_summary(out)
    assert summary["complete"] is False
    assert summary["requests_failed_by_stage"] == {"action": N_VARIANTS}
    assert expected in summary["incomplete"]
    # The numbers from the answers that did arrive are still there, and the lost pair is counted.
    assert summary["parse_status_action"] == {"ok": N_ACTION - N_VARIANTS, "error": N_VARIANTS}
    assert summary["n_pairs_without_choice"] == 1
    assert summary["n_pairs_scored"] == len(VALUES) - 1
    assert 0.0 <= summary["alignment_rate"] <= 1.0
    pairs = pd.read_parquet(out / "pairs.parquet")
    lost = pairs.loc[pairs["value"] == FAILING_VALUE].iloc[0]
    assert lost["n_action_variants"] == 0 and pd.isna(lost["chosen"])
    first_usage = summary["usage"]
    assert first_usage["requests_sent"] == N_STATED + N_ACTION
    assert first_usage["requests_failed"] == N_VARIANTS
    assert first_usage["requests_cached"] == 0
    assert summary["usage_last_invocation"] == first_usage and summary["invocations"] == 1
    report = (out / "report.html").read_text(encoding="utf-8")
    assert 'data-testid="incomplete-banner"' in report and expected in report

    second = _evaluate(server, via_csv, out)

    assert second.returncode == 0, second.stderr
    assert "requests failed" not in second.stderr
    summary = read_summary(out)
    assert summary["complete"] is True and summary["requests_failed_by_stage"] == {}
    assert "incomplete" not in summary
    assert summary["parse_status_action"] == {"ok": N_ACTION}
    assert summary["n_pairs_without_choice"] == 0
    last = summary["usage_last_invocation"]
    assert (last["requests_sent"], last["requests_cached"], last["requests_failed"]) == (
        N_VARIANTS,
        N_STATED + N_ACTION - N_VARIANTS,
        0,
    )
    assert last["prompt_tokens"] > 0
    total = summary["usage"]
    assert summary["invocations"] == 2
    assert total["requests_sent"] == N_STATED + N_ACTION + N_VARIANTS
    assert total["requests_cached"] == N_STATED + N_ACTION - N_VARIANTS
    assert total["requests_failed"] == N_VARIANTS
    for tokens in ("prompt_tokens", "completion_tokens"):
        assert total[tokens] == first_usage[tokens] + last[tokens]
    assert 'data-testid="incomplete-banner"' not in (out / "report.html").read_text("utf-8")

    # A fully cached third invocation adds cached requests, never tokens.
    third = _evaluate(server, via_csv, out)
    assert third.returncode == 0, third.stderr
    summary = read_summary(out)
    assert summary["invocations"] == 3
    assert summary["usage_last_invocation"]["requests_sent"] == 0
    assert summary["usage_last_invocation"]["prompt_tokens"] == 0
    assert summary["usage"]["prompt_tokens"] == total["prompt_tokens"]
    assert summary["usage"]["requests_cached"] == total["requests_cached"] + N_STATED + N_ACTION


def test_generate_with_failed_requests_exits_3(
    server: FakeServer, tmp_path: Path, dummy_openai_key: str
) -> None:
    """`generate` writes what it got and exits 3; the failed rows keep their error."""
    templates = tmp_path / "templates" / "generate"
    templates.mkdir(parents=True)
    (templates / "variant_0.jinja").write_text(
        "Write one action for {{ value.name }} in {{ country }} about {{ topic }}.\n"
        '{% if value.name == "Wealth" %}' + OUTLAST_RETRIES + "{% endif %}\n",
        encoding="utf-8",
    )
    out = tmp_path / "actions.csv"
    result = CliRunner().invoke(
        app,
        [
            "generate",
            "--model",
            "openai:fake",
            "--base-url",
            server.base_url,
            "--countries",
            COUNTRY,
            "--topics",
            TOPIC,
            "--values",
            ",".join(VALUES),
            "--variants",
            "0",
            "--templates",
            str(tmp_path / "templates"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 3, result.output
    # one request per value gives both polarities
    assert (
        "1 of 3 requests failed after 7 attempts (generate 1; most often: HTTP 429" in result.output
    )
    table = pd.read_csv(out)
    assert len(table) == 2 * len(VALUES)
    failed = table[table["value"] == FAILING_VALUE]
    assert (failed["parse_status"] == "failed").all() and failed["error"].notna().all()


def test_compass_run_with_failed_requests_exits_3(
    server: FakeServer, tmp_path: Path, dummy_openai_key: str
) -> None:
    """A scenario whose prompts outlast the retries: complete false, failed counted by stage."""
    scenarios = tmp_path / "scenarios.yaml"
    scenarios.write_text(
        "scenarios:\n"
        "  - name: Failing Desk\n"
        "    key: failing\n"
        f"    vignette: A help desk answers questions. {OUTLAST_RETRIES}\n",
        encoding="utf-8",
    )
    out = tmp_path / "compass"
    args = [
        "compass",
        "run",
        "--model",
        "openai:fake",
        "--base-url",
        server.base_url,
        "--countries",
        COUNTRY,
        "--scenarios",
        "healthcare,failing",
        "--values",
        ",".join(VALUES),
        "--variants",
        "0,1",
        "--scenario-file",
        str(scenarios),
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3, result.output
    assert (
        "2 of 4 requests failed after 7 attempts (compass 2; most often: HTTP 429" in result.output
    )
    summary = read_summary(out)
    assert summary["complete"] is False
    assert summary["requests_failed_by_stage"] == {"compass": 2}
    assert summary["n_failed_requests"] == 2

    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    summary = read_summary(out)
    assert summary["complete"] is True and summary["invocations"] == 2
    assert summary["usage"]["requests_sent"] == 4 + 2
    assert summary["usage_last_invocation"]["requests_cached"] == 2
