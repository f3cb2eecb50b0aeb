"""`evaluate --model A --model B`, `--models FILE` and `--limit N` from the command line."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from support.evaluate_run import write_via
from support.fake_server import FakeServer, FaultConfig, serve_in_thread
from valuelens.cli import app
from valuelens.taxonomy import load_taxonomy

COUNTRY, TOPIC = "United States", "Environment"


@pytest.fixture
def servers() -> Iterator[tuple[FakeServer, FakeServer]]:
    with serve_in_thread(FaultConfig(seed=1)) as a, serve_in_thread(FaultConfig(seed=2)) as b:
        a.stats.keep_bodies = b.stats.keep_bodies = True
        yield a, b


@pytest.fixture
def via(tmp_path: Path) -> Path:
    values = load_taxonomy().value_names
    actions = {v: (f"I stand up for {v.lower()}.", f"I let {v.lower()} go.") for v in values}
    return write_via(tmp_path / "via.csv", COUNTRY, TOPIC, actions)


def _base(via: Path, out: Path) -> list[str]:
    return [
        "evaluate",
        "--via",
        str(via),
        "--countries",
        COUNTRY,
        "--topics",
        TOPIC,
        "--stated-variants",
        "0",
        "--variants",
        "0,2",
        "--out",
        str(out),
    ]


def test_two_models_over_two_endpoints_then_a_comparison(
    tmp_path: Path, via: Path, servers: tuple[FakeServer, FakeServer], dummy_openai_key: str
) -> None:
    a, b = servers
    out = tmp_path / "sweep"
    args = [*_base(via, out), "--values", "Honest,Wealth,Curious,Freedom"]
    args += ["--model", "openai:model-a", "--model", "openai:model-b"]
    args += ["--base-url", a.base_url, "--base-url", b.base_url]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    for name in ("model-a", "model-b"):
        summary = json.loads((out / name / "summary.json").read_text())
        assert summary["model"] == f"openai:{name}" and summary["n_pairs_scored"] == 4
    models_seen = {body["model"] for body in [*a.stats.bodies, *b.stats.bodies]}
    assert models_seen == {"model-a", "model-b"}
    assert a.stats.chat > 0 and b.stats.chat > 0  # both endpoints carried load
    assert (out / "report.html").is_file()
    assert "comparison report" in result.output


def test_sweep_file_with_a_dead_endpoint_exits_3_and_keeps_the_others(
    tmp_path: Path, via: Path, servers: tuple[FakeServer, FakeServer], dummy_openai_key: str
) -> None:
    a, _ = servers
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        f"models:\n  - model: openai:alive\n    base_url: {a.base_url}\n"
        f"  - model: openai:gone\n    base_url: {dead}\n"
    )
    out = tmp_path / "sweep"
    args = [*_base(via, out), "--values", "Honest,Wealth", "--models", str(sweep)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3, result.output
    assert (out / "alive" / "summary.json").is_file()
    statuses = {
        m["run"]: m["status"] for m in json.loads((out / "sweep.json").read_text())["models"]
    }
    assert statuses == {"alive": "complete", "gone": "failed"}
    assert "1 of 2 models did not finish" in result.output


def test_limit_evaluates_a_stratified_subset(
    tmp_path: Path, via: Path, servers: tuple[FakeServer, FakeServer], dummy_openai_key: str
) -> None:
    a, _ = servers
    out = tmp_path / "limited"
    args = [*_base(via, out), "--model", "openai:fake", "--base-url", a.base_url]
    result = CliRunner().invoke(app, [*args, "--limit", "5", "--seed", "3", "--no-report"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["limit"] == 5 and summary["n_pairs_scored"] == 5
    task2 = [b for b in a.stats.bodies if "Option 1" in json.dumps(b)]
    assert len(task2) == 5 * 2  # five pairs x two Task 2 variants
    assert a.stats.chat == len(task2) + 1  # and one Task 1 prompt for the one scenario
