"""The pipeline resolves its tasks through the registry and passes the options on to them.

`compass` and `generate` run against the local fake server (tests/support/fake_server.py),
so the checks read the requests as they arrived there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from support.fake_server import FakeServer, FaultConfig, serve_in_thread
from valuelens._errors import ValuelensError
from valuelens.pipeline import (
    EVALUATE_TASKS,
    EvaluateConfig,
    collect_compass_answers,
    estimate,
    evaluate_tasks,
    generate_actions,
)
from valuelens.tasks import generate_task, register_task, unregister_task


@pytest.fixture
def server(dummy_openai_key: str) -> Iterator[FakeServer]:
    with serve_in_thread(FaultConfig(latency_s=0.001)) as fake:
        fake.stats.keep_bodies = True
        yield fake


def _prompts(server: FakeServer) -> list[str]:
    return [body["messages"][-1]["content"] for body in server.stats.bodies]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("stated,action", ("stated", "action")),
        (" Action , stated,action", ("action", "stated")),
        (["stated"], ("stated",)),
    ],
)
def test_evaluate_tasks_reads_names_through_the_registry(
    spec: str | list[str], expected: tuple[str, ...]
) -> None:
    assert evaluate_tasks(spec) == expected
    assert set(expected) <= set(EVALUATE_TASKS)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("stated,predict", r"not 'predict' \(registered, but evaluate does not run it\)$"),
        ("compass", r"not 'compass' \(registered"),
        ("stated,sated", r"not 'sated' \(no such task\)$"),
        (" , ", r"^--tasks takes stated and/or action \(and the added tasks open\), not nothing$"),
    ],
)
def test_evaluate_tasks_refuses_what_evaluate_does_not_run(spec: str, message: str) -> None:
    with pytest.raises(ValuelensError, match=message):
        evaluate_tasks(spec)


def test_a_task_registered_in_test_code_is_known_but_not_run_by_evaluate(tmp_path: Path) -> None:
    register_task("virtue-check", generate_task, record=dict)
    try:
        with pytest.raises(ValuelensError, match=r"'virtue-check' \(registered"):
            evaluate_tasks("stated,virtue-check")
        config = EvaluateConfig(out=tmp_path / "run", tasks=("virtue-check",))  # type: ignore[arg-type]
        with pytest.raises(ValuelensError, match="--tasks takes stated and/or action"):
            estimate(config)
    finally:
        unregister_task("virtue-check")
    with pytest.raises(ValuelensError, match=r"'virtue-check' \(no such task\)"):
        evaluate_tasks("virtue-check")


def test_compass_run_uses_a_folder_that_overrides_one_variant(
    server: FakeServer, tmp_path: Path
) -> None:
    mine = tmp_path / "mine"
    (mine / "compass").mkdir(parents=True)
    (mine / "compass" / "variant_1.jinja").write_text(
        "MINE {{ scenario.name }} in {{ country }}: {{ value_names | join('/') }}\n",
        encoding="utf-8",
    )
    out = tmp_path / "c"
    answers = collect_compass_answers(
        "openai:fake",
        out,
        countries="Canada",
        scenarios="Healthcare",
        values="Honest,Wealth",
        variants="0,1",
        base_urls=[server.base_url],
        templates=mine,
        progress=False,
    )
    assert isinstance(answers, pd.DataFrame)
    prompts = _prompts(server)
    assert len(prompts) == 2
    assert "MINE Healthcare in Canada: Wealth/Honest" in prompts
    (builtin,) = [p for p in prompts if not p.startswith("MINE")]
    assert "Canada" in builtin and "Honest" in builtin
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    sources = summary["templates"]
    assert sources["compass/variant_1"] == str(mine)
    assert sources["compass/variant_0"] == "built-in"
    assert set(sources) == {f"compass/variant_{n}" for n in range(8)}


def test_compass_run_records_built_in_templates_without_a_folder(
    server: FakeServer, tmp_path: Path
) -> None:
    out = tmp_path / "c"
    collect_compass_answers(
        "openai:fake",
        out,
        countries="Canada",
        scenarios="Healthcare",
        values="Honest",
        variants="2",
        base_urls=[server.base_url],
        progress=False,
    )
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert set(summary["templates"].values()) == {"built-in"}


def test_compass_run_rejects_a_folder_without_compass_files(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    (mine / "stated").mkdir(parents=True)
    (mine / "stated" / "variant_0.jinja").write_text("hello\n", encoding="utf-8")
    with pytest.raises(ValuelensError, match="compass"):
        collect_compass_answers(
            "openai:fake", tmp_path / "c", countries="Canada", templates=mine, dry_run=True
        )


def test_generate_takes_a_taxonomy_and_a_seed(server: FakeServer, tmp_path: Path) -> None:
    taxonomy = tmp_path / "tax.yaml"
    taxonomy.write_text("countries: [Atlantis]\n", encoding="utf-8")
    out = tmp_path / "actions.csv"
    frame = generate_actions(
        out,
        model="openai:fake",
        base_urls=(server.base_url,),
        countries="Atlantis",
        topics="Environment",
        values="Honest",
        taxonomy=taxonomy,
        seed=7,
        progress=False,
    )
    assert out.is_file() and isinstance(frame, pd.DataFrame)
    bodies = server.stats.bodies
    assert len(bodies) == 2  # one per polarity
    assert [body.get("seed") for body in bodies] == [7, 7]
    assert all("Atlantis" in prompt for prompt in _prompts(server))


def test_generate_without_the_taxonomy_does_not_know_the_country(tmp_path: Path) -> None:
    with pytest.raises(ValuelensError, match="Atlantis"):
        generate_actions(
            tmp_path / "a.csv", model="openai:fake", countries="Atlantis", dry_run=True
        )


def test_a_stage_refuses_a_registered_task_of_another_kind() -> None:
    from valuelens.pipeline._tasks import configured_task
    from valuelens.tasks import GenerateTask, StatedTask

    assert isinstance(configured_task("generate", GenerateTask, variants="5"), GenerateTask)
    with pytest.raises(ValuelensError, match="'generate' is a GenerateTask, not a StatedTask"):
        configured_task("generate", StatedTask)
