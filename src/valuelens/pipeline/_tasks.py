"""Tasks as the pipeline gets them: from the registry, configured, and of the kind it drives.

`evaluation_task` and `run_evaluation` run a registered task that declares an `Evaluation`
(`valuelens.tasks.register_task(..., evaluation=...)`) inside `valuelens evaluate`.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import pandas as pd
from pydantic import BaseModel

from valuelens._errors import ValuelensError
from valuelens.tasks import Ask, EvaluationScope, Task, TaskSpec, get_task

Configured = TypeVar("Configured")


def configured_task(name: str, kind: type[Configured], **options: object) -> Configured:
    """The task registered as `name`, configured with `options` (`TaskSpec.create`).

    Args:
        name: the registered task name (`stated`, `action`, `generate`, `compass`, ...).
        kind: the class the calling stage drives (a replacement must subclass it).
        **options: the factory's keyword options.

    Raises:
        ValuelensError: the registered task is not a `kind` (or its options are wrong).
    """
    task = get_task(name).create(**options)
    if not isinstance(task, kind):
        raise ValuelensError(
            f"the task registered as {name!r} is a {type(task).__name__}, not a "
            f"{kind.__name__}; this command cannot run it"
        )
    return task


def evaluation_task(spec: TaskSpec, settings: Mapping[str, object]) -> Task:
    """A task with an `Evaluation`, configured with the run settings its factory accepts.

    Raises:
        ValuelensError: the task declares no evaluation (or its options are wrong).
    """
    if spec.evaluation is None:
        raise ValuelensError(f"the task {spec.name!r} declares no evaluation")
    return spec.create(**_accepted(spec.factory, settings))


def _accepted(factory: Callable[..., object], settings: Mapping[str, object]) -> dict[str, object]:
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: give it everything
        return dict(settings)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return dict(settings)
    names = {p.name for p in parameters if p.kind is not inspect.Parameter.POSITIONAL_ONLY}
    return {key: value for key, value in settings.items() if key in names}


async def run_evaluation(
    spec: TaskSpec, task: Task, scope: EvaluationScope, ask: Ask
) -> pd.DataFrame:
    """One registered task's part of an evaluation: its table (see `Evaluation`)."""
    evaluation = spec.evaluation
    assert evaluation is not None  # evaluation_task made sure
    if evaluation.run is not None:
        return await evaluation.run(task, scope, ask)
    results = await ask(evaluation.requests(task, scope))
    records: list[object] = []
    for result in results:
        parsed = task.parse(result)
        records.extend(parsed if isinstance(parsed, list) else [parsed])
    return records_frame(task, records)


def records_frame(task: object, records: Sequence[object]) -> pd.DataFrame:
    """The records as a table: `task.to_frame(records)` when the task has one, else a row each.

    A row holds a dataclass's fields, a pydantic model's dump or a mapping's items.
    """
    to_frame = getattr(task, "to_frame", None)
    if callable(to_frame):
        frame = to_frame(records)
        if not isinstance(frame, pd.DataFrame):
            raise ValuelensError(f"{type(task).__name__}.to_frame returned no DataFrame")
        return frame
    return pd.DataFrame([_row(record) for record in records])


def _row(record: object) -> dict[str, object]:
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return dataclasses.asdict(record)
    if isinstance(record, BaseModel):
        return record.model_dump()
    if isinstance(record, Mapping):
        return dict(record)
    raise ValuelensError(
        f"a {type(record).__name__} record cannot become a table row; give the task a "
        "`to_frame(records)` or use a dataclass, a pydantic model or a mapping"
    )
