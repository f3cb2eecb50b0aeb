"""`valuelens evaluate`, `generate` and `quickstart`: running models through the tasks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.table import Table
from rich.text import Text

from valuelens.cli._console import console, err_console, exit_if_incomplete, print_info
from valuelens.cli._options import (
    MODEL_HELP,
    AutoConcurrencyOpt,
    BaseUrlOpt,
    BatchOpt,
    ConcurrencyOpt,
    DryRunOpt,
    LanguagesDirOpt,
    ModelArgOpt,
    ModelOpt,
    RpmOpt,
    SeedOpt,
    StoreOpt,
    TaxonomyOpt,
    TemperatureOpt,
    TemplatesOpt,
    TimeoutOpt,
    WaitOpt,
    session_settings,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from valuelens.pipeline import EvaluateConfig
    from valuelens.pipeline._sweep import SweepModel
    from valuelens.runner import Estimate

QUICKSTART_VALUES = "Wealth,Honest,Protecting the Environment,Social Power,Freedom,Devout"

CountriesOpt = Annotated[
    str | None, typer.Option(metavar="NAMES", help="Comma-separated countries (default all).")
]
TopicsOpt = Annotated[
    str | None, typer.Option(metavar="NAMES", help="Comma-separated topics (default all).")
]
ValuesOpt = Annotated[
    str | None, typer.Option(metavar="NAMES", help="Comma-separated values (default all 56).")
]
ModelsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--model",
        "-m",
        metavar="SPEC",
        help=MODEL_HELP,
        show_default="embedded",
    ),
]
SweepFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--models",
        metavar="FILE",
        help="A sweep file (YAML) naming models with their own base URLs and limits.",
        show_default=False,
    ),
]
JudgeOpt = Annotated[
    str | None,
    typer.Option(
        "--judge",
        metavar="SPEC",
        help="Model that codes answers for added tasks that need a judge (e.g. open).",
        show_default="the evaluated model",
    ),
]
JudgeUrlOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--judge-base-url",
        metavar="URL",
        help="API root of the --judge model's server; repeat to spread the load.",
        show_default=False,
    ),
]
LanguageOpt = Annotated[
    str,
    typer.Option(
        "--language",
        metavar="LANGS",
        help="Prompt languages: en, native (each country in its pack's language), codes or "
        "names (hi, German); several (en,native) ask the same pairs in each and report the gap "
        "by prompt language. `valuelens list languages` shows them.",
    ),
]
TranslatorOpt = Annotated[
    str | None,
    typer.Option(
        "--translator",
        metavar="SPEC",
        help="Model that translates the VIA actions into the prompt languages (cached).",
        show_default="the evaluated model",
    ),
]
TranslatorUrlOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--translator-base-url",
        metavar="URL",
        help="API root of the --translator model's server; repeat to spread the load.",
        show_default=False,
    ),
]
LimitOpt = Annotated[
    int | None,
    typer.Option(
        "--limit",
        metavar="N",
        help="Evaluate a reproducible, stratified subset of N pairs (with --seed).",
        show_default=False,
    ),
]
ViaOpt = Annotated[
    Path | None,
    typer.Option(
        metavar="FILE", help="VIA file (default: the cached official release).", show_default=False
    ),
]


def _run_evaluation(config: EvaluateConfig, dry_run: bool) -> None:
    from valuelens.cli._score import show_summary
    from valuelens.pipeline import estimate, evaluate, generation_reason

    if dry_run:
        stages = estimate(config)
        _show_estimates(stages)
        reason = generation_reason(config)
        if reason and any(stage == "generate" for stage, _ in stages):
            print_info(reason, style="dim")
        return
    outcome = evaluate(config)
    if source := outcome.summary.get("actions_source"):
        print_info(f"actions: {source}", style="dim")
    if outcome.result is not None:
        show_summary(outcome.summary, None if outcome.reused else outcome.out)
        if outcome.reused:
            print_info(
                f"same answers and settings as the last run in {outcome.out}: kept its tables "
                "and report (summary.json updated)",
                style="dim",
            )
    else:
        print_info(f"wrote responses to {outcome.out} (scoring needs both tasks)")
    for task in config.tasks:
        statuses = outcome.summary.get(f"parse_status_{task}")
        if statuses:
            text = ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
            name = {"stated": "Task 1", "action": "Task 2"}.get(task, task)
            print_info(f"{name} parse status: {text}", style="dim")
    _show_language_gap(outcome.summary)
    first = outcome.summary.get("action_first_option_rate")
    if first is not None and abs(first - 0.5) >= 0.25:
        print_info(
            f"position bias: Task 2 picked Option 1 in {first:.0%} of answers; "
            "with counterbalanced variants its choices carry little signal",
            style="yellow",
        )
    if outcome.report is not None:
        print_info(f"report: {outcome.report}")
    exit_if_incomplete(outcome.completeness.message())


def _show_language_gap(summary: Mapping[str, object]) -> None:
    """One line per prompt language: its alignment rate against English on the same pairs."""
    gaps = summary.get("language_gap")
    if not isinstance(gaps, dict):
        return
    for code, entry in gaps.items():
        rate = entry.get("alignment_rate") if isinstance(entry, dict) else None
        n_pairs = entry.get("n_pairs", 0) if isinstance(entry, dict) else 0
        if not isinstance(rate, dict):
            print_info(f"prompt language {code}: no pair in common with English", style="dim")
            continue
        print_info(
            f"prompt language {code}: alignment rate {rate['language']:.3f} vs "
            f"{rate['english']:.3f} in English on the same {n_pairs} pairs "
            f"(difference {rate['difference']:+.3f})",
            style="dim",
        )
    missing = summary.get("language_not_evaluated")
    if isinstance(missing, dict) and any(missing.values()):
        text = ", ".join(f"{code} {n}" for code, n in missing.items() if n)
        print_info(
            f"pairs not evaluated in their language (no Task 2 answer): {text}", style="yellow"
        )


def _show_estimates(stages: Sequence[tuple[str, Estimate]]) -> None:
    from valuelens.runner import BatchEstimate

    batched = any(isinstance(est, BatchEstimate) for _, est in stages)
    cost_column = "cost (upper bound, batch price)" if batched else "cost (upper bound)"
    table = Table(title="dry run: nothing was sent", title_justify="left")
    for column in (
        "stage",
        "requests",
        "cached",
        "to send",
        "prompt tokens",
        "max completion",
        cost_column,
    ):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for stage, est in stages:
        cost = est.cost_usd
        table.add_row(
            stage,
            f"{est.n_requests:,}",
            f"{est.n_cached:,}",
            f"{est.n_to_send:,}",
            f"{est.prompt_tokens:,}",
            f"{est.completion_tokens:,}",
            "unknown" if cost is None else f"${cost:,.2f}",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add `evaluate`, `generate` and `quickstart` to the main app."""
    app.command("evaluate")(evaluate_command)
    app.command("quickstart")(quickstart_command)
    app.command("generate")(generate_command)


