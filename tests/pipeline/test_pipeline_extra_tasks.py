"""Registered tasks inside `evaluate`: the `Evaluation` hook, a two-round task, refusals.

The backend is defined here and answers in process; the task reads the VIA actions the run
loaded and asks a second time about each answer (as a judge would), through the run's runner.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from support.evaluate_run import write_via
from valuelens._errors import ValuelensError
from valuelens.cli import app
from valuelens.models import Capabilities, Message, Request, Response, _registry, register_backend
from valuelens.pipeline import EvaluateConfig, estimate, evaluate, evaluate_tasks
from valuelens.tasks import (
    Ask,
    Evaluation,
    EvaluationScope,
    ResultLike,
    evaluation_task_names,
    register_task,
    unregister_task,
)

NAME = "retell"
ACTIONS = {
    "Honest": ("I say what I think.", "I hide what I think."),
    "Wealth": ("I save my money.", "I give my money away."),
}


class EchoBackend:
    """Answers 'RETELL: <text>' with the text in capitals and 'JUDGE: <text>' with its length."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.prompts: list[str] = []

    @property
    def identity(self) -> dict[str, str]:
        return {"kind": "echo", "model": self.model, "endpoint": "memory"}

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(in_process=True)

    async def complete(self, request: Request) -> Response:
        prompt = request.messages[-1].content
        kind, _, text = prompt.partition(": ")
        answer = text.upper() if kind == "RETELL" else str(len(text))
        return Response(text=answer, finish_reason="stop")

    async def aclose(self) -> None:
        return None


@dataclass(frozen=True)
class RetellTask:
    seed: int
    options: dict[str, Any]

    def parse(self, result: ResultLike) -> dict[str, Any]:
        text = result.response.text if result.response is not None else ""
        return {**result.request.metadata, "answer": text}


def retell_task(*, seed: int = 0, temperature: float = 1.0) -> RetellTask:
    # Only the settings named here are passed (templates, taxonomy and scoring are not).
    return RetellTask(seed, {"temperature": temperature})


def _ask(kind: str, text: str, meta: dict[str, str]) -> Request:
    return Request(
        messages=(Message(role="user", content=f"{kind}: {text}"),),
        temperature=0.0,
        max_tokens=40,
        metadata={"task": NAME, **meta},
    )


def retell_requests(task: RetellTask, scope: EvaluationScope) -> list[Request]:
    assert scope.actions is not None
    rows = scope.actions[scope.actions["polarity"] == "positive"]
    return [
        _ask("RETELL", row.action, {"value": row.value, "country": row.country})
        for row in rows.itertuples()
    ]


async def retell_run(task: RetellTask, scope: EvaluationScope, ask: Ask) -> pd.DataFrame:
    first = [task.parse(r) for r in await ask(retell_requests(task, scope))]
    judged = await ask([_ask("JUDGE", row["answer"], {"value": row["value"]}) for row in first])
    lengths = {r.request.metadata["value"]: int(r.response.text) for r in judged if r.response}
    frame = pd.DataFrame(first)
    frame["judged_length"] = frame["value"].map(lengths)
    return frame


@pytest.fixture
def echo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(_registry, "_REGISTRY", dict(_registry._REGISTRY))
    register_backend("echo", EchoBackend)
    yield


@pytest.fixture
def retell(echo: None) -> Iterator[Evaluation]:
    evaluation = Evaluation(
        requests=retell_requests,
        table="retellings",
        needs_actions=True,
        run=retell_run,
        summarize=lambda t: {"retell_length_mean": float(t["judged_length"].mean())},
    )
    register_task(NAME, retell_task, record=dict, evaluation=evaluation)
    try:
        yield evaluation
    finally:
        unregister_task(NAME)


def _config(tmp_path: Path, **changes: Any) -> EvaluateConfig:
    via = write_via(tmp_path / "via.csv", "France", "Religion", ACTIONS)
    settings: dict[str, Any] = {
        "out": tmp_path / "run",
        "model": "echo:x",
        "via": via,
        "countries": "France",
        "topics": "Religion",
        "values": "Honest,Wealth",
        "tasks": ("stated", NAME),
        "stated_variants": "0",
        "max_reasks": 0,  # the echo model cannot rate values: no second Task 1 request
        "store": tmp_path / "store.sqlite",
        "progress": False,
    } | changes
    return EvaluateConfig(**settings)


