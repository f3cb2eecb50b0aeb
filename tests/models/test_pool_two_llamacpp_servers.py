"""`valuelens evaluate` spread over two real llama.cpp servers (`--base-url` twice) on 127.0.0.1.

Each server is llama.cpp's own OpenAI-compatible HTTP server (`xllamacpp.Server`, the same code
as `llama-server`) serving the bundled SmolLM2 GGUF file. The servers' Prometheus counters say
how much work each one did, independently of what valuelens records.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from support.evaluate_run import read_summary, write_via
from valuelens.cli import app
from valuelens.models import default_model_path

COUNTRY, TOPIC = "Canada", "Work Orientation"
ACTIONS = {
    "Honest": ("Report the real hours you worked.", "Pad your timesheet with extra hours."),
    "Wealth": ("Ask for a raise after a strong year.", "Turn down every paid overtime shift."),
}
STATED_VARIANTS, ACTION_VARIANTS = ("0", "5"), ("0", "3")  # 3 shows the options swapped


def _start_server() -> Any:
    import xllamacpp

    params: Any = xllamacpp.CommonParams()
    params.model.path = str(default_model_path())
    params.n_parallel = 2
    params.n_ctx = 4096
    params.cpuparams.n_threads = 1  # two servers on a 2-core machine: one thread each
    params.cpuparams_batch.n_threads = 1
    params.endpoint_metrics = True
    params.verbosity = -1
    params.warmup = False
    return xllamacpp.Server(params)


@pytest.fixture(scope="module")
def two_servers() -> Iterator[list[str]]:
    """Two llama.cpp servers of the bundled model; yields their `/v1` base URLs."""
    servers = [_start_server(), _start_server()]
    addresses = [server.listening_address for server in servers]
    assert all(a.startswith("http://127.0.0.1:") for a in addresses)
    assert len(set(addresses)) == 2
    yield [f"{address}/v1" for address in addresses]
    del servers


def _prompt_tokens_processed(base_url: str) -> float:
    """The server's own count of prompt tokens it evaluated (its `/metrics` endpoint)."""
    metrics_url = base_url.removesuffix("/v1") + "/metrics"
    with urllib.request.urlopen(metrics_url, timeout=10) as answer:
        text = answer.read().decode()
    found = re.search(r"^llamacpp:prompt_tokens_total\s+(\S+)$", text, re.MULTILINE)
    assert found, text[:500]
    return float(found.group(1))


@pytest.mark.slow
def test_evaluate_spreads_requests_over_two_servers(two_servers: list[str], tmp_path: Path) -> None:
    before = [_prompt_tokens_processed(url) for url in two_servers]
    via = write_via(tmp_path / "via.csv", COUNTRY, TOPIC, ACTIONS)
    out = tmp_path / "run"
    command = ["evaluate", "--model", "openai:smollm2"]
    for url in two_servers:
        command += ["--base-url", url]
    command += ["--via", str(via), "--countries", COUNTRY, "--topics", TOPIC]
    command += ["--values", ",".join(ACTIONS), "--scoring", "logprob", "--concurrency", "4"]
    command += ["--stated-variants", ",".join(STATED_VARIANTS)]
    command += ["--variants", ",".join(ACTION_VARIANTS), "--no-report", "--out", str(out)]

    result = CliRunner().invoke(app, command)

    assert result.exit_code == 0, result.output
    summary = read_summary(out)
    assert summary["complete"] is True
    # Task 1: one request per value and variant; Task 2: one per pair and variant.
    expected = len(ACTIONS) * len(STATED_VARIANTS) + len(ACTIONS) * len(ACTION_VARIANTS)
    assert summary["usage"]["requests_sent"] == expected
    assert summary["usage"]["requests_failed"] == 0
    assert summary["n_pairs"] == len(ACTIONS)
    work = [_prompt_tokens_processed(url) - b for url, b in zip(two_servers, before, strict=True)]
    assert all(tokens > 0 for tokens in work), work  # both servers answered some requests
    ledger = json.loads((out / "requests.json").read_text())
    assert len(ledger["keys"]) == expected

    again = CliRunner().invoke(app, command)  # the shared cache answers the rerun
    assert again.exit_code == 0, again.output
    assert read_summary(out)["usage_last_invocation"]["requests_sent"] == 0
    assert [_prompt_tokens_processed(url) for url in two_servers] == [
        b + w for b, w in zip(before, work, strict=True)
    ]
