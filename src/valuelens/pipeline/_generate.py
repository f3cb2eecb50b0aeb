"""`generate`: VIA-style actions from a model, written as one table (not a run directory)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Unpack

import pandas as pd

from valuelens._errors import ValuelensError
from valuelens._rundir import reason, write_atomic
from valuelens.pipeline._completeness import Completeness
from valuelens.pipeline._session import (
    SessionOptions,
    SessionSettings,
    open_session,
    output_cache,
    run_requests,
    session_settings,
)
from valuelens.pipeline._tables import storable
from valuelens.pipeline._tasks import configured_task
from valuelens.prompts import load_templates
from valuelens.runner import Estimate
from valuelens.tasks import GenerateTask
from valuelens.taxonomy import load_taxonomy


def generate_actions(
    out: Path,
    session: SessionSettings | None = None,
    *,
    countries: str | None = None,
    topics: str | None = None,
    values: str | None = None,
    variants: str = "5",
    temperature: float = 0.2,
    templates: Path | None = None,
    taxonomy: Path | None = None,
    seed: int = 0,
    dry_run: bool = False,
    **options: Unpack[SessionOptions],
) -> pd.DataFrame | Estimate:
    """Generate VIA-style actions for both polarities and write them as a table.

    The table has the columns of `valuelens.data.load_via` (plus validation flags), so it can be
    passed to `evaluate --via` directly. With `dry_run`, returns the estimate instead.
    `frame.attrs["completeness"]` (a `Completeness`) counts the requests that failed for good;
    their rows have parse_status `failed` and the message in `error`. `session` says which
    model to ask and how (its fields may also be given one by one, as `options`); the cache
    is its `store`, by default the shared one (or the `actions.cache.sqlite` an older version
    left next to `out`). `taxonomy` extends the built-in countries, topics and values; `seed`
    is the sampling seed (as in `evaluate`).
    """
    settings = session_settings(session, options)
    task = configured_task(
        "generate",
        GenerateTask,
        variants=variants,
        templates=load_templates(templates) if templates else None,
        taxonomy=load_taxonomy(taxonomy),
        temperature=temperature,
        seed=seed,
    )
    requests = task.build_requests(countries, topics, values)
    store = settings.store or output_cache(out)
    opened = open_session(dataclasses.replace(settings, store=store))
    answers = run_requests(opened, requests, dry_run=dry_run)
    if isinstance(answers, Estimate):
        return answers
    frame: pd.DataFrame = task.to_frame(task.parse_many(answers.results))
    frame.attrs["completeness"] = Completeness.of({"generate": answers.results}, answers.totals)
    _write_table(out, storable({"actions": frame})["actions"])
    return frame


def _write_table(out: Path, table: pd.DataFrame) -> None:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problem = reason(exc)
        raise ValuelensError(f"cannot create output directory {out.parent}: {problem}") from None
    if out.suffix.lower() == ".parquet":
        write_atomic(out, lambda path: table.to_parquet(path, index=False))
    else:
        write_atomic(out, lambda path: table.to_csv(path, index=False))
