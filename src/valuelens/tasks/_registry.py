"""The task protocol and registry: every task by name, with its factory and template contract.

A task is configured once by a factory (options are checked there) and then builds requests
and parses the runner's results into records (`Task`). `register_task` adds one under a name;
its template contract (`valuelens.prompts.TemplateContract`) goes to `load_templates`, which
checks a user's template folder against it. A task registered with an `Evaluation` also runs in
`valuelens evaluate --tasks stated,action,NAME`: the hook says how to build its requests from
the evaluation's scope (`EvaluationScope`), which table its records become and which summary
entries they add.

Example:
    >>> from valuelens.tasks import get_task, task_names
    >>> task_names()
    ('generate', 'stated', 'action', 'predict', 'compass', 'annotate', 'harms', 'open')
    >>> stated = get_task("stated").create(variants="0,2")
    >>> get_task("stated").record.__name__
    'StatedRecord'
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from valuelens._errors import ValuelensError
from valuelens.data._compass_llm import ValueAnswer
from valuelens.models import Request
from valuelens.prompts import (
    TemplateContract,
    TemplateSet,
    register_template_contract,
    template_contract,
)
from valuelens.prompts._contracts import unregister_template_contract
from valuelens.tasks._action import action_task
from valuelens.tasks._compass import compass_task
from valuelens.tasks._generate import generate_task
from valuelens.tasks._predict import PredictRecord, predict_task
from valuelens.tasks._records import ActionRecord, GeneratedAction, ResultLike, StatedRecord
from valuelens.tasks._stated import stated_task
from valuelens.taxonomy import Taxonomy


@runtime_checkable
class Task(Protocol):
    """What a configured task does: requests out, records in. It never sends anything."""

    def build_requests(self, *args: Any, **kwargs: Any) -> list[Request]:
        """The requests for some items (each task takes its own kind of items)."""
        ...

    def parse(self, result: ResultLike) -> object:
        """One runner result as a record (or a list of records); never raises on bad output."""
        ...


@dataclass(frozen=True)
class EvaluationScope:
    """What `valuelens evaluate` hands a registered task: the run's scope, data and settings.

    Attributes:
        countries: the selected countries, in the taxonomy's order; likewise `topics`, `values`.
        taxonomy: the run's taxonomy (values with their definitions and types).
        actions: the VIA actions of the scope (the table `valuelens.data.load_via` returns:
            one row per country, topic, value and polarity) when the task's evaluation
            `needs_actions`, else None. In a dry run before generation they are stand-ins of
            typical length.
        templates: the template set the task was configured with (None: built-in).
        settings: the run's settings: `model`, `temperature`, `seed`, `scoring`.
    """

    countries: tuple[str, ...]
    topics: tuple[str, ...]
    values: tuple[str, ...]
    taxonomy: Taxonomy
    actions: pd.DataFrame | None = None
    templates: TemplateSet | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)


class Ask(Protocol):
    """Send requests through the evaluation's runner (cache, retries, rate limit) and await them.

    With `model` (a model spec, e.g. a judge's), they go to that model instead, through a
    session the evaluation opens on first use (same cache, limits and usage count); its base
    URLs come from `--judge-base-url`.
    """

    def __call__(
        self, requests: Sequence[Request], /, *, model: str | None = None
    ) -> Awaitable[Sequence[ResultLike]]:
        """The results of `requests`, in order."""
        ...


@dataclass(frozen=True)
class Evaluation:
    """How `valuelens evaluate` runs a registered task next to Task 1 and Task 2.

    The task is configured by its factory with those of `templates`, `taxonomy`,
    `temperature`, `seed` and `scoring` that the factory accepts. By default its `requests` are
    sent once, each result goes through the task's `parse` (a record or a list of records), and
    the records become the table (`task.to_frame(records)` when the task has one, else one row
    per record's fields). A task that needs more than one round (say, a judge reading the
    model's answers) gives `run` instead, which may `ask` as often as it needs.

    Attributes:
        requests: the task's (first) requests for the scope; a dry run counts these.
        table: the run-directory table its records become (default `responses_<name>`).
        needs_actions: the task reads `scope.actions` (generated first when no VIA file is
            available, as for Task 2).
        summarize: summary entries computed from the table (new keys only), e.g. a mean a
            registered measure (`valuelens.metrics.register_measure`) shows.
        run: the whole evaluation of the task, `await run(task, scope, ask)` -> the table.
    """

    requests: Callable[[Any, EvaluationScope], list[Request]]
    table: str = ""
    needs_actions: bool = False
    summarize: Callable[[pd.DataFrame], Mapping[str, object]] | None = None
    run: Callable[[Any, EvaluationScope, Ask], Awaitable[pd.DataFrame]] | None = None

    def table_name(self, task: str) -> str:
        """The table the task's records become in the run directory."""
        return self.table or f"responses_{task}"


@dataclass(frozen=True)
class TaskSpec:
    """A registered task.

    Attributes:
        name: the task's name (`--tasks`, metadata `task`, the template subfolder).
        factory: configures the task from keyword options (`stated_task`, ...).
        record: the record type `parse` yields.
        contract: which template files it needs and the variables they receive; None for a
            task without templates.
        description: one line for listings.
        evaluation: how `valuelens evaluate` runs it; None for a task evaluate does not run.
    """

    name: str
    factory: Callable[..., Task] = field(repr=False)
    record: type
    contract: TemplateContract | None = field(default=None, repr=False)
    description: str = ""
    evaluation: Evaluation | None = field(default=None, repr=False)

    def create(self, **options: Any) -> Task:
        """The configured task: `factory(**options)`."""
        return self.factory(**options)


_TASKS: dict[str, TaskSpec] = {}


def register_task(
    name: str,
    factory: Callable[..., Task],
    *,
    record: type,
    contract: TemplateContract | None = None,
    description: str = "",
    replace: bool = False,
    evaluation: Evaluation | None = None,
) -> TaskSpec:
    """Add a task under `name`; its template contract becomes known to `load_templates`.

    Args:
        name: the task's name.
        factory: configures the task from keyword options.
        record: the record type its `parse` yields.
        contract: its template contract (`contract.task` must be `name`); None for none.
        description: one line for listings.
        replace: allow replacing a task already registered under `name`.
        evaluation: how `valuelens evaluate --tasks ...,NAME` runs it (None: evaluate refuses it).

    Returns:
        The registered spec.

    Raises:
        ValuelensError: the name is taken (without `replace`) or the contract names another task.
    """
    if name in _TASKS and not replace:
        raise ValuelensError(f"a task named {name!r} is already registered")
    if contract is not None:
        if contract.task != name:
            raise ValuelensError(
                f"task {name!r} came with the template contract of {contract.task!r}"
            )
        register_template_contract(contract, replace=replace)
    spec = TaskSpec(name, factory, record, contract, description, evaluation)
    _TASKS[name] = spec
    return spec


def unregister_task(name: str) -> None:
    """Remove a task and its template contract (nothing happens for an unknown name)."""
    spec = _TASKS.pop(name, None)
    if spec is not None and spec.contract is not None:
        unregister_template_contract(name)


def get_task(name: str) -> TaskSpec:
    """The task registered under `name`.

    Raises:
        ValuelensError: no such task (the message lists the registered ones).
    """
    try:
        return _TASKS[name]
    except KeyError:
        raise ValuelensError(
            f"unknown task {name!r}; registered tasks: {', '.join(_TASKS)}"
        ) from None


def task_names() -> tuple[str, ...]:
    """The registered task names, in registration order."""
    return tuple(_TASKS)


def evaluation_task_names() -> tuple[str, ...]:
    """The registered tasks that declare how `valuelens evaluate` runs them (`Evaluation`)."""
    return tuple(name for name, spec in _TASKS.items() if spec.evaluation is not None)


def select_tasks(
    spec: str | Iterable[str], *, among: Iterable[str] | None = None
) -> tuple[str, ...]:
    """Task names from a comma-separated string or a list, checked and without repeats.

    Args:
        spec: e.g. `"stated,action"`.
        among: the names allowed here (say, the tasks `evaluate` runs); default: all registered.

    Raises:
        ValuelensError: an empty choice, or a name outside `among` (one line listing them).
    """
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    chosen = tuple(dict.fromkeys(name.strip() for name in names if name.strip()))
    allowed = tuple(among) if among is not None else task_names()
    unknown = [name for name in chosen if name not in allowed]
    if unknown or not chosen:
        shown = ", ".join(repr(name) for name in unknown) or "nothing"
        raise ValuelensError(f"unknown task {shown}; choose from {', '.join(allowed)}")
    for name in chosen:
        get_task(name)
    return chosen


for _name, _factory, _record, _description in (
    ("generate", generate_task, GeneratedAction, "write the VIA actions for a value"),
    ("stated", stated_task, StatedRecord, "Task 1: rate values on 1..4"),
    ("action", action_task, ActionRecord, "Task 2: choose between two actions"),
    ("predict", predict_task, PredictRecord, "predict a model's choices from explanations"),
    ("compass", compass_task, ValueAnswer, "ValueCompass: rate values as the AI in a scenario"),
):
    register_task(
        _name,
        _factory,
        record=_record,
        contract=template_contract(_name),
        description=_description,
    )
