"""`evaluate`: one model through generation (when needed), Task 1, Task 2, scoring and report.

This module only wires the stages together; each stage lives in its own package (data, tasks,
runner, metrics, report) and can be used on its own. Any registered task that declares an
`Evaluation` (`valuelens.tasks.register_task(..., evaluation=...)`) runs here too, after Task 1
and Task 2, into its own table (`responses_<name>`) and summary entries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field, replace
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
    language_gap,
    language_pairs,
    score_value_action,
    variant_scores,
)
from valuelens.models import Request
from valuelens.models._args import ModelArgs
from valuelens.pipeline._completeness import Completeness, accumulated_usage, usage_of
from valuelens.pipeline._reuse import (
    USAGE_KEYS,
    inputs_digest,
    report_is_current,
    report_key,
    reusable_results,
)
from valuelens.pipeline._session import Session, SessionSettings, open_session
from valuelens.pipeline._subset import Pair, stratified_pairs
from valuelens.pipeline._tables import storable
from valuelens.pipeline._tasks import configured_task, evaluation_task, run_evaluation
from valuelens.prompts import TemplateSet, load_templates, template_sources
from valuelens.runner import Estimate, Runner, RunResult, RunStats
from valuelens.runs import (
    REPORT_FILE,
    Manifest,
    read_run_table,
    read_summary_json,
    record_report,
    rewrite_summary,
    write_run,
)
from valuelens.tasks import (
    ActionTask,
    Evaluation,
    EvaluationScope,
    GenerateTask,
    ResultLike,
    Scoring,
    StatedTask,
    TaskSpec,
    evaluation_task_names,
    get_task,
    select_tasks,
    task_names,
)
from valuelens.tasks import Task as AnyTask
from valuelens.tasks._translate import TranslateTask, translate_task, translations_by_text
from valuelens.taxonomy import (
    ENGLISH,
    LanguageChoice,
    Taxonomy,
    language_plan,
    load_taxonomy,
    parse_languages,
)
from valuelens.taxonomy._languages import entry_languages

Task = Literal["stated", "action"]
GenerateMode = Literal["auto", "always", "never"]
EVALUATE_TASKS: tuple[Task, ...] = ("stated", "action")
"""The built-in tasks `evaluate` runs (`generate` runs only when the actions are missing);
registered tasks with an `Evaluation` run too (`valuelens.tasks.evaluation_task_names`)."""


def evaluate_tasks(spec: str | Iterable[str]) -> tuple[str, ...]:
    """The tasks `evaluate` runs, from `--tasks` (`"stated,action"`) or a list of names.

    Names are looked up in the task registry (`valuelens.tasks.select_tasks`); a registered
    task that `evaluate` does not run (`predict`, `compass`, any task without an
    `Evaluation`) is refused, and so is an unknown one, both in one line.

    Raises:
        ValuelensError: no name, an unknown name, or a task `evaluate` does not run.
    """
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    allowed = (*EVALUATE_TASKS, *evaluation_task_names())
    by_lower = {name.lower(): name for name in allowed}
    cleaned = [by_lower.get(n.strip().lower(), n.strip().lower()) for n in names if n.strip()]
    try:
        return select_tasks(cleaned, among=allowed)
    except ValuelensError:
        registered = task_names()
        refused = [
            f"{name!r} (registered, but evaluate does not run it)"
            if name in registered
            else f"{name!r} (no such task)"
            for name in dict.fromkeys(cleaned)
            if name not in allowed
        ]
        added = evaluation_task_names()
        extra = f" (and the added tasks {', '.join(added)})" if added else ""
        raise ValuelensError(
            f"--tasks takes stated and/or action{extra}, not {', '.join(refused) or 'nothing'}"
        ) from None


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
        tasks: which tasks to run (`stated`, `action`, registered tasks with an
            `Evaluation`); scoring needs both `stated` and `action`.
        stated_variants: Task 1 prompt variants (default all eight, as in the paper).
        action_variants: Task 2 prompt variants (default 5, the paper's full run).
        scoring: `generate` (parse JSON answers) or `logprob` (read option probabilities).
        temperature: sampling temperature (0.2 in the paper).
        concurrency: requests in flight at once.
        requests_per_minute: optional rate limit.
        timeout_s: seconds one attempt may take (default 120; no limit for the embedded model).
        model_args: `-M` arguments sent with every request of the evaluated model (see
            `valuelens.models._args`); the judge and the translator get none.
        batch: send the evaluated model's requests through the provider's batch API
            (`SessionSettings.batch`).
        max_reasks: how often Task 1 asks again for values missing from an answer.
        templates: a folder with the user's own prompt templates.
        store: the SQLite cache (default: the shared store; see `run_cache`).
        taxonomy: a YAML/JSON file that extends the built-in taxonomy.
        seed: sampling seed and bootstrap seed (and the seed of `limit`'s subset).
        judge: the model that codes answers for added tasks that use one (e.g. `open`);
            None: the evaluated model.
        judge_base_urls: API roots for `judge` (it shares the run's store and limits).
        limit: evaluate a reproducible, stratified subset of this many pairs instead of the
            whole grid (see `valuelens.pipeline._subset`); None for every pair.
        languages: the prompt languages, comma-separated: `en` (default), `native` (each
            country in its language pack's language, `native_for`; English where there is
            none), or codes/names (`hi`, `German`). The first entry gives the run's main
            scores; with several, the same pairs are asked in each and the gap by prompt
            language against English goes into `language_gap`.
        languages_dir: a folder of the user's language packs (`<code>.yaml`) and translated
            templates (`_lang/<code>/<task>/`), searched before the built-in ones.
        translator: the model that translates the VIA actions (None: the evaluated model).
        translator_base_urls: API roots for `translator`.
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
    tasks: tuple[str, ...] = ("stated", "action")
    stated_variants: str = "all"
    action_variants: str = "5"
    scoring: Scoring = "generate"
    temperature: float = 0.2
    concurrency: int = 8
    requests_per_minute: float | None = None
    timeout_s: float | None = None
    model_args: ModelArgs = field(default_factory=ModelArgs)
    batch: bool = False
    max_reasks: int = 1
    templates: Path | None = None
    store: Path | None = None
    taxonomy: Path | None = None
    seed: int = 0
    limit: int | None = None
    judge: str | None = None
    judge_base_urls: tuple[str, ...] = ()
    languages: str = ENGLISH
    languages_dir: Path | None = None
    translator: str | None = None
    translator_base_urls: tuple[str, ...] = ()
    progress: bool = True
    report: bool = True
    wait: bool = False


@dataclass
class EvaluateOutcome:
    """What an evaluation produced: the scores (None when only one task ran) and its tables.

    `completeness` says whether every request got an answer; when not, the scores and
    `summary` (`"complete": false`) come from the answers that arrived. A rerun that would
    compute the same results keeps the run directory's (`reused`): then `result.summary` is
    the whole summary and the scored tables are read back from the directory.
    """

    out: Path
    summary: dict[str, Any]
    result: ValueActionResult | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    report: Path | None = None
    completeness: Completeness = field(default_factory=Completeness)
    reused: bool = False
    """True when the run directory already held these results and kept them (`_reuse`)."""


@dataclass(frozen=True)
class _Extra:
    """A registered task with an `Evaluation`, configured for this run."""

    spec: TaskSpec
    task: AnyTask
    templates: TemplateSet | None

    @property
    def evaluation(self) -> Evaluation:
        assert self.spec.evaluation is not None  # evaluate_tasks let only such tasks through
        return self.spec.evaluation


@dataclass
class _Plan:
    taxonomy: Taxonomy
    countries: list[str]
    topics: list[str]
    values: list[str]
    templates: TemplateSet | None
    via_path: Path | None
    extras: list[_Extra] = field(default_factory=list)
    pairs: list[Pair] | None = None
    """The `--limit` subset of (country, topic, value) pairs; None for the whole grid."""
    languages: LanguageChoice = field(default_factory=lambda: LanguageChoice((ENGLISH,), {}))
    language_countries: dict[str, list[str]] = field(default_factory=dict)
    """Prompt language code -> the countries asked in it."""
    primary: dict[str, str] = field(default_factory=dict)
    """Country -> the prompt language of the main scores (the first `--language` entry)."""

    @property
    def multilingual(self) -> bool:
        """Whether some prompt is in a language other than English."""
        return any(code != ENGLISH for code in self.language_countries)

    def scenarios(self) -> list[tuple[str, str]]:
        """The (country, topic) scenarios asked, in grid order."""
        if self.pairs is None:
            return [(c, t) for c in self.countries for t in self.topics]
        return list(dict.fromkeys((c, t) for c, t, _ in self.pairs))

    def only_chosen_pairs(self, table: pd.DataFrame) -> pd.DataFrame:
        """The rows of `table` (country, topic, value columns) inside the `--limit` subset."""
        if self.pairs is None:
            return table
        keys = pd.MultiIndex.from_frame(table[["country", "topic", "value"]])
        return table[keys.isin(self.pairs)].reset_index(drop=True)

    def needs_actions(self, config: EvaluateConfig) -> bool:
        """Whether some task reads the VIA actions (Task 2, or an added task that asks)."""
        return "action" in config.tasks or any(e.evaluation.needs_actions for e in self.extras)

    def extra_scope(
        self, extra: _Extra, config: EvaluateConfig, actions: pd.DataFrame | None
    ) -> EvaluationScope:
        """What an added task gets from this run."""
        return EvaluationScope(
            countries=tuple(self.countries),
            topics=tuple(self.topics),
            values=tuple(self.values),
            taxonomy=self.taxonomy,
            actions=actions if extra.evaluation.needs_actions else None,
            templates=extra.templates,
            settings={
                "model": config.model,
                "temperature": config.temperature,
                "seed": config.seed,
                "scoring": config.scoring,
            },
        )

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
    languages = _language_tasks(config, plan)
    tasks = [t for lt in languages for t in (lt.stated, lt.action)]
    async with _session(config) as session:
        for task in (*tasks, *(e.task for e in plan.extras)):  # fail before sending
            check = getattr(task, "check_backend", None)
            if check is not None:
                check(session.backend.capabilities)
        runner = session.runner
        stages: dict[str, list[RunResult]] = {}
        actions, source = await _actions(config, plan, runner, stages)
        async with _OtherModels(config) as others:
            translated = await _translations(config, plan, runner, others, actions, stages)
            tables = await _run_tasks(plan, runner, languages, actions, translated, stages)
            if translated is not None:
                tables["translations"] = translated
            tables |= await _run_extras(config, plan, runner, others, actions, stages)
            totals = sum((r.totals for r in others.runners()), runner.totals)
    completeness = Completeness.of(stages, totals)
    return _finish(config, plan, totals, tables, source, completeness)


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
    if actions is None and plan.needs_actions(config):
        stages["generate"] = _generate_requests(_generate_task(config, plan), plan)
    pairs = actions if actions is not None else _placeholder_actions(plan)
    if translate := _translation_requests(config, plan, pairs):
        stages["translate"] = translate  # counted at the evaluated model's prices
    for tasks in _language_tasks(config, plan):
        # The English actions stand in for their translations, to size the prompts.
        suffix = "" if tasks.code == ENGLISH else f" ({tasks.code})"
        if tasks.stated is not None:
            stages["stated" + suffix] = _stated_requests(tasks.stated, plan, tasks.countries)
        if tasks.action is not None:
            own = pairs[pairs["country"].isin(tasks.countries)]
            stages["action" + suffix] = tasks.action.build_requests(own)
    for extra in plan.extras:
        scope = plan.extra_scope(extra, config, pairs)
        stages[extra.spec.name] = extra.evaluation.requests(extra.task, scope)
    async with _session(config) as session:
        return [(stage, session.runner.estimate(requests)) for stage, requests in stages.items()]


def generation_reason(config: EvaluateConfig) -> str | None:
    """Why an evaluation would generate the actions first, in one line; None when it would not.

    The dry run (`estimate`) lists a `generate` stage exactly when this gives a line.
    """
    plan = _plan(config)
    if not plan.needs_actions(config):
        return None
    if config.generate == "always":
        return "generate: --generate always, so the actions are generated with the model"
    if plan.via_path is not None:
        return None
    return (
        "generate: no VIA file given and the official release is not cached, so the actions "
        "are generated first (a real run tries to download the release before that; "
        "--via FILE to use yours, --generate never to refuse)"
    )


def _plan(config: EvaluateConfig) -> _Plan:
    chosen = evaluate_tasks(config.tasks)
    taxonomy = load_taxonomy(config.taxonomy)
    plan = _Plan(
        taxonomy=taxonomy,
        countries=taxonomy.resolve_many("country", config.countries),
        topics=taxonomy.resolve_many("topic", config.topics),
        values=taxonomy.resolve_many("value", config.values),
        templates=load_templates(config.templates) if config.templates else None,
        via_path=config.via or default_via_path(),
    )
    plan.extras = [_extra(config, plan, name) for name in chosen if name not in EVALUATE_TASKS]
    _plan_languages(config, plan)
    if config.limit is not None:
        plan.pairs = stratified_pairs(*plan.scope, config.limit, seed=config.seed)
    return plan


def _plan_languages(config: EvaluateConfig, plan: _Plan) -> None:
    """Resolve `--language` into the countries each language asks, checking the packs."""
    choice = parse_languages(config.languages, config.languages_dir)
    plan.languages = choice
    plan.language_countries = language_plan(choice, plan.countries, taxonomy=plan.taxonomy)
    plan.primary = entry_languages(choice.entries[0], plan.countries, choice.packs.values())
    for code, countries in plan.language_countries.items():
        if code != ENGLISH:
            choice.packs[code].check_covers(plan.taxonomy, countries)


@dataclass(frozen=True)
class _LanguageTasks:
    """Task 1 and Task 2 in one prompt language, for the countries asked in it."""

    code: str
    countries: tuple[str, ...]
    stated: StatedTask | None
    action: ActionTask | None
    templates: TemplateSet | None


def _language_tasks(config: EvaluateConfig, plan: _Plan) -> list[_LanguageTasks]:
    """The tasks of every prompt language (English first when asked), configured up front."""
    configured = []
    for code, countries in plan.language_countries.items():
        pack = plan.languages.packs.get(code) if code != ENGLISH else None
        templates = _language_templates(config, code) if pack is not None else plan.templates
        options = {"templates": templates, "language": pack} if pack is not None else {}
        configured.append(
            _LanguageTasks(
                code,
                tuple(countries),
                _stated_task(config, plan, **options) if "stated" in config.tasks else None,
                _action_task(config, plan, **options) if "action" in config.tasks else None,
                templates,
            )
        )
    return configured


def _language_templates(config: EvaluateConfig, code: str) -> TemplateSet:
    tasks = [t for t in EVALUATE_TASKS if t in config.tasks]
    return load_templates(
        config.templates, tasks=tasks, language=code, languages_dir=config.languages_dir
    )


def _extra(config: EvaluateConfig, plan: _Plan, name: str) -> _Extra:
    """An added task, configured with the run's settings.

    Its templates come from `--templates` when that folder has a subfolder of its name, else
    from its own contract.
    """
    spec = get_task(name)
    folder = config.templates
    templates = (
        load_templates(folder, tasks=[name])
        if folder is not None and spec.contract is not None and (Path(folder) / name).is_dir()
        else None
    )
    settings = {**_shared_settings(config, plan), "templates": templates}
    settings["scoring"] = config.scoring
    settings["judge"] = config.judge
    return _Extra(spec, evaluation_task(spec, settings), templates)


def _session(config: EvaluateConfig) -> AbstractAsyncContextManager[Session]:
    return open_session(SessionSettings.of(config), run_dir=config.out)


def _shared_settings(config: EvaluateConfig, plan: _Plan) -> dict[str, object]:
    """The task settings every stage takes from the run's configuration."""
    return {
        "templates": plan.templates,
        "taxonomy": plan.taxonomy,
        "temperature": config.temperature,
        "seed": config.seed,
    }


