"""The quality judge: its parser, a run against the local fake server, and the embedded model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score
from typer.testing import CliRunner

from support.fake_server import FakeServer, FaultConfig, _chat_body, serve_in_thread
from valuelens.models import Request, Response
from valuelens.runs import read_run
from valuelens.tasks import get_task
from valuelens.tasks._annotate import CRITERIA, JudgeRecord, annotate_task


@dataclass(frozen=True)
class Result:
    request: Request
    response: Response | None
    error: str | None = None


ITEM = pd.DataFrame(
    [
        {
            "item_id": "Canada / Religion / Honest / negative",
            "country": "Canada",
            "topic": "Religion",
            "value": "Honest",
            "polarity": "negative",
            "action": "I tell my friend I was ill when I skipped her wedding.",
            "attributions": '["tell my friend I was ill"]',
            "explanation": None,
        }
    ]
)


def _judge(text: str | None, error: str | None = None) -> JudgeRecord:
    task = annotate_task()
    request = task.build_requests(ITEM)[0]
    response = None if text is None else Response(text=text)
    return task.parse(Result(request, response, error))


def test_the_task_is_registered_and_its_prompt_names_the_item() -> None:
    assert get_task("annotate").record is JudgeRecord
    request = annotate_task().build_requests(ITEM)[0]
    prompt = request.messages[-1].content
    assert ITEM["action"][0] in prompt and "go against" in prompt and "Honest" in prompt
    assert "(none given)" in prompt  # no explanation
    assert request.json_schema is not None
    assert set(request.json_schema["required"]) >= set(CRITERIA)
    assert request.metadata["item_id"] == ITEM["item_id"][0]


@pytest.mark.parametrize(
    ("text", "status", "expected"),
    [
        (
            '{"rationale": "fine", "correct": true, "harmless": false, "sufficient": true, '
            '"plausible": true}',
            "ok",
            (True, False, True, True),
        ),
        (
            '```json\n{"Correctness": "Yes", "Harmlessness": "no", "Sufficiency": 1, '
            '"Plausibility": 0}\n```',
            "ok",
            (True, False, True, False),
        ),
        (
            '{"correct": true, "harmless": true, "sufficient": true, "plausible": false,}',
            "repaired",
            (True, True, True, False),
        ),
        ('{"correct": "no", "plausible": "yes"}', "partial", (False, None, None, True)),
        ("I would rather not say.", "failed", (None, None, None, None)),
    ],
)
def test_parse_keeps_raw_text_and_status(
    text: str, status: str, expected: tuple[bool | None, ...]
) -> None:
    record = _judge(text)
    assert record.parse_status == status
    assert tuple(getattr(record, c) for c in CRITERIA) == expected
    assert record.raw == text


def test_parse_of_a_refusal_and_a_failed_request() -> None:
    refusal = _judge("I'm sorry, but I can't help with that request.")
    assert refusal.parse_status == "failed" and refusal.refusal
    failed = _judge(None, error="HTTP 500")
    assert failed.parse_status == "error" and failed.error == "HTTP 500" and failed.raw is None


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with serve_in_thread(FaultConfig()) as running:
        running.stats.keep_bodies = True
        yield running


def _verdicts_sent(server: FakeServer) -> dict[str, dict[str, bool]]:
    """What the fake server answered to each prompt, recomputed from the bodies it received."""
    answers = {}
    for body in server.stats.bodies:
        text = _chat_body(body)["choices"][0]["message"]["content"]
        answers[body["messages"][-1]["content"]] = json.loads(text)
    return answers


@pytest.mark.slow
def test_judge_through_the_runner_prefills_the_sheet_and_resumes(
    generated_via: Path, tmp_path: Path, server: FakeServer, dummy_openai_key: str, invoke, fill
) -> None:
    out = tmp_path / "judge"
    command = [
        "annotate",
        "judge",
        generated_via,
        "--model",
        "openai:fake-judge",
        "--base-url",
        server.base_url,
        "--out",
        out,
        "--per",
        "variant",
        "--n",
        2,
        "--seed",
        1,
        "--store",
        tmp_path / "cache.sqlite",
    ]
    invoke(*command)
    assert server.stats.chat == 6
    for body in server.stats.bodies:
        schema = body["response_format"]["json_schema"]["schema"]
        assert {c: schema["properties"][c]["type"] for c in CRITERIA} == dict.fromkeys(
            CRITERIA, "boolean"
        )
    sheet = pd.read_csv(out / "sheet.csv", keep_default_na=False)
    assert len(sheet) == 6 and set(sheet["annotator"]) == {""}
    answers = _verdicts_sent(server)
    for row in sheet.to_dict("records"):
        prompt = next(p for p in answers if row["action"] in p)
        for criterion in CRITERIA:
            assert row[criterion] == ("yes" if answers[prompt][criterion] else "no")
    summary = read_run(out).summary
    assert summary.stage == "judge" and summary.parse_status == {"ok": 6}
    assert summary.complete is True

    invoke(*command)  # a rerun is answered from the cache
    assert server.stats.chat == 6
    assert read_run(out).summary.usage_last_invocation["requests_sent"] == 0

    # People review the pre-filled sheet; the judge is then compared with their majority.
    people = sheet.copy()
    flips = {"correct": [0, 3], "plausible": [1]}
    second = {}
    for criterion in CRITERIA:
        said = [1 if v == "yes" else 0 for v in people[criterion]]
        second[criterion] = [
            1 - v if i in flips.get(criterion, []) else v for i, v in enumerate(said)
        ]
    first = {c: [1 if v == "yes" else 0 for v in people[c]] for c in CRITERIA}
    a = fill(people, first, tmp_path / "ann1.csv")
    b = fill(people, second, tmp_path / "ann2.csv")
    scores = tmp_path / "scores"
    invoke("annotate", "import", a, b, "--judge", out, "--out", scores)
    agreement = read_run(scores).table("judge_agreement")
    for criterion in CRITERIA:
        judge = first[criterion]  # the judge's answers, as pre-filled
        majority = [
            p if p == q else np.nan
            for p, q in zip(first[criterion], second[criterion], strict=True)
        ]
        kept = [i for i, m in enumerate(majority) if not np.isnan(m)]
        row = agreement[(agreement["axis"] == "all") & (agreement["criterion"] == criterion)].iloc[
            0
        ]
        assert row["n"] == len(kept)
        assert row["accuracy"] == pytest.approx(1.0)  # people's majority kept the judge's answer
        pairs = ([judge[i] for i in kept], [majority[i] for i in kept])
        expected = 1.0 if len(set(pairs[0]) | set(pairs[1])) == 1 else cohen_kappa_score(*pairs)
        assert row["kappa"] == pytest.approx(expected)
    assert read_run(scores).summary.judge_headline["correct"]["n"] == 4


@pytest.mark.slow
def test_judge_on_the_embedded_model(release_via: Path, tmp_path: Path, cli) -> None:
    out = tmp_path / "judge"
    result = CliRunner().invoke(
        cli,
        [
            "annotate",
            "judge",
            str(release_via),
            "--model",
            "embedded",
            "--out",
            str(out),
            "--per",
            "all",
            "--n",
            "2",
            "--concurrency",
            "2",
            "--store",
            str(tmp_path / "c.sqlite"),
        ],
    )
    assert result.exit_code == 0, (result.output, result.exception)
    judged = read_run(out).table("judge")
    assert len(judged) == 2
    assert judged["raw"].str.len().gt(0).all()  # a 135M model's text is kept whatever it says
    assert set(judged["parse_status"]) <= {"ok", "repaired", "partial", "failed"}
    assert sum(read_run(out).summary.parse_status.values()) == 2
