"""Prompt sensitivity end to end: `valuelens evaluate` with several variants, then the report.

Against the local fake OpenAI-compatible server, the expected numbers are computed from the
requests the server received and the answers it gives (its own answer function, not
valuelens): which action each prompt showed first, and which option the answer named. On the
embedded model a couple of items check that the tables are written and the report shows them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from scipy.stats import binomtest
from typer.testing import CliRunner

import valuelens.report._sensitivity  # noqa: F401  (registers the section)
from support.evaluate_run import evaluate_args, read_summary, write_via
from support.fake_server import FaultConfig, _chat_body, serve_in_thread
from valuelens.cli import app
from valuelens.report import render_report
from valuelens.taxonomy import load_taxonomy

COUNTRY, TOPIC = "United States", "Environment"
VALUES = [v.name for v in load_taxonomy().values][:6]
TABLES = ("sensitivity_effects", "flips", "position_corrected")


def _via(tmp_path: Path, values: list[str]) -> Path:
    actions = {v: (f"I act on {v.lower()} today.", f"I ignore {v.lower()} today.") for v in values}
    return write_via(tmp_path / "via.csv", COUNTRY, TOPIC, actions)


def _task2_facts(bodies: list[dict[str, Any]]) -> pd.DataFrame:
    """Per Task 2 request: the value, whether the negative action was Option 1, the answer."""
    rows = []
    for body in bodies:
        prompt = body["messages"][-1]["content"]
        if "Option 1:" not in prompt:
            continue  # a Task 1 request
        option1 = prompt.split("Option 1:", 1)[1].split("\n", 1)[0]
        answer = json.loads(_chat_body(body)["choices"][0]["message"]["content"])["action"]
        value = next(v for v in VALUES if f" {v.lower()} today" in option1)
        negative_first = "I ignore" in option1
        rows.append(
            {
                "value": value,
                "negative_first": negative_first,
                "first": answer == "Option 1",
                "negative": (answer == "Option 1") == negative_first,
            }
        )
    return pd.DataFrame(rows)


def test_server_run_with_both_option_orders(tmp_path: Path, dummy_openai_key: str) -> None:
    out = tmp_path / "run"
    with serve_in_thread(FaultConfig()) as server:
        server.stats.keep_bodies = True
        args = evaluate_args(
            server.base_url,
            _via(tmp_path, VALUES),
            out,
            country=COUNTRY,
            topic=TOPIC,
            values=VALUES,
            stated_variants="0,2",
        )
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        bodies = list(server.stats.bodies)
    facts = _task2_facts(bodies)
    # What was sent: every pair under all 8 variants, each option order four times.
    assert len(facts) == len(VALUES) * 8
    assert (facts.groupby("value")["negative_first"].sum() == 4).all()

    summary = read_summary(out)
    first = int(facts["first"].sum())
    assert summary["position_bias_n"] == len(facts)
    assert summary["position_bias"] == pytest.approx(first / len(facts))
    assert summary["position_bias_p"] == pytest.approx(binomtest(first, len(facts)).pvalue)
    assert summary["position_bias_note"] is None  # balanced orders
    flipped = facts.groupby("value")["negative"].nunique().gt(1).sum()
    assert summary["n_flips_action"] == flipped
    by_order = facts.groupby("negative_first")["negative"].mean()
    effect = summary["sensitivity_effects"]["action"]["option_order"]
    assert effect["estimate"] == pytest.approx(by_order[True] - by_order[False])
    assert set(summary["sensitivity_effects"]) == {"stated", "action"}
    for name in TABLES:
        assert (out / f"{name}.parquet").is_file() and (out / f"{name}.csv").is_file()
    corrected = pd.read_parquet(out / "position_corrected.parquet")
    assert len(corrected) == len(VALUES) and (corrected["n_order_pairs"] == 4).all()

    html = render_report([out], tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="sensitivity"' in html and "Prompt sensitivity" in html
    assert "negative action shown first vs second" in html


def test_single_variant_run_has_no_task2_sensitivity(tmp_path: Path, dummy_openai_key: str) -> None:
    out = tmp_path / "run"
    with serve_in_thread(FaultConfig()) as server:
        args = evaluate_args(
            server.base_url,
            _via(tmp_path, VALUES[:2]),
            out,
            country=COUNTRY,
            topic=TOPIC,
            values=VALUES[:2],
            stated_variants="0",
        )
        args[args.index("--variants") + 1] = "5"
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
    summary = read_summary(out)
    assert "position_bias" not in summary and "sensitivity_effects" not in summary
    assert not any((out / f"{name}.parquet").exists() for name in TABLES)
    html = render_report([out], tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="sensitivity"' not in html


@pytest.mark.slow
def test_embedded_model_writes_the_tables_and_the_report_shows_them(tmp_path: Path) -> None:
    out = tmp_path / "run"
    values = VALUES[:2]
    command = [
        "evaluate",
        "--model",
        "embedded",
        "--via",
        str(_via(tmp_path, values)),
        "--countries",
        COUNTRY,
        "--topics",
        TOPIC,
        "--values",
        ",".join(values),
        "--stated-variants",
        "0,1",
        "--variants",
        "0,2",
        "--concurrency",
        "2",
        "--no-report",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    summary = read_summary(out)
    responses = pd.read_parquet(out / "responses_action.parquet")
    answered = responses[responses["choice"].isin(["positive", "negative"])]
    assert summary["position_bias_n"] == len(answered)
    if len(answered):
        first = (answered["choice"] == answered["option1_polarity"]).mean()
        assert summary["position_bias"] == pytest.approx(first)
    effects = pd.read_parquet(out / "sensitivity_effects.parquet")
    assert set(effects["task"]) == {"stated", "action"}
    assert effects["note"].str.contains("too few items").all()  # 2 pairs: no estimates
    html = render_report([out], tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="sensitivity"' in html and "too few items" in html