def _generate_task(config: EvaluateConfig, plan: _Plan) -> GenerateTask:
    return configured_task("generate", GenerateTask, **_shared_settings(config, plan))


def _stated_task(config: EvaluateConfig, plan: _Plan, **language: object) -> StatedTask:
    """Task 1; `language` (templates and a pack) replaces the English settings."""
    return configured_task(
        "stated",
        StatedTask,
        variants=config.stated_variants,
        scoring=config.scoring,
        max_reasks=config.max_reasks,
        **(_shared_settings(config, plan) | language),
    )


def _action_task(config: EvaluateConfig, plan: _Plan, **language: object) -> ActionTask:
    """Task 2; `language` (templates and a pack) replaces the English settings."""
    return configured_task(
        "action",
        ActionTask,
        variants=config.action_variants,
        scoring=config.scoring,
        **(_shared_settings(config, plan) | language),
    )


def _load_actions(
    config: EvaluateConfig, plan: _Plan, *, download: bool = False
) -> tuple[pd.DataFrame | None, str]:
    """The selected VIA rows and where they came from; None when they must be generated.

    Without a VIA file or a cached release, `download` fetches the official release first;
    when that fails, the actions are generated (unless `generate` is `never`).
    """
    if config.generate == "always" or not plan.needs_actions(config):
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
    selected = plan.only_chosen_pairs(
        actions[
            actions["country"].isin(plan.countries)
            & actions["topic"].isin(plan.topics)
            & actions["value"].isin(plan.values)
        ]
    )
    if selected.empty:
        raise ValuelensError(
            f"{via_path} has no actions for the selected countries, topics and values"
        )
    return selected.reset_index(drop=True), str(via_path)