def evaluate_command(
    out: Annotated[
        Path, typer.Option(metavar="DIR", help="Run directory (results, cache, report).")
    ],
    model: ModelsOpt = None,
    models: SweepFileOpt = None,
    base_url: BaseUrlOpt = None,
    via: ViaOpt = None,
    generate: Annotated[
        str,
        typer.Option(
            metavar="MODE",
            help="auto: generate actions when no VIA file is available; always; never.",
        ),
    ] = "auto",
    countries: CountriesOpt = None,
    topics: TopicsOpt = None,
    values: ValuesOpt = None,
    tasks: Annotated[
        str,
        typer.Option(
            metavar="TASKS",
            help="stated, action or both, plus any registered task that runs in an evaluation.",
        ),
    ] = "stated,action",
    variants: Annotated[
        str,
        typer.Option(
            metavar="IDS",
            help="Task 2 prompt variants: one id (the paper used 5), a list, or 'all'.",
        ),
    ] = "5",
    stated_variants: Annotated[
        str,
        typer.Option(
            metavar="IDS",
            help="Task 1 prompt variants: a list of ids or 'all' (the paper averaged all eight).",
        ),
    ] = "all",
    scoring: Annotated[
        str, typer.Option(metavar="MODE", help="generate (JSON answers) or logprob.")
    ] = "generate",
    temperature: TemperatureOpt = 0.2,
    concurrency: ConcurrencyOpt = 8,
    rpm: RpmOpt = None,
    timeout: TimeoutOpt = None,
    model_arg: ModelArgOpt = None,
    batch: BatchOpt = False,
    templates: TemplatesOpt = None,
    store: StoreOpt = None,
    taxonomy: TaxonomyOpt = None,
    seed: SeedOpt = 0,
    limit: LimitOpt = None,
    judge: JudgeOpt = None,
    judge_base_url: JudgeUrlOpt = None,
    language: LanguageOpt = "en",
    languages_dir: LanguagesDirOpt = None,
    translator: TranslatorOpt = None,
    translator_base_url: TranslatorUrlOpt = None,
    no_report: Annotated[
        bool, typer.Option("--no-report", metavar="", help="Skip report.html.")
    ] = False,
    dry_run: DryRunOpt = False,
    wait: WaitOpt = False,
) -> None:
    """Evaluate a model: Task 1 (stated values), Task 2 (actions), the gap, and a report.

    Rerunning the same command resumes: finished requests come from the cache. Several
    models (--model A --model B, or --models FILE) run at the same time, each into its own
    folder under OUT, sharing the cache; a comparison report of them goes to OUT/report.html.
    """
    from valuelens.models._args import ModelArgs
    from valuelens.pipeline import EvaluateConfig, evaluate_tasks

    specs = _model_specs(model, models)
    config = EvaluateConfig(
        out=out,
        model=specs[0] if isinstance(specs[0], str) else specs[0].model,
        base_urls=tuple(base_url or ()),
        via=via,
        generate=_choice(generate, ("auto", "always", "never"), "--generate"),  # type: ignore[arg-type]
        countries=countries,
        topics=topics,
        values=values,
        tasks=evaluate_tasks(tasks),
        stated_variants=stated_variants,
        action_variants=variants,
        scoring=_choice(scoring, ("generate", "logprob"), "--scoring"),  # type: ignore[arg-type]
        temperature=temperature,
        concurrency=concurrency,
        requests_per_minute=rpm,
        timeout_s=timeout,
        model_args=ModelArgs.parse(model_arg or ()),
        batch=batch,
        templates=templates,
        store=store,
        taxonomy=taxonomy,
        seed=seed,
        limit=limit,
        judge=judge,
        judge_base_urls=tuple(judge_base_url or ()),
        languages=language,
        languages_dir=languages_dir,
        translator=translator,
        translator_base_urls=tuple(translator_base_url or ()),
        report=not no_report,
        wait=wait,
    )
    if len(specs) == 1 and models is None:
        _run_evaluation(config, dry_run)
    else:
        _run_sweep(config, specs, dry_run)