def test_a_two_round_task_reads_the_actions_and_writes_its_table(
    retell: Evaluation, tmp_path: Path
) -> None:
    assert NAME in evaluation_task_names()
    assert evaluate_tasks(f"stated, {NAME.upper()}") == ("stated", NAME)
    outcome = evaluate(_config(tmp_path))
    table = pd.read_parquet(tmp_path / "run" / "retellings.parquet").sort_values("value")
    assert table["answer"].tolist() == ["I SAY WHAT I THINK.", "I SAVE MY MONEY."]
    assert table["judged_length"].tolist() == [19, 16]  # len() of the two answers
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    assert summary["retell_length_mean"] == pytest.approx((19 + 16) / 2)
    assert summary["kind"] == "value-action-responses"  # Task 2 did not run: no scores
    assert "actions" in outcome.tables  # read because the added task needs them
    # Task 1 (one variant): 1 request; the task: 2 answers, then 2 judgements.
    assert summary["usage"]["requests_sent"] == 1 + 2 + 2
    assert summary["complete"] is True
    stages = dict(estimate(_config(tmp_path)))
    assert stages[NAME].n_requests == 2 and stages[NAME].n_cached == 2  # the first round


def test_summary_entries_may_not_overwrite_the_runs_own(retell: Evaluation, tmp_path: Path) -> None:
    register_task(
        NAME,
        retell_task,
        record=dict,
        replace=True,
        evaluation=Evaluation(
            requests=retell_requests, needs_actions=True, summarize=lambda t: {"model": "x"}
        ),
    )
    with pytest.raises(ValuelensError, match=r"task 'retell': its summary entries model"):
        evaluate(_config(tmp_path))


def test_the_default_table_name_and_record_rows(retell: Evaluation, tmp_path: Path) -> None:
    register_task(
        NAME,
        retell_task,
        record=dict,
        replace=True,
        evaluation=Evaluation(requests=retell_requests, needs_actions=True),
    )
    evaluate(_config(tmp_path))
    table = pd.read_csv(tmp_path / "run" / f"responses_{NAME}.csv").sort_values("value")
    assert table[["value", "answer", "task"]].values.tolist() == [
        ["Honest", "I SAY WHAT I THINK.", NAME],
        ["Wealth", "I SAVE MY MONEY.", NAME],
    ]


def test_a_task_without_an_evaluation_is_still_refused_in_one_line(
    retell: Evaluation, tmp_path: Path
) -> None:
    register_task("quiet", retell_task, record=dict)
    try:
        with pytest.raises(ValuelensError) as info:
            evaluate_tasks("stated,quiet")
    finally:
        unregister_task("quiet")
    assert str(info.value) == (
        "--tasks takes stated and/or action (and the added tasks open, retell), not 'quiet' (registered, but evaluate "
        "does not run it)"
    )


def test_dry_run_says_why_it_generates(tmp_path: Path) -> None:
    """Offline, with no VIA file and nothing cached, the dry run explains its generate stage."""
    args = ["evaluate", "--out", str(tmp_path / "dry"), "--countries", "France", "--dry-run"]
    args += ["--topics", "Religion", "--values", "Honest,Wealth", "--stated-variants", "0"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "│ generate │" in result.output
    flat = " ".join(result.output.split())
    assert (
        "generate: no VIA file given and the official release is not cached, so the actions "
        "are generated first"
    ) in flat
    assert "--generate never" in flat
    with_via = CliRunner().invoke(
        app, [*args, "--via", str(write_via(tmp_path / "v.csv", "France", "Religion", ACTIONS))]
    )
    assert with_via.exit_code == 0 and "generate" not in with_via.output
    always = CliRunner().invoke(app, [*args, "--generate", "always"])
    assert "generate: --generate always" in " ".join(always.output.split())