async def _actions(
    config: EvaluateConfig, plan: _Plan, runner: Runner, stages: dict[str, list[RunResult]]
) -> tuple[pd.DataFrame | None, str]:
    actions, source = _load_actions(config, plan, download=True)
    if actions is not None or not plan.needs_actions(config):
        return actions, source
    task = _generate_task(config, plan)
    results = await runner.run(_generate_requests(task, plan))
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
        for c, t, v in _grid_pairs(plan)
        for p in ("positive", "negative")
    ]
    return pd.DataFrame(rows)


def _grid_pairs(plan: _Plan) -> list[Pair]:
    if plan.pairs is not None:
        return plan.pairs
    return [(c, t, v) for c in plan.countries for t in plan.topics for v in plan.values]


def _stated_requests(
    task: StatedTask, plan: _Plan, countries: Sequence[str] | None = None
) -> list[Request]:
    """Task 1's requests: every scenario asked (of `countries`) rates all of the run's values."""
    chosen = plan.countries if countries is None else list(countries)
    if plan.pairs is None:
        return task.build_requests(chosen, plan.topics, plan.values)
    return [
        r
        for c, t in plan.scenarios()
        if c in chosen
        for r in task.build_requests([c], [t], plan.values)
    ]


def _generate_requests(task: GenerateTask, plan: _Plan) -> list[Request]:
    if plan.pairs is None:
        return task.build_requests(*plan.scope)
    return [r for c, t, v in plan.pairs for r in task.build_requests([c], [t], [v])]


