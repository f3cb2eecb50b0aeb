"""Tasks as the pipeline gets them: from the registry, configured, and of the kind it drives."""

from __future__ import annotations

from typing import Any, TypeVar

from valuelens._errors import ValuelensError
from valuelens.tasks import get_task

Configured = TypeVar("Configured")


def configured_task(name: str, kind: type[Configured], **options: Any) -> Configured:
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
