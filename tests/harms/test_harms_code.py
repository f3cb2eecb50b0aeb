"""`harms code`: the judge through the runner, on a local OpenAI-shaped server and the embedded model."""

from __future__ import annotations

from pathlib import Path

import pytest

from harms.conftest import invoke
from support.fake_server import FaultConfig, serve_in_thread
from valuelens.pipeline._harms import harms_code
from valuelens.runs import read_run
from valuelens.tasks._harms import load_harm_taxonomy

LABELS = load_harm_taxonomy().labels


@pytest.fixture
def small_run(make_small_run) -> Path:
    return make_small_run(5)


def test_judge_requests_on_a_local_server_and_a_cached_rerun(
    small_run: Path, tmp_path: Path, dummy_openai_key: str
) -> None:
    examples = read_run(small_run).table("examples")
    store = tmp_path / "store.sqlite"
    with serve_in_thread(FaultConfig(latency_s=0.001)) as server:
        server.stats.keep_bodies = True
        args = ("--run", str(small_run), "--judge", "openai:judge-model", "--store", str(store))
        result = invoke("code", *args, "--base-url", server.base_url)
        assert result.exit_code == 0, result.output
        assert server.stats.chat == len(examples) == 5
        bodies = list(server.stats.bodies)
        rerun = invoke("code", *args, "--base-url", server.base_url)
        assert rerun.exit_code == 0, rerun.output
        assert server.stats.chat == 5  # the cache answered everything
    prompts = [body["messages"][-1]["content"] for body in bodies]
    for example in examples.to_dict("records"):  # requests arrive in any order
        (prompt,) = [p for p in prompts if example["chosen_action"] in p]
        assert f"Value at stake: {example['value']}" in prompt
    for body in bodies:
        assert body["temperature"] == 0.0
        schema = body["response_format"]["json_schema"]["schema"]
        assert schema["properties"]["harm"]["enum"] == list(LABELS)
        assert schema["required"] == ["rationale", "harm", "confidence"]
    record = read_run(small_run)
    codes = record.table("codes")
    assert codes["example_id"].tolist() == examples["example_id"].tolist()
    assert set(codes["harm"]) <= set(LABELS) and (codes["parse_status"] == "ok").all()
    assert record.summary.usage_last_invocation["requests_sent"] == 0
    assert record.summary.usage_last_invocation["requests_cached"] == 5
    assert record.summary.judge == "openai:judge-model" and record.summary.complete
    counts = record.table("counts")
    overall = counts[(counts["by"] == "all") & (counts["unit"] == "type")]
    assert overall.set_index("key")["n"].to_dict() == {
        key: int((codes["harm"] == key).sum()) for key in LABELS
    }


def test_unreadable_answers_are_kept_with_their_status(
    small_run: Path, tmp_path: Path, dummy_openai_key: str
) -> None:
    with serve_in_thread(FaultConfig(latency_s=0.001, garbage_every=2)) as server:
        summary = harms_code(
            small_run,
            "openai:judge-model",
            base_urls=[server.base_url],
            store=tmp_path / "store.sqlite",
            progress=False,
        )
    assert isinstance(summary, dict)
    codes = read_run(small_run).table("codes")
    failed = codes[codes["parse_status"] == "failed"]
    garbage = server.stats.garbage  # the answers the server made unreadable
    assert 0 < garbage < len(codes)
    assert len(failed) == garbage and failed["harm"].isna().all()
    assert failed["raw"].str.len().gt(0).all()
    assert summary["parse_status"] == {"ok": len(codes) - garbage, "failed": garbage}


def test_dry_run_sends_nothing(small_run: Path, dummy_openai_key: str) -> None:
    result = invoke(
        "code",
        "--run",
        str(small_run),
        "--judge",
        "openai:x",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--dry-run",
    )
    assert result.exit_code == 0, result.output
    assert "5" in result.output
    assert not read_run(small_run).has_table("codes")


@pytest.mark.slow
def test_the_embedded_model_codes_three_examples(small_run: Path, tmp_path: Path) -> None:
    first = harms_code(small_run, "embedded", limit=3, concurrency=2, progress=False)
    assert isinstance(first, dict)
    codes = read_run(small_run).table("codes")
    assert len(codes) == 3
    assert set(codes["harm"]) <= set(LABELS)
    assert codes["parse_status"].isin(["ok", "repaired", "partial"]).all()
    assert codes["confidence"].between(0, 1).all()
    again = harms_code(small_run, "embedded", limit=3, concurrency=2, progress=False)
    assert isinstance(again, dict)
    assert again["usage_last_invocation"]["requests_sent"] == 0
    assert again["usage_last_invocation"]["requests_cached"] == 3
    assert read_run(small_run).table("codes")["harm"].tolist() == codes["harm"].tolist()