def _in_language(
    actions: pd.DataFrame, tasks: _LanguageTasks, translations: pd.DataFrame | None
) -> pd.DataFrame:
    """The VIA rows of the language's countries, their actions in that language.

    A row without a usable translation loses its action (status `failed`), so its pair is not
    asked in that language rather than asked in English; so do both rows of a pair whose two
    actions came out as the same text (the choice would mean nothing).
    """
    rows = actions[actions["country"].isin(tasks.countries)].reset_index(drop=True)
    if tasks.code == ENGLISH:
        return rows
    found = translations_by_text(translations) if translations is not None else {}
    translated = pd.Series(
        [found.get((tasks.code, str(a))) for a in rows["action"]], index=rows.index, dtype=object
    )
    same = translated.groupby([rows["country"], rows["topic"], rows["value"]]).transform(
        lambda sides: len(sides) > 1 and sides.notna().all() and sides.nunique() == 1
    )
    usable = translated.notna() & ~same.astype(bool)
    return rows.assign(
        action=translated.where(usable, None),
        parse_status=rows["parse_status"].where(usable, "failed"),
    )


@dataclass
class _Asked:
    """One language's requests and, after the run, its results."""

    tasks: _LanguageTasks
    stated: list[Request]
    action: list[Request]


def _asked(
    plan: _Plan,
    languages: Sequence[_LanguageTasks],
    actions: pd.DataFrame | None,
    translations: pd.DataFrame | None,
) -> list[_Asked]:
    asked = []
    for tasks in languages:
        stated = _stated_requests(tasks.stated, plan, tasks.countries) if tasks.stated else []
        action: list[Request] = []
        if tasks.action is not None and actions is not None:
            action = tasks.action.build_requests(_in_language(actions, tasks, translations))
        asked.append(_Asked(tasks, stated, action))
    return asked


