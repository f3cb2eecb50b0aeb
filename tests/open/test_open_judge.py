"""`evaluate --tasks ...,open --judge MODEL`: the judge's requests go to its own endpoint only."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from support.evaluate_run import write_via
from support.fake_server import FaultConfig, serve_in_thread
from valuelens.cli import app


def test_a_separate_judge_gets_only_the_second_round(tmp_path: Path, dummy_openai_key: str) -> None:
    via = write_via(
        tmp_path / "via.csv",
        "France",
        "Religion",
        {"Honest": ("I tell the priest the truth.", "I lie to the priest.")},
    )
    out = tmp_path / "run"
    with serve_in_thread(FaultConfig()) as model, serve_in_thread(FaultConfig()) as judge:
        model.stats.keep_bodies = judge.stats.keep_bodies = True
        args = ["evaluate", "--model", "openai:fake", "--base-url", model.base_url]
        args += ["--judge", "openai:judge", "--judge-base-url", judge.base_url]
        args += ["--via", str(via), "--countries", "France", "--topics", "Religion"]
        args += ["--values", "Honest", "--stated-variants", "0", "--variants", "0"]
        args += ["--tasks", "stated,action,open", "--no-report", "--out", str(out)]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        assert {b["model"] for b in model.stats.bodies} == {"fake"}
        assert len(model.stats.bodies) == 3  # Task 1, Task 2 and the open-ended question
        assert len(judge.stats.bodies) == 1
        judged = judge.stats.bodies[0]
        assert judged["model"] == "judge"
        assert "I lie to the priest." in judged["messages"][-1]["content"]

        summary = json.loads((out / "summary.json").read_text())
        assert summary["usage"]["requests_sent"] == 4  # the judge's request is counted too
        assert summary["complete"] is True
        table = pd.read_parquet(out / "responses_open.parquet")
        assert table["judge"].tolist() == ["openai:judge"]
        assert table["judge_status"].tolist() == ["ok"]

        rerun = CliRunner().invoke(app, args)
        assert rerun.exit_code == 0, rerun.output
        assert len(model.stats.bodies) == 3 and len(judge.stats.bodies) == 1  # all cached