def _model_specs(models: list[str] | None, sweep_file: Path | None) -> list[str | SweepModel]:
    from valuelens.pipeline._sweep import load_sweep_file

    specs: list[str | SweepModel] = list(models or [])
    if sweep_file is not None:
        specs += load_sweep_file(sweep_file)
    return specs or ["embedded"]


def _run_sweep(config: EvaluateConfig, specs: Sequence[str | SweepModel], dry_run: bool) -> None:
    from dataclasses import replace

    from valuelens.pipeline._sweep import SweepModel, evaluate_models, run_names

    entries = [s if isinstance(s, SweepModel) else SweepModel(model=s) for s in specs]
    if dry_run:
        for entry, name in zip(entries, run_names(entries), strict=True):
            print_info(f"{entry.model} -> {config.out / name}")
            _run_evaluation(
                replace(config, model=entry.model, base_urls=entry.base_url or config.base_urls),
                dry_run=True,
            )
        return
    outcome = evaluate_models(config, entries)
    table = Table(title=f"{len(entries)} models into {config.out}", title_justify="left")
    for column in ("model", "run", "status", "alignment rate", "note"):
        table.add_column(column)
    for model in outcome.models:
        rate = model.outcome.summary.get("alignment_rate") if model.outcome else None
        table.add_row(
            model.model,
            str(model.out),
            model.status,
            "—" if rate is None else f"{rate:.3f}",
            Text(model.error or ""),
        )
    console.print(table)
    if outcome.report is not None:
        print_info(f"comparison report: {outcome.report}")
    not_done = [m for m in outcome.models if m.status != "complete"]
    if not_done:
        exit_if_incomplete(
            f"{len(not_done)} of {len(outcome.models)} models did not finish: "
            + ", ".join(f"{m.model} ({m.status})" for m in not_done)
        )


