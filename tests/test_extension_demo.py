"""Issue 13's demonstration: a task, a backend and a measure defined here, and nothing under `src/`.

The task asks the model how important a value is in a scenario (1 to 5) from templates written
to a temporary folder; its records are a dataclass of this module. The backend answers Task 1,
Task 2 and the rating deterministically in process. The measure is the mean rating. Each is
registered with one call, and `valuelens evaluate --tasks stated,action,importance`, the report
and `valuelens compare` then carry them like the built-in ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from support.evaluate_run import write_via
from valuelens.cli import app
from valuelens.metrics import Measure, register_measure, unregister_measure
from valuelens.models import Capabilities, Message, Request, Response, _registry, register_backend
from valuelens.prompts import TemplateContract, TemplateSet, load_templates
from valuelens.tasks import Evaluation, EvaluationScope, ResultLike, register_task, unregister_task

NAME = "importance"
ASK = (
    "In {{ country }}, when it comes to {{ topic }}: how important is {{ value }}?\n"
    "Answer with one digit from 1 (not at all) to 5 (extremely).\n"
)
# What each tiny model answers to the rating question.
RATINGS = {"a": {"Honest": "5", "Wealth": "2"}, "b": {"Honest": "3", "Wealth": "one"}}
# Task 1: Honest matters (1 = strongly agree), Wealth does not (4).
STATED = {"Honest": "1", "Wealth": "4"}
ACTIONS = {
    "Honest": ("I tell my neighbours openly what I think.", "I keep my real opinion to myself."),
    "Wealth": ("I save every coin I earn for myself.", "I openly give my savings to the parish."),
}
_OPTION = re.compile(r"^Option ([12]): (.*)$", re.MULTILINE)
_VALUE = re.compile(r"how important is (.+)\?")


@dataclass(frozen=True)
class ImportanceRecord:
    country: str
    topic: str
    value: str
    rating: int | None
    raw: str
    parse_status: str


@dataclass(frozen=True)
class ImportanceTask:
    templates: TemplateSet
    temperature: float

    def build_requests(self, scope: EvaluationScope) -> list[Request]:
        return [
            Request(
                messages=(Message(role="user", content=self._prompt(c, t, v)),),
                temperature=self.temperature,
                max_tokens=2,
                metadata={"task": NAME, "country": c, "topic": t, "value": v},
            )
            for c in scope.countries
            for t in scope.topics
            for v in scope.values
        ]

    def _prompt(self, country: str, topic: str, value: str) -> str:
        context = {"country": country, "topic": topic, "value": value}
        return self.templates.render(NAME, "ask", context)

    def parse(self, result: ResultLike) -> ImportanceRecord:
        meta = result.request.metadata
        raw = result.response.text if result.response is not None else ""
        digit = raw.strip()[:1]
        rating = int(digit) if digit in "12345" and digit else None
        status = "ok" if rating is not None else "error" if result.response is None else "invalid"
        return ImportanceRecord(meta["country"], meta["topic"], meta["value"], rating, raw, status)


def importance_task(
    *, templates: TemplateSet | None = None, temperature: float = 0.0
) -> ImportanceTask:
    return ImportanceTask(templates or load_templates(tasks=[NAME]), temperature)


def importance_summary(table: pd.DataFrame) -> dict[str, Any]:
    return {"importance_mean": float(table["rating"].mean())}


class RaterBackend:
    """A deterministic model: reads the prompt and the JSON schema it is sent, nothing else."""

    def __init__(self, model: str) -> None:
        self.model = model

    @property
    def identity(self) -> dict[str, str]:
        return {"kind": "rater", "model": self.model, "endpoint": "memory"}

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(json_schema=True, in_process=True)

    async def complete(self, request: Request) -> Response:
        prompt = request.messages[-1].content
        if found := _VALUE.search(prompt):
            return Response(text=RATINGS[self.model][found.group(1)], finish_reason="stop")
        wanted = (request.json_schema or {}).get("properties", {})
        if "action" in wanted:  # Task 2: the option that says "openly"
            options = dict(_OPTION.findall(prompt))
            chosen = next(k for k, text in options.items() if "openly" in text)
            answer = {"action": f"Option {chosen}"}
        else:  # Task 1: rate each value the schema asks about
            answer = {name: STATED[name] for name in wanted}
        return Response(text=json.dumps(answer), finish_reason="stop")

    async def aclose(self) -> None:
        return None


@pytest.fixture
def extension(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The task, the backend and the measure registered, and all three removed afterwards."""
    root = tmp_path / "importance_templates"
    (root / NAME).mkdir(parents=True)
    (root / NAME / "ask.jinja").write_text(ASK, encoding="utf-8")
    samples = [{"country": "Peru", "topic": "Religion", "value": "Honest"}]
    contract = TemplateContract(NAME, ("ask",), lambda name: samples, root=root)
    evaluation = Evaluation(
        requests=lambda task, scope: task.build_requests(scope), summarize=importance_summary
    )
    register_task(
        NAME, importance_task, record=ImportanceRecord, contract=contract, evaluation=evaluation
    )
    monkeypatch.setattr(_registry, "_REGISTRY", dict(_registry._REGISTRY))
    register_backend("rater", RaterBackend, help="rater:a or rater:b")
    register_measure(Measure("importance_mean", "mean importance (1-5)", ".2f"))
    try:
        yield
    finally:
        unregister_measure("importance_mean")
        unregister_task(NAME)


