"""Several models in one command: two local endpoints and a dead one, one shared cache."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.evaluate_run import write_via
from support.fake_server import FakeServer, FaultConfig, serve_in_thread
from valuelens._errors import ValuelensError
from valuelens.pipeline._evaluate import EvaluateConfig
from valuelens.pipeline._sweep import SweepModel, evaluate_models, load_sweep_file, run_names

VALUES = ("Honest", "Wealth", "Curious")


@pytest.fixture
def servers() -> Iterator[tuple[FakeServer, FakeServer]]:
    with serve_in_thread(FaultConfig(seed=1)) as a, serve_in_thread(FaultConfig(seed=2)) as b:
        a.stats.keep_bodies = b.stats.keep_bodies = True
        yield a, b


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _config(tmp_path: Path) -> EvaluateConfig:
    actions = {v: (f"I act with {v.lower()} today.", f"I set {v.lower()} aside.") for v in VALUES}
    via = write_via(tmp_path / "via.csv", "United States", "Environment", actions)
    return EvaluateConfig(
        out=tmp_path / "sweep",
        via=via,
        countries="United States",
        topics="Environment",
        values=",".join(VALUES),
        stated_variants="0",
        action_variants="0,2",
        progress=False,
        store=tmp_path / "shared.sqlite",
    )


def test_two_endpoints_and_a_dead_one(
    tmp_path: Path, servers: tuple[FakeServer, FakeServer], dummy_openai_key: str
) -> None:
    a, b = servers
    dead = f"http://127.0.0.1:{_closed_port()}/v1"
    models = [
        SweepModel(model="openai:model-a", base_url=(a.base_url,)),
        SweepModel(model="openai:model-b", base_url=(b.base_url,)),
        SweepModel(model="openai:model-c", base_url=(dead,), name="gone"),
    ]
    outcome = evaluate_models(_config(tmp_path), models)
    out = tmp_path / "sweep"
    assert [m.status for m in outcome.models] == ["complete", "complete", "failed"]
    assert outcome.failed[0].error
    for name in ("model-a", "model-b"):
        summary = json.loads((out / name / "summary.json").read_text())
        assert summary["n_pairs_scored"] == len(VALUES)
    assert {body["model"] for body in a.stats.bodies} == {"model-a"}
    assert {body["model"] for body in b.stats.bodies} == {"model-b"}
    sweep = json.loads((out / "sweep.json").read_text())
    assert [m["run"] for m in sweep["models"]] == ["model-a", "model-b", "gone"]
    assert sweep["models"][2]["status"] == "failed" and sweep["models"][2]["error"]
    assert sweep["report"] == "report.html"
    html = (out / "report.html").read_text()
    assert "model-a" in html and "model-b" in html

    sent = a.stats.chat + b.stats.chat
    again = evaluate_models(_config(tmp_path), models[:2])
    assert [m.status for m in again.models] == ["complete", "complete"]
    assert a.stats.chat + b.stats.chat == sent  # the shared cache answered everything


def test_sweep_file_entries_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "sweep.yaml"
    good.write_text(
        "models:\n"
        "  - model: openai:qwen\n    base_url: http://127.0.0.1:1/v1\n"
        "  - model: openai:qwen\n    base_url: [http://127.0.0.1:2/v1, http://127.0.0.1:3/v1]\n"
        "    concurrency: 4\n"
    )
    first, second = load_sweep_file(good)
    assert first.base_url == ("http://127.0.0.1:1/v1",)
    assert len(second.base_url) == 2 and second.concurrency == 4
    assert run_names([first, second]) == ["qwen", "qwen-2"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  - model: openai:x\n    concurrency: 0\n")
    with pytest.raises(ValuelensError, match=r"bad.yaml: model 1: concurrency"):
        load_sweep_file(bad)
    (tmp_path / "empty.yaml").write_text("models: []\n")
    with pytest.raises(ValuelensError, match="expected a `models:` list"):
        load_sweep_file(tmp_path / "empty.yaml")


def test_the_same_model_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValuelensError, match="named twice"):
        evaluate_models(_config(tmp_path), ["openai:x", "openai:x"])