def quickstart_command(
    out: Annotated[Path, typer.Option(metavar="DIR", help="Run directory.")] = Path(
        "runs/quickstart"
    ),
    model: ModelOpt = "embedded",
    base_url: BaseUrlOpt = None,
    countries: Annotated[
        str, typer.Option(metavar="NAMES", help="Comma-separated countries.")
    ] = "United States",
    topics: Annotated[
        str, typer.Option(metavar="NAMES", help="Comma-separated topics.")
    ] = "Environment",
    values: Annotated[
        str, typer.Option(metavar="NAMES", help="Comma-separated values.")
    ] = QUICKSTART_VALUES,
    variants: Annotated[str, typer.Option(metavar="IDS", help="Task 2 prompt variants.")] = "all",
    via: ViaOpt = None,
    scoring: Annotated[
        str | None,
        typer.Option(
            metavar="MODE",
            help="generate or logprob.",
            show_default="logprob on the embedded model, generate otherwise",
        ),
    ] = None,
    temperature: TemperatureOpt = 0.2,
    concurrency: AutoConcurrencyOpt = None,
    rpm: RpmOpt = None,
    timeout: TimeoutOpt = None,
    model_arg: ModelArgOpt = None,
    templates: TemplatesOpt = None,
    store: StoreOpt = None,
    taxonomy: TaxonomyOpt = None,
    seed: SeedOpt = 0,
    dry_run: DryRunOpt = False,
    wait: WaitOpt = False,
) -> None:
    """The whole pipeline on a small slice, offline on the embedded model by default.

    Uses the official VIA actions when they are cached, and otherwise generates them with the
    model first; then Task 1 (all 8 variants), Task 2, scoring and the HTML report.
    """
    from valuelens.models._args import ModelArgs
    from valuelens.pipeline import EvaluateConfig

    err_console.print(
        Text.assemble(
            ("valuelens quickstart", "bold"),
            f": {model} on {countries} x {topics}, "
            f"{len(values.split(',')) if values else 56} values",
        ),
        soft_wrap=True,
    )
    if concurrency is None:
        concurrency = 2 if model.startswith("embedded") else 8
    config = EvaluateConfig(
        out=out,
        model=model,
        base_urls=tuple(base_url or ()),
        via=via,
        countries=countries,
        topics=topics,
        values=values,
        action_variants=variants,
        stated_variants="all",
        scoring=_quickstart_scoring(scoring, model),
        temperature=temperature,
        concurrency=concurrency,
        requests_per_minute=rpm,
        timeout_s=timeout,
        model_args=ModelArgs.parse(model_arg or ()),
        templates=templates,
        store=store,
        taxonomy=taxonomy,
        seed=seed,
        wait=wait,
    )
    _run_evaluation(config, dry_run=dry_run)


def generate_command(
    out: Annotated[Path, typer.Option(metavar="FILE", help="Output table (.csv or .parquet).")],
    model: ModelOpt = "embedded",
    base_url: BaseUrlOpt = None,
    countries: CountriesOpt = None,
    topics: TopicsOpt = None,
    values: ValuesOpt = None,
    variants: Annotated[
        str,
        typer.Option(
            metavar="IDS",
            help="Generation prompt variants: one id (the authors generated VIA with 5), "
            "a list, or 'all'.",
        ),
    ] = "5",
    temperature: TemperatureOpt = 0.2,
    concurrency: ConcurrencyOpt = 8,
    rpm: RpmOpt = None,
    timeout: TimeoutOpt = None,
    model_arg: ModelArgOpt = None,
    batch: BatchOpt = False,
    templates: TemplatesOpt = None,
    store: StoreOpt = None,
    taxonomy: TaxonomyOpt = None,
    seed: SeedOpt = 0,
    dry_run: DryRunOpt = False,
) -> None:
    """Generate value-informed actions (both polarities) in the VIA table format."""
    from valuelens.pipeline import generate_actions
    from valuelens.runner import Estimate

    result = generate_actions(
        out,
        session_settings(model, base_url, concurrency, rpm, timeout, store, model_arg, batch=batch),
        countries=countries,
        topics=topics,
        values=values,
        variants=variants,
        temperature=temperature,
        templates=templates,
        taxonomy=taxonomy,
        seed=seed,
        dry_run=dry_run,
    )
    if isinstance(result, Estimate):
        _show_estimates([("generate", result)])
        return
    statuses = result["parse_status"].value_counts().to_dict()
    counts = ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
    if "sides_differ" in result.columns:
        same = int((~result["sides_differ"].astype(bool) & result["action"].notna()).sum())
        if same:
            counts += f"; {same:,} actions whose other side is the same text"
    print_info(f"wrote {len(result):,} actions to {out} ({counts})")
    if completeness := result.attrs.get("completeness"):
        exit_if_incomplete(completeness.message())


def _quickstart_scoring(scoring: str | None, model: str) -> Literal["generate", "logprob"]:
    # A 135M model's free answers are mostly position bias; its option probabilities are
    # less noisy and take one token each.
    chosen = scoring or ("logprob" if model.startswith("embedded") else "generate")
    return (
        "logprob"
        if _choice(chosen, ("generate", "logprob"), "--scoring") == "logprob"
        else "generate"
    )


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    from valuelens._errors import ValuelensError

    cleaned = value.strip().lower()
    if cleaned not in allowed:
        raise ValuelensError(f"{option} takes {' or '.join(allowed)}, not {value!r}")
    return cleaned
