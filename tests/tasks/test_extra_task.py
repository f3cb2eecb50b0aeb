"""A task defined outside `src/`: its own templates, contract, requests, parser and records.

The task asks whether a value is a virtue where someone lives and reads a yes or a no. It is
registered with `register_task`, its template folder is checked by `load_templates` like the
built-in ones (and a user's folder can override it), and its requests run through a real
`Runner` and `Store` against a small backend defined here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from valuelens._errors import ValuelensError
from valuelens.models import Capabilities, Message, Request, Response
from valuelens.prompts import TemplateContract, TemplateSet, load_templates
from valuelens.runner import Runner, Store
from valuelens.tasks import ResultLike, Task, get_task, register_task, task_names, unregister_task

NAME = "virtue"


@dataclass(frozen=True)
class VirtueRecord:
    country: str
    value: str
    virtue: bool | None
    raw: str


@dataclass(frozen=True)
class VirtueTask:
    templates: TemplateSet
    tone: str

    def build_requests(self, countries: Sequence[str], values: Sequence[str]) -> list[Request]:
        return [
            Request(
                messages=(Message(role="user", content=self._prompt(country, value)),),
                temperature=0.0,
                max_tokens=4,
                metadata={"task": NAME, "country": country, "value": value},
            )
            for country in countries
            for value in values
        ]

    def _prompt(self, country: str, value: str) -> str:
        context = {"country": country, "value": value, "tone": self.tone}
        return self.templates.render(NAME, "ask", context)

    def parse(self, result: ResultLike) -> VirtueRecord:
        meta = result.request.metadata
        text = result.response.text if result.response is not None else ""
        word = text.strip().lower()
        verdict = True if word.startswith("yes") else False if word.startswith("no") else None
        return VirtueRecord(meta["country"], meta["value"], verdict, text)


def virtue_task(*, tone: str = "plain", templates: TemplateSet | None = None) -> VirtueTask:
    chosen = templates or load_templates(tasks=[NAME])
    if NAME not in chosen.tasks:
        raise ValuelensError(f"the templates from {chosen.source} have no {NAME} files")
    return VirtueTask(chosen, tone)


def _samples(template: str) -> list[dict[str, Any]]:
    return [{"country": "Peru", "value": "Honest", "tone": tone} for tone in ("plain", "warm")]


ASK = (
    "{% if tone == 'warm' %}Dear friend, {% endif %}"
    "is {{ value }} a virtue in {{ country }}? Say yes or no.\n"
)


@pytest.fixture
def registered(tmp_path: Path) -> Iterator[Path]:
    """The task registered with its default templates in a folder of its own."""
    root = tmp_path / "virtue_templates"
    (root / NAME).mkdir(parents=True)
    (root / NAME / "ask.jinja").write_text(ASK, encoding="utf-8")
    contract = TemplateContract(
        NAME,
        ("ask",),
        _samples,
        {"country": "str", "value": "str", "tone": "plain or warm"},
        root=root,
    )
    register_task(NAME, virtue_task, record=VirtueRecord, contract=contract)
    try:
        yield root
    finally:
        unregister_task(NAME)


class VirtueBackend:
    """Says yes when the prompt names Honest; counts the calls it answers."""

    def __init__(self) -> None:
        self.calls = 0

    @property
    def identity(self) -> dict[str, str]:
        return {"kind": "test", "model": "virtue-oracle", "endpoint": "memory"}

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities()

    async def complete(self, request: Request) -> Response:
        self.calls += 1
        return Response(text="Yes." if "Honest" in request.messages[-1].content else "no")

    async def aclose(self) -> None:
        return None


def test_the_task_is_registered_with_its_contract(registered: Path) -> None:
    assert NAME in task_names()
    spec = get_task(NAME)
    assert spec.record is VirtueRecord and spec.contract is not None
    made = spec.create(tone="warm")
    assert isinstance(made, Task)
    (request,) = made.build_requests(["Peru"], ["Wealth"])
    assert request.messages[0].content == "Dear friend, is Wealth a virtue in Peru? Say yes or no."
    # Asked for by name only: the folders `evaluate` loads are unchanged.
    assert NAME not in load_templates().tasks


def test_its_templates_validate_through_load_templates(registered: Path, tmp_path: Path) -> None:
    assert load_templates(tasks=[NAME]).sources == {f"{NAME}/ask": "built-in"}
    user = tmp_path / "user"
    (user / NAME).mkdir(parents=True)
    (user / NAME / "ask.jinja").write_text("{{ value }} in {{ country }}, {{ tone }}?", "utf-8")
    mine = load_templates(user, tasks=[NAME])
    assert mine.sources == {f"{NAME}/ask": str(user)}
    (request,) = virtue_task(templates=mine).build_requests(["Chile"], ["Daring"])
    assert request.messages[0].content == "Daring in Chile, plain?"
    (user / NAME / "ask.jinja").write_text("{{ value }} in {{ region }}?", "utf-8")
    with pytest.raises(ValuelensError, match=r"virtue/ask\.jinja .*'region' is undefined"):
        load_templates(user, tasks=[NAME])
    (user / NAME / "ask.jinja").write_text("{% if tone == 'warm' %}hi{% endif %}", "utf-8")
    with pytest.raises(ValuelensError, match="renders to empty text"):
        load_templates(user, tasks=[NAME])
    unregister_task(NAME)
    with pytest.raises(ValuelensError, match="unknown template task"):
        load_templates(tasks=[NAME])


async def test_its_requests_run_through_a_runner_and_a_store(
    registered: Path, tmp_path: Path
) -> None:
    task = get_task(NAME).create()
    requests = task.build_requests(["Peru", "Chile"], ["Honest", "Wealth"])
    backend = VirtueBackend()
    with Store(tmp_path / "store.sqlite") as store:
        first = await Runner(backend, store).run(requests)
        again = await Runner(backend, store).run(requests)
    records: Iterable[VirtueRecord] = [task.parse(result) for result in first]
    assert [(r.country, r.value, r.virtue) for r in records] == [
        ("Peru", "Honest", True),
        ("Peru", "Wealth", False),
        ("Chile", "Honest", True),
        ("Chile", "Wealth", False),
    ]
    assert backend.calls == 4 and all(result.cached for result in again)
    assert [task.parse(r) for r in again] == [task.parse(r) for r in first]
