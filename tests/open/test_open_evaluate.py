"""Open-ended Task 2 inside `valuelens evaluate`, against the local fake OpenAI-compatible server.

The server answers each JSON schema with a valid instance (a sentence for `action`, an enum
member for `label`), so both rounds parse; what is checked is what was sent, what was written,
and that a rerun is answered from the cache.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import valuelens.tasks._open  # noqa: F401  (registers the task until tasks/__init__ does)
from support.evaluate_run import evaluate_args, read_summary, write_via
from support.fake_server import FakeServer, FaultConfig, serve_in_thread
from valuelens.cli import app

COUNTRY, TOPIC = "France", "Religion"
ACTIONS = {
    "Honest": ("I tell the priest the plain truth.", "I lie to the priest about the fast."),
    "Wealth": ("I save part of my tithe money.", "I give away all my savings at mass."),
}


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with serve_in_thread(FaultConfig()) as running:
        running.stats.keep_bodies = True
        yield running


def _run(server: FakeServer, via: Path, out: Path) -> dict[str, Any]:
    args = evaluate_args(
        server.base_url,
        via,
        out,
        country=COUNTRY,
        topic=TOPIC,
        stated_variants="0",
        extra=["--tasks", "stated,action,open", "--variants", "0"],
    )
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return read_summary(out)


def _prompt(body: dict[str, Any]) -> str:
    return str(body["messages"][-1]["content"])


def test_two_rounds_are_sent_written_and_cached(
    server: FakeServer, tmp_path: Path, dummy_openai_key: str
) -> None:
    via = write_via(tmp_path / "via.csv", COUNTRY, TOPIC, ACTIONS)
    summary = _run(server, via, tmp_path / "run")

    acts = [b for b in server.stats.bodies if "Keep this value in mind" in _prompt(b)]
    judged = [b for b in server.stats.bodies if "The action to code" in _prompt(b)]
    assert len(acts) == 2 and len(judged) == 2
    every_via_action = [a for pair in ACTIONS.values() for a in pair]
    for body in acts:  # round 1 shows no options
        assert not any(action in _prompt(body) for action in every_via_action)
        assert "Option" not in _prompt(body)
        schema = body["response_format"]["json_schema"]["schema"]
        assert schema["required"] == ["action"]

    table = pd.read_parquet(tmp_path / "run" / "responses_open.parquet").set_index("value")
    assert sorted(table.index) == ["Honest", "Wealth"]
    assert set(table["country"]) == {COUNTRY} and set(table["topic"]) == {TOPIC}
    for value, (positive, negative) in ACTIONS.items():
        prompt = next(_prompt(b) for b in judged if positive in _prompt(b))
        assert negative in prompt  # both anchors of the same pair
        assert table.loc[value, "action"] in prompt  # and the model's own action
    assert set(table["label"]) <= {"expresses", "resists", "unrelated"}
    assert table["action_status"].tolist() == ["ok", "ok"]
    assert table["judge_status"].tolist() == ["ok", "ok"]
    assert table["judge"].tolist() == ["openai:fake", "openai:fake"]
    assert table["action_raw"].map(lambda raw: json.loads(raw)["action"]).tolist() == (
        table["action"].tolist()
    )
    assert table["rationale"].notna().all()

    labels = table["label"].tolist()
    assert summary["open_n_pairs"] == 2
    assert summary["open_resists_rate"] == labels.count("resists") / 2
    assert summary["open_unrelated_rate"] == labels.count("unrelated") / 2
    assert summary["open_t2"] == (2 - labels.count("unrelated")) / 2
    assert summary["parse_status_open"] == {"ok": 2}
    # Task 1 (1 variant), Task 2 (2 pairs x 1 variant), then 2 free actions and 2 codes.
    assert summary["usage"]["requests_sent"] == 1 + 2 + 2 + 2

    sent = server.stats.chat
    again = _run(server, via, tmp_path / "run")
    assert server.stats.chat == sent  # nothing sent: both rounds come from the cache
    assert again["usage_last_invocation"]["requests_sent"] == 0
    rerun = pd.read_parquet(tmp_path / "run" / "responses_open.parquet").set_index("value")
    assert rerun["label"].tolist() == table["label"].tolist()


def test_dry_run_counts_the_first_round(server: FakeServer, tmp_path: Path) -> None:
    via = write_via(tmp_path / "via.csv", COUNTRY, TOPIC, ACTIONS)
    args = ["evaluate", "--via", str(via), "--countries", COUNTRY, "--topics", TOPIC]
    args += ["--tasks", "open", "--dry-run", "--out", str(tmp_path / "dry")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "│ open" in line)
    assert "│ 2 " in row or " 2 │" in row
    assert server.stats.chat == 0