async def _run_tasks(
    plan: _Plan,
    runner: Runner,
    languages: Sequence[_LanguageTasks],
    actions: pd.DataFrame | None,
    translations: pd.DataFrame | None,
    stages: dict[str, list[RunResult]],
) -> dict[str, pd.DataFrame]:
    """Run both tasks in every prompt language; every result is also recorded in `stages`."""
    tables: dict[str, pd.DataFrame] = {}
    if actions is not None:
        tables["actions"] = actions
    asked = _asked(plan, languages, actions, translations)
    # One batch, so Task 2 requests fill the slots that Task 1 stragglers leave idle.
    results = iter(await runner.run([r for a in asked for r in (*a.stated, *a.action)]))
    stated_frames: dict[str, pd.DataFrame] = {}
    action_frames: dict[str, pd.DataFrame] = {}
    stages.setdefault("stated", [])
    stages.setdefault("action", [])
    for a in asked:
        stated_results = [next(results) for _ in a.stated]
        action_results = [next(results) for _ in a.action]
        stages["stated"] += stated_results
        stages["action"] += action_results
        if a.tasks.stated is not None:
            stated_frames[a.tasks.code] = await _stated_frame(
                a.tasks.stated, runner, stated_results, stages
            )
        if a.tasks.action is not None and actions is not None:
            records = a.tasks.action.parse_many(action_results)
            action_frames[a.tasks.code] = a.tasks.action.to_frame(records)
    tables |= _language_tables(plan, "stated", stated_frames)
    tables |= _language_tables(plan, "action", action_frames)
    return tables


