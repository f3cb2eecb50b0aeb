"""`evaluate`: one model through generation (when needed), Task 1, Task 2, scoring and report.

This module only wires the stages together; each stage lives in its own package (data, tasks,
runner, metrics, report) and can be used on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from valuelens._errors import ValuelensError
from valuelens._rundir import run_dir_lock
from valuelens.data import load_via
from valuelens.data._download import default_via_path, download_via
from valuelens.metrics import (
    ValueActionResult,
    first_option_rate,
    score_value_action,
    variant_scores,
)
from valuelens.models import Request
from valuelens.pipeline._completeness import Completeness, accumulated_usage, usage_of
from valuelens.pipeline._session import Session, open_session, run_cache
from valuelens.pipeline._tables import storable
from valuelens.pipeline._tasks import configured_task
from valuelens.prompts import TemplateSet, load_templates, template_sources
from valuelens.report import write_run
from valuelens.runner import Estimate, Runner, RunResult
from valuelens.tasks import (
    ActionTask,
    GenerateTask,
    Scoring,
    StatedTask,
    select_tasks,
    task_names,
)
from valuelens.taxonomy import Taxonomy, load_taxonomy

Task = Literal["stated", "action"]
GenerateMode = Literal["auto", "always", "never"]
EVALUATE_TASKS: tuple[Task, ...] = ("stated", "action")
"""The registered tasks `evaluate` runs (`generate` runs only when the actions are missing)."""


def evaluate_tasks(spec: str | Iterable[str]) -> tuple[Task, ...]:
    """The tasks `evaluate` runs, from `--tasks` (`"stated,action"`) or a list of names.

    Names are looked up in the task registry (`valuelens.tasks.select_tasks`); a registered
    task that `evaluate` does not run (`predict`, `compass`, ...) is refused, and so is an
    unknown one, both in one line.

    Raises:
        ValuelensError: no name, an unknown name, or a task `evaluate` does not run.
    """
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    cleaned = [name.strip().lower() for name in names if name.strip()]
    try:
        chosen = select_tasks(cleaned, among=EVALUATE_TASKS)
    except ValuelensError:
        registered = task_names()
        refused = [
            f"{name!r} (registered, but evaluate does not run it)"
            if name in registered
            else f"{name!r} (no such task)"
            for name in dict.fromkeys(cleaned)
            if name not in EVALUATE_TASKS
        ]
        raise ValuelensError(
            f"--tasks takes stated and/or action, not {', '.join(refused) or 'nothing'}"
        ) from None
    return tuple("stated" if name == "stated" else "action" for name in chosen)


@dataclass(frozen=True)
class EvaluateConfig:
    """Everything `valuelens evaluate` needs; the CLI options map one to one onto these fields.

    Attributes:
        out: the run directory.
        model: model spec (`embedded`, `embedded:PATH`, `openai:NAME`, `anthropic:NAME`).
        base_urls: API roots for `openai`/`anthropic` models; several spread the load.
        via: a VIA file; default: the cached official release.
        generate: `auto` generates the actions with the evaluated model when no VIA file is
            available, `always` generates them even then, `never` requires a VIA file.
        countries: comma-separated names (None: all); likewise `topics` and `values`.
        tasks: which tasks to run; scoring needs both.
        stated_variants: Task 1 prompt variants (default all eight, as in the paper).
        action_variants: Task 2 prompt variants (default 5, the paper's full run).
        scoring: `generate` (parse JSON answers) or `logprob` (read option probabilities).
        temperature: sampling temperature (0.2 in the paper).
        concurrency: requests in flight at once.
        requests_per_minute: optional rate limit.
        timeout_s: seconds one attempt may take (default 120; no limit for the embedded model).
        max_reasks: how often Task 1 asks again for values missing from an answer.
        templates: a folder with the user's own prompt templates.
        store: the SQLite cache (default: `out/cache.sqlite`, see `run_cache`).
        taxonomy: a YAML/JSON file that extends the built-in taxonomy.
        seed: sampling seed and bootstrap seed.
        progress: show progress bars.
        report: write `report.html` into the run directory.
        wait: when another process is writing `out`, wait for it instead of failing.
    """

    out: Path
    model: str = "embedded"
    base_urls: tuple[str, ...] = ()
    via: Path | None = None
    generate: GenerateMode = "auto"
    countries: str | None = None
    topics: str | None = None
    values: str | None = None
    tasks: tuple[Task, ...] = ("stated", "action")
    stated_variants: str = "all"
    action_variants: str = "5"
    scoring: Scoring = "generate"
    temperature: float = 0.2
    concurrency: int = 8
    requests_per_minute: float | None = None
    timeout_s: float | None = None
    max_reasks: int = 1
    templates: Path | None = None
    store: Path | None = None
    taxonomy: Path | None = None
    seed: int = 0
    progress: bool = True
    report: bool = True
    wait: bool = False


@dataclass
class EvaluateOutcome:
    """What an evaluation produced: the scores (None when only one task ran) and its tables.

    `completeness` says whether every request got an answer; when not, the scores and
    `summary` (`"complete": false`) come from the answers that arrived.
    """

    out: Path
    summary: dict[str, Any]
    result: ValueActionResult | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    report: Path | None = None
    completeness: Completeness = field(default_factory=Completeness)


@dataclass
class _Plan:
    taxonomy: Taxonomy
    countries: list[str]
    topics: list[str]
    values: list[str]
    templates: TemplateSet | None
    via_path: Path | None

    @property
    def scope(self) -> tuple[list[str], list[str], list[str]]:
        """Countries, topics and values, the arguments of the tasks' `build_requests`."""
        return self.countries, self.topics, self.values


def evaluate(config: EvaluateConfig) -> EvaluateOutcome:
    """Run an evaluation to the end and write the run directory (see `EvaluateConfig`)."""
    return asyncio.run(evaluate_async(config))


async def evaluate_async(config: EvaluateConfig) -> EvaluateOutcome:
    """`evaluate` for code that already runs an event loop (e.g. Jupyter)."""
    with run_dir_lock(config.out, wait=config.wait):  # one writer per run directory
        return await _evaluate_locked(config)


async def _evaluate_locked(config: EvaluateConfig) -> EvaluateOutcome:
    plan = _plan(config)
    stated = _stated_task(config, plan) if "stated" in config.tasks else None
    action = _action_task(config, plan) if "action" in config.tasks else None
    async with _session(config) as session:
        for task in (stated, action):  # fail before anything is sent
            if task is not None:
                task.check_backend(session.backend.capabilities)
        runner = session.runner
        stages: dict[str, list[RunResult]] = {}
        actions, source = await _actions(config, plan, runner, stages)
        tables = await _run_tasks(plan, runner, stated, action, actions, stages)
    completeness = Completeness.of(stages, runner.totals)
    return _finish(config, plan, runner, tables, source, completeness)


def estimate(config: EvaluateConfig) -> list[tuple[str, Estimate]]:
    """A dry run: requests, tokens and cost per stage; nothing is sent.

    Task 2 needs the actions; when they would be generated first, its estimate counts one
    request per pair and variant with the prompt size of a typical pair.
    """
    return asyncio.run(estimate_async(config))


async def estimate_async(config: EvaluateConfig) -> list[tuple[str, Estimate]]:
    """`estimate` for code that already runs an event loop (e.g. Jupyter)."""
    plan = _plan(config)
    actions, _ = _load_actions(config, plan)
    stages: dict[str, Sequence[Request]] = {}
    if actions is None and "action" in config.tasks:
        stages["generate"] = _generate_task(config, plan).build_requests(*plan.scope)
    if "stated" in config.tasks:
        stages["stated"] = _stated_task(config, plan).build_requests(*plan.scope)
    if "action" in config.tasks:
        pairs = actions if actions is not None else _placeholder_actions(plan)
        stages["action"] = _action_task(config, plan).build_requests(pairs)
    async with _session(config) as session:
        return [(stage, session.runner.estimate(requests)) for stage, requests in stages.items()]


def _plan(config: EvaluateConfig) -> _Plan:
    evaluate_tasks(config.tasks)
    taxonomy = load_taxonomy(config.taxonomy)
    return _Plan(
        taxonomy=taxonomy,
        countries=taxonomy.resolve_many("country", config.countries),
        topics=taxonomy.resolve_many("topic", config.topics),
        values=taxonomy.resolve_many("value", config.values),
        templates=load_templates(config.templates) if config.templates else None,
        via_path=config.via or default_via_path(),
    )


def _session(config: EvaluateConfig) -> AbstractAsyncContextManager[Session]:
    return open_session(
        config.model,
        store=config.store or run_cache(config.out),
        base_urls=config.base_urls,
        concurrency=config.concurrency,
        requests_per_minute=config.requests_per_minute,
        timeout_s=config.timeout_s,
        progress=config.progress,
    )


def _shared_settings(config: EvaluateConfig, plan: _Plan) -> dict[str, Any]:
    """The task settings every stage takes from the run's configuration."""
    return {
        "templates": plan.templates,
        "taxonomy": plan.taxonomy,
        "temperature": config.temperature,
        "seed": config.seed,
    }


def _generate_task(config: EvaluateConfig, plan: _Plan) -> GenerateTask:
    return configured_task("generate", GenerateTask, **_shared_settings(config, plan))


def _stated_task(config: EvaluateConfig, plan: _Plan) -> StatedTask:
    return configured_task(
        "stated",
        StatedTask,
        variants=config.stated_variants,
        scoring=config.scoring,
        max_reasks=config.max_reasks,
        **_shared_settings(config, plan),
    )


def _action_task(config: EvaluateConfig, plan: _Plan) -> ActionTask:
    return configured_task(
        "action",
        ActionTask,
        variants=config.action_variants,
        scoring=config.scoring,
        **_shared_settings(config, plan),
    )


def _load_actions(
    config: EvaluateConfig, plan: _Plan, *, download: bool = False
) -> tuple[pd.DataFrame | None, str]:
    """The selected VIA rows and where they came from; None when they must be generated.

    Without a VIA file or a cached release, `download` fetches the official release first;
    when that fails, the actions are generated (unless `generate` is `never`).
    """
    if config.generate == "always" or "action" not in config.tasks:
        return None, ""
    via_path, problem = plan.via_path, "it has not been downloaded"
    if via_path is None and download:
        try:
            via_path = download_via()
        except ValuelensError as error:
            problem = f"the download failed: {error}"
    if via_path is None:
        if config.generate == "never":
            raise ValuelensError(
                f"no VIA data ({problem}): run `valuelens data download`, pass --via PATH, "
                "or allow --generate auto to generate the actions with the model"
            )
        return None, f"no official VIA data ({problem})"
    actions = load_via(via_path, taxonomy=plan.taxonomy)
    selected = actions[
        actions["country"].isin(plan.countries)
        & actions["topic"].isin(plan.topics)
        & actions["value"].isin(plan.values)
    ]
    if selected.empty:
        raise ValuelensError(
            f"{via_path} has no actions for the selected countries, topics and values"
        )
    return selected.reset_index(drop=True), str(via_path)


async def _actions(
    config: EvaluateConfig, plan: _Plan, runner: Runner, stages: dict[str, list[RunResult]]
) -> tuple[pd.DataFrame | None, str]:
    actions, source = _load_actions(config, plan, download=True)
    if actions is not None or "action" not in config.tasks:
        return actions, source
    task = _generate_task(config, plan)
    results = await runner.run(task.build_requests(*plan.scope))
    stages["generate"] = results
    generated = f"generated by {config.model}"
    return task.to_frame(
        task.parse_many(results)
    ), f"{generated}; {source}" if source else generated


def _placeholder_actions(plan: _Plan) -> pd.DataFrame:
    """Stand-in actions of typical length, only to size a dry run before generation."""
    text = "I " + "take a concrete step in my community that shows what I care about " * 2
    rows: list[dict[str, object]] = [
        {
            "country": c,
            "topic": t,
            "value": v,
            "polarity": p,
            "action": text.strip(),
            "attributions": [],
            "explanation": None,
            "raw": "",
            "parse_status": "ok",
        }
        for c in plan.countries
        for t in plan.topics
        for v in plan.values
        for p in ("positive", "negative")
    ]
    return pd.DataFrame(rows)


async def _run_tasks(
    plan: _Plan,
    runner: Runner,
    stated: StatedTask | None,
    action: ActionTask | None,
    actions: pd.DataFrame | None,
    stages: dict[str, list[RunResult]],
) -> dict[str, pd.DataFrame]:
    """Run both tasks; every result is also recorded in `stages` (for the failed counts)."""
    tables: dict[str, pd.DataFrame] = {}
    if actions is not None:
        tables["actions"] = actions
    stated_requests = stated.build_requests(*plan.scope) if stated else []
    action_requests = action.build_requests(actions) if action and actions is not None else []
    # One batch, so Task 2 requests fill the slots that Task 1 stragglers leave idle.
    results = await runner.run([*stated_requests, *action_requests])
    stages["stated"] = results[: len(stated_requests)]
    stages["action"] = results[len(stated_requests) :]
    if stated is not None:
        records = stated.parse_many(stages["stated"])
        while reasks := stated.reask_requests(records):
            reasked = await runner.run(reasks)
            stages["stated"] = [*stages["stated"], *reasked]
            records += stated.parse_many(reasked)
        tables["responses_stated"] = stated.to_frame(records)
    if action is not None and actions is not None:
        tables["responses_action"] = action.to_frame(action.parse_many(stages["action"]))
    return tables


def _finish(
    config: EvaluateConfig,
    plan: _Plan,
    runner: Runner,
    tables: dict[str, pd.DataFrame],
    source: str,
    completeness: Completeness,
) -> EvaluateOutcome:
    summary: dict[str, Any] = {
        "model": config.model,
        "label": config.model.split(":", 1)[-1] or config.model,
        "valuelens_version": version("valuelens"),
        "actions_source": source,
        "scoring": config.scoring,
        "temperature": config.temperature,
        "stated_variants": config.stated_variants,
        "action_variants": config.action_variants,
        # Where each template of the tasks this run used came from (a user's folder or built-in).
        "templates": template_sources(
            plan.templates,
            [*config.tasks, *(["generate"] if source.startswith("generated by") else [])],
        ),
        **completeness.summary_fields(),
        **accumulated_usage(config.out, usage_of(runner.totals)),
    }
    for name in ("responses_stated", "responses_action"):
        if name in tables:
            counts = tables[name]["parse_status"].value_counts()
            summary[f"parse_status_{name.removeprefix('responses_')}"] = {
                str(k): int(v) for k, v in counts.items()
            }
    if "responses_action" in tables:
        summary["action_first_option_rate"] = first_option_rate(tables["responses_action"])
    result = None
    if {"responses_stated", "responses_action"} <= tables.keys():
        stated, choices = tables["responses_stated"], tables["responses_action"]
        result = score_value_action(stated, choices, plan.taxonomy, seed=config.seed)
        summary = {**summary, **result.summary, "model": config.model, "label": summary["label"]}
        tables = {
            **result.tables,
            **tables,
            "variants": variant_scores(stated, choices, plan.taxonomy),
        }
    else:
        summary["kind"] = "value-action-responses"
    write_run(config.out, summary, storable(tables))
    report = _write_report(config) if config.report and result is not None else None
    return EvaluateOutcome(config.out, summary, result, tables, report, completeness)


def _write_report(config: EvaluateConfig) -> Path:
    from valuelens.report import render_report

    return render_report([config.out], config.out / "report.html")