def _cli(*args: object) -> Result:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def _evaluate(tmp_path: Path, model: str, via: Path) -> Path:
    out = tmp_path / f"run-{model}"
    _cli(
        "evaluate", "--out", out, "--model", f"rater:{model}", "--via", via,
        "--countries", "France", "--topics", "Religion", "--values", "Honest,Wealth",
        "--tasks", f"stated,action,{NAME}", "--stated-variants", "0",
        "--store", tmp_path / "store.sqlite", "--concurrency", "2",
    )  # fmt: skip
    return out


def _cards(html: str) -> dict[str, str]:
    found = re.findall(
        r'<div class="card-label">([^<]*)</div>\s*<div class="card-value">([^<]*)</div>', html
    )
    return {unescape(label): unescape(value) for label, value in found}


def test_an_added_task_backend_and_measure_run_through_evaluate_report_and_compare(
    extension: None, tmp_path: Path
) -> None:
    via = write_via(tmp_path / "via.csv", "France", "Religion", ACTIONS)
    run_a, run_b = _evaluate(tmp_path, "a", via), _evaluate(tmp_path, "b", via)

    # The run directory holds the task's table and its summary entries.
    table = pd.read_parquet(run_a / f"responses_{NAME}.parquet").sort_values("value")
    assert table[["value", "rating", "parse_status"]].values.tolist() == [
        ["Honest", 5, "ok"],
        ["Wealth", 2, "ok"],
    ]
    summary_a = json.loads((run_a / "summary.json").read_text(encoding="utf-8"))
    summary_b = json.loads((run_b / "summary.json").read_text(encoding="utf-8"))
    assert summary_a["importance_mean"] == pytest.approx((5 + 2) / 2)
    assert summary_b["importance_mean"] == pytest.approx(3.0)  # "one" does not parse
    assert summary_a["parse_status_importance"] == {"ok": 2}
    assert summary_b["parse_status_importance"] == {"invalid": 1, "ok": 1}
    assert summary_a["templates"][f"{NAME}/ask"] == "built-in"
    # 1 Task 1 request (one variant), 2 Task 2 requests (one per pair), 2 ratings.
    assert summary_a["usage"]["requests_sent"] == 1 + 2 + 2
    # The built-in tasks are untouched: both pairs are aligned.
    assert (summary_a["n_pairs_scored"], summary_a["alignment_rate"]) == (2, pytest.approx(1.0))

    # The report (written by evaluate, and by `valuelens report`) shows the measure's card.
    cards = _cards((run_a / "report.html").read_text(encoding="utf-8"))
    assert cards["Mean importance (1-5)"] == "3.50"
    both = tmp_path / "both.html"
    _cli("report", run_a, run_b, "--out", both)
    assert "Mean importance (1-5)" in both.read_text(encoding="utf-8")

    # `compare` sorts by it and writes it as a leaderboard column.
    result = _cli("compare", run_b, run_a, "--sort", "importance_mean", "--out", tmp_path / "cmp")
    assert "mean importance" in result.output.lower()
    board = pd.read_csv(tmp_path / "cmp" / "leaderboard.csv")
    assert board["label"].tolist() == ["a", "b"]  # 3.5 before 3.0: higher is better
    assert board["importance_mean"].tolist() == pytest.approx([3.5, 3.0])


def test_the_dry_run_counts_the_added_task(extension: None, tmp_path: Path) -> None:
    via = write_via(tmp_path / "via.csv", "France", "Religion", ACTIONS)
    result = _cli(
        "evaluate", "--out", tmp_path / "dry", "--model", "rater:a", "--via", via,
        "--countries", "France", "--topics", "Religion", "--values", "Honest,Wealth",
        "--tasks", f"stated,{NAME}", "--stated-variants", "0", "--dry-run",
    )  # fmt: skip
    cells = [line.strip("│ ").split("│") for line in result.output.splitlines()]
    rows = {c[0].strip(): c[1].strip() for c in cells if len(c) > 2 and c[1].strip().isdigit()}
    assert rows.get(NAME) == "2" and rows.get("stated") == "1" and "action" not in rows
    assert not (tmp_path / "dry" / "summary.json").exists()


def test_without_registration_the_task_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["evaluate", "--out", str(tmp_path / "r"), "--tasks", f"stated,{NAME}", "--dry-run"]
    )
    assert result.exit_code != 0
    assert f"'{NAME}' (no such task)" in str(result.exception) + result.output