async def _stated_frame(
    task: StatedTask, runner: Runner, results: list[RunResult], stages: dict[str, list[RunResult]]
) -> pd.DataFrame:
    """Task 1's table, after asking again for the values the answers left out."""
    records = task.parse_many(results)
    while reasks := task.reask_requests(records):
        reasked = await runner.run(reasks)
        stages["stated"] = [*stages["stated"], *reasked]
        records += task.parse_many(reasked)
    return task.to_frame(records)


def _language_tables(
    plan: _Plan, task: str, frames: Mapping[str, pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    """`responses_<task>` in the main scores' language of each country, and `language_<task>`.

    `language_<task>` (only with a language other than English) holds every language's
    answers, each row with its `language`.
    """
    if not frames:
        return {}
    if not plan.multilingual:
        return {f"responses_{task}": frames[ENGLISH]}
    main = [
        frame[frame["country"].isin([c for c, lang in plan.primary.items() if lang == code])]
        for code, frame in frames.items()
    ]
    return {
        f"responses_{task}": pd.concat(main, ignore_index=True),
        f"language_{task}": pd.concat(frames.values(), ignore_index=True),
    }


async def _translations(
    config: EvaluateConfig,
    plan: _Plan,
    runner: Runner,
    others: _OtherModels,
    actions: pd.DataFrame | None,
    stages: dict[str, list[RunResult]],
) -> pd.DataFrame | None:
    """Translate the VIA actions of every other language's countries, once per text."""
    requests = _translation_requests(config, plan, actions)
    if not requests:
        return None
    model = config.translator or config.model
    chosen = runner
    # The evaluated model's own session carries its -M arguments and --batch; a translation
    # gets neither, so it goes through a session of its own unless there are none.
    own_settings = not config.model_args.is_empty or config.batch
    if model != config.model or config.translator_base_urls or own_settings:
        urls = config.translator_base_urls or (config.base_urls if model == config.model else ())
        chosen = await others.runner(model, urls)
    results = await chosen.run(requests)
    stages["translate"] = list(results)
    task = _translate_task(config)
    return task.to_frame(task.parse_many(results))


def _translate_task(config: EvaluateConfig) -> TranslateTask:
    folder = config.templates
    own = folder is not None and (Path(folder) / "translate").is_dir()
    templates = load_templates(folder, tasks=["translate"]) if own else None
    # A fixed seed: `--seed` moves the bootstrap and `--limit`'s subset, not the translations.
    return translate_task(templates=templates, seed=0)


def _translation_requests(
    config: EvaluateConfig, plan: _Plan, actions: pd.DataFrame | None
) -> list[Request]:
    if actions is None or "action" not in config.tasks or not plan.multilingual:
        return []
    task = _translate_task(config)
    requests = []
    for code, countries in plan.language_countries.items():
        if code != ENGLISH:
            texts = actions.loc[actions["country"].isin(countries), "action"]
            requests += task.build_requests(texts, plan.languages.packs[code])
    return requests


class _OtherModels:
    """Sessions on models other than the evaluated one (e.g. a judge), opened on first use.

    They share the run's store and limits; `judge_base_urls` are their API roots.
    """

    def __init__(self, config: EvaluateConfig) -> None:
        self._config = config
        self._stack = AsyncExitStack()
        self._runners: dict[str, Runner] = {}

    async def __aenter__(self) -> _OtherModels:
        await self._stack.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    def runners(self) -> list[Runner]:
        """Every runner opened so far."""
        return list(self._runners.values())

    async def runner(self, model: str, base_urls: tuple[str, ...] | None = None) -> Runner:
        """The runner of `model`, its session opened the first time it is asked for.

        `base_urls` are its API roots (None: `judge_base_urls`).
        """
        urls = self._config.judge_base_urls if base_urls is None else base_urls
        key = f"{model} {' '.join(urls)}"
        if key not in self._runners:
            settings = replace(
                SessionSettings.of(self._config),
                model=model,
                base_urls=urls,
                progress=False,
                model_args=ModelArgs(),
                batch=False,
            )
            opened = await self._stack.enter_async_context(
                open_session(settings, run_dir=self._config.out)
            )
            self._runners[key] = opened.runner
        return self._runners[key]


async def _run_extras(
    config: EvaluateConfig,
    plan: _Plan,
    runner: Runner,
    others: _OtherModels,
    actions: pd.DataFrame | None,
    stages: dict[str, list[RunResult]],
) -> dict[str, pd.DataFrame]:
    """Run each added task; its results are recorded in `stages` under its name."""
    tables: dict[str, pd.DataFrame] = {}
    for extra in plan.extras:
        name = extra.spec.name
        stages[name] = []

        async def ask(
            requests: Sequence[Request], /, *, model: str | None = None, stage: str = name
        ) -> Sequence[ResultLike]:
            chosen = runner if model in (None, config.model) else await others.runner(model)
            results = await chosen.run(list(requests))
            stages[stage] = [*stages[stage], *results]
            return results

        scope = plan.extra_scope(extra, config, actions)
        table = await run_evaluation(extra.spec, extra.task, scope, ask)
        tables[extra.evaluation.table_name(name)] = table
    return tables


def _extra_summary(
    plan: _Plan, tables: dict[str, pd.DataFrame], summary: Mapping[str, object]
) -> dict[str, object]:
    """Each added task's parse status counts and the entries its `summarize` computes.

    Raises:
        ValuelensError: when `summarize` returns a key the summary already holds.
    """
    added: dict[str, object] = {}
    for extra in plan.extras:
        name = extra.spec.name
        table = tables.get(extra.evaluation.table_name(name))
        if table is None:
            continue
        if "parse_status" in table.columns:
            counts = table["parse_status"].value_counts()
            added[f"parse_status_{name}"] = {str(k): int(v) for k, v in counts.items()}
        if extra.evaluation.summarize is not None:
            entries = dict(extra.evaluation.summarize(table))
            taken = sorted(set(entries) & (set(summary) | set(added)))
            if taken:
                raise ValuelensError(
                    f"task {name!r}: its summary entries {', '.join(taken)} are taken"
                )
            added |= entries
    return added


def _finish(
    config: EvaluateConfig,
    plan: _Plan,
    totals: RunStats,
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
        **SessionSettings.of(config).recorded_args(),
        **({"batch": True} if config.batch else {}),
        "stated_variants": config.stated_variants,
        "action_variants": config.action_variants,
        # Where each template of the tasks this run used came from (a user's folder or built-in).
        "templates": template_sources(
            plan.templates,
            [*config.tasks, *(["generate"] if source.startswith("generated by") else [])],
        )
        | _extra_template_sources(plan),
        **completeness.summary_fields(),
        **accumulated_usage(config.out, usage_of(totals)),
    }
    if config.limit is not None:
        summary |= {"limit": config.limit, "limit_seed": config.seed}
    for name in ("responses_stated", "responses_action"):
        if name in tables:
            counts = tables[name]["parse_status"].value_counts()
            summary[f"parse_status_{name.removeprefix('responses_')}"] = {
                str(k): int(v) for k, v in counts.items()
            }
    if "responses_action" in tables:
        summary["action_first_option_rate"] = first_option_rate(tables["responses_action"])
    digest = inputs_digest(config, summary, tables)
    previous = reusable_results(config.out, digest)
    kept = _kept_tables(config.out, previous, tables) if previous is not None else None
    if previous is not None and kept is not None:
        return _reused(config, summary, tables, kept, previous, completeness)
    result = None
    if {"responses_stated", "responses_action"} <= tables.keys():
        stated = plan.only_chosen_pairs(tables["responses_stated"])
        choices = tables["responses_action"]
        result = score_value_action(stated, choices, plan.taxonomy, seed=config.seed)
        summary = {**summary, **result.summary, "model": config.model, "label": summary["label"]}
        tables = {
            **result.tables,
            **tables,
            "variants": variant_scores(stated, choices, plan.taxonomy),
        }
    else:
        summary["kind"] = "value-action-responses"
    if plan.multilingual:
        language_tables, language_summary = _language_results(config, plan, tables)
        tables |= language_tables
        summary |= language_summary
    summary |= _extra_summary(plan, tables, summary)
    write_run(config.out, summary, storable(tables), inputs_sha256=digest)
    report = _write_report(config, digest) if config.report and result is not None else None
    return EvaluateOutcome(config.out, summary, result, tables, report, completeness)


def _kept_tables(
    out: Path, previous: Manifest, tables: Mapping[str, pd.DataFrame]
) -> dict[str, pd.DataFrame] | None:
    """The run's scored tables read back; None when one cannot be read (compute again)."""
    kept = {}
    for name in previous.tables:
        if name in tables:
            continue
        try:
            table = read_run_table(out, name)
        except ValuelensError:
            return None
        if table is None:
            return None
        kept[name] = table
    return kept


def _reused(
    config: EvaluateConfig,
    summary: dict[str, Any],
    tables: dict[str, pd.DataFrame],
    scored: dict[str, pd.DataFrame],
    previous: Manifest,
    completeness: Completeness,
) -> EvaluateOutcome:
    """The outcome of a rerun whose results the run directory already holds (`_reuse`).

    Only the summary's usage figures change; the tables stay, and so does a report rendered
    from them. The tables the tasks produced are this run's; `scored` are read back.
    """
    kept = read_summary_json(config.out) | {key: summary[key] for key in USAGE_KEYS}
    rewrite_summary(config.out, kept)
    result = None
    if {"responses_stated", "responses_action"} <= tables.keys():
        result = ValueActionResult(kept, scored)
    report = None
    if config.report and result is not None:
        key = report_key(previous.inputs_sha256, config.out)
        if report_is_current(previous, config.out, key):
            report = config.out / REPORT_FILE
        else:
            report = _write_report(config, previous.inputs_sha256)
    tables = {**scored, **tables}
    return EvaluateOutcome(config.out, kept, result, tables, report, completeness, reused=True)


def _language_results(
    config: EvaluateConfig, plan: _Plan, tables: Mapping[str, pd.DataFrame]
) -> tuple[dict[str, pd.DataFrame], dict[str, object]]:
    """The per-language tables and summary entries of a run with other prompt languages."""
    summary: dict[str, object] = {
        "prompt_languages": list(plan.languages.entries),
        "prompt_language_by_country": dict(plan.primary),
        "language_countries": {code: list(c) for code, c in plan.language_countries.items()},
        "language_names": {
            code: plan.languages.packs[code].name
            for code in plan.language_countries
            if code in plan.languages.packs
        },
        "language_templates": {
            tasks.code: dict(tasks.templates.language_files)
            for tasks in _language_tasks(config, plan)
            if tasks.code != ENGLISH and tasks.templates is not None
        },
    }
    found: dict[str, pd.DataFrame] = {}
    translations = tables.get("translations")
    if translations is not None:
        summary["translator"] = config.translator or config.model
        summary["translation_status"] = _status_counts(translations)
    if "language_stated" in tables and "language_action" in tables:
        stated = plan.only_chosen_pairs(tables["language_stated"])
        pairs = language_pairs(stated, tables["language_action"], plan.taxonomy)
        gap = language_gap(pairs, languages=list(plan.language_countries), seed=config.seed)
        found = {"language_pairs": pairs, "language_gap": gap.table}
        summary["language_gap"] = gap.summary
        summary["language_pairs_scored"] = _scored_by_language(pairs)
        if "actions" in tables:
            summary["language_not_evaluated"] = _not_evaluated(plan, tables["actions"], pairs)
    return found, summary


def _status_counts(translations: pd.DataFrame) -> dict[str, dict[str, int]]:
    result: dict[str, dict[str, int]] = {}
    for code, part in translations.groupby("language", sort=False):
        counts = part["parse_status"].value_counts()
        result[str(code)] = {str(k): int(v) for k, v in counts.items()}
    return result


def _scored_by_language(pairs: pd.DataFrame) -> dict[str, int]:
    scored = pairs.dropna(subset=["stated", "chosen"])
    return {str(k): int(v) for k, v in scored["language"].value_counts(sort=False).items()}


def _not_evaluated(plan: _Plan, actions: pd.DataFrame, pairs: pd.DataFrame) -> dict[str, int]:
    """Per language, the VIA pairs of its countries that got no Task 2 answer in it.

    Most often an action whose translation could not be read, so the pair was not asked.
    """
    asked = actions[["country", "topic", "value"]].drop_duplicates()
    missing: dict[str, int] = {}
    for code, countries in plan.language_countries.items():
        own = asked[asked["country"].isin(countries)]
        answered = pairs[(pairs["language"] == code) & pairs["chosen"].notna()]
        keys = set(map(tuple, answered[["country", "topic", "value"]].astype(str).to_numpy()))
        missing[code] = sum(tuple(map(str, row)) not in keys for row in own.to_numpy())
    return missing


def _extra_template_sources(plan: _Plan) -> dict[str, str]:
    sources: dict[str, str] = {}
    for extra in plan.extras:
        if extra.spec.contract is not None:
            sources |= template_sources(extra.templates, [extra.spec.name])
    return sources


def _write_report(config: EvaluateConfig, digest: str | None) -> Path:
    """Render `report.html` and note in the manifest what it shows (see `_reuse.report_key`)."""
    from valuelens.report import render_report

    record_report(config.out, None)  # a render that stops halfway is not taken for current
    report = render_report([config.out], config.out / REPORT_FILE)
    record_report(config.out, report_key(digest, config.out))
    return report
