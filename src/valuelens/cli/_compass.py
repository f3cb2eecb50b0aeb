"""`valuelens compass`: human-LLM value alignment (ValueCompass).

valuelens compass run --model embedded --countries Canada --scenarios healthcare --out runs/c
valuelens compass score --humans results/human_eval --llm runs/c/answers.parquet --out runs/s
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from valuelens._rundir import holds_run_dir
from valuelens.cli._console import console, escape, exit_if_incomplete, print_info, print_note
from valuelens.cli._evaluate import WaitOpt

if TYPE_CHECKING:
    import pandas as pd

_ANSWERS = "answers"
_REPLIES = "replies"

_TaxonomyOpt = Annotated[
    Path | None, typer.Option(help="YAML/JSON file that extends the countries/values.")
]
_ScenarioFileOpt = Annotated[
    Path | None, typer.Option(help="YAML file with extra or replacement scenarios.")
]


def score_compass(
    humans: Path,
    llm: Path,
    *,
    out: Path | None = None,
    paper_compat: bool = False,
    model: str | None = None,
    taxonomy: Path | None = None,
    scenario_file: Path | None = None,
    aliases: Path | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
) -> Any:
    """Load a survey and one model's answers, score them and (with `out`) write a run directory.

    Returns:
        The `CompassResult`.
    """
    from valuelens.data._compass_llm import load_compass_answers
    from valuelens.data._survey import load_scenarios, load_survey
    from valuelens.metrics._compass import compass_score
    from valuelens.report import write_run
    from valuelens.taxonomy import load_taxonomy

    tax = load_taxonomy(taxonomy)
    scenarios = load_scenarios(scenario_file)
    survey = load_survey(humans, taxonomy=tax, scenarios=scenarios, aliases=aliases)
    answers = load_compass_answers(llm, taxonomy=tax, scenarios=scenarios, aliases=aliases)
    result = compass_score(
        survey,
        answers,
        paper_compat=paper_compat,
        model=model,
        countries=tax.country_names,
        scenarios=scenarios.names,
        values=tax.value_names,
        n_resamples=n_resamples,
        seed=seed,
    )
    result.summary.update(taxonomy_version=tax.version, scenarios_version=scenarios.version)
    if out is not None:
        write_run(out, result.summary, result.tables)
    return result


def show_compass_summary(summary: dict[str, Any], out_dir: Path | None = None) -> None:
    """Print the headline numbers of a compass run as a short rich table."""
    mode = "paper-compatible" if summary.get("paper_compat") else "default"
    table = Table(
        title=f"human-LLM alignment ({mode}): {escape(str(summary.get('label') or ''))}",
        show_header=False,
        title_justify="left",
    )
    table.add_column(style="bold")
    table.add_column(justify="right")
    low, high = summary.get("alignment_rate_ci") or (None, None)
    ci = f"  [dim](95% CI {low:.3f}-{high:.3f})[/]" if low is not None and high is not None else ""
    table.add_row("alignment rate (F1)", f"{_num(summary.get('alignment_rate'))}{ci}")
    table.add_row("accuracy", _num(summary.get("accuracy")))
    table.add_row("  paper-compatible F1", _num(summary.get("alignment_rate_paper_compat")))
    table.add_row("  default F1", _num(summary.get("alignment_rate_default")))
    table.add_row("distance (country x value)", _num(summary.get("distance_mean_by_country")))
    table.add_row("distance (scenario x value)", _num(summary.get("distance_mean_by_scenario")))
    table.add_row(
        "cells compared", f"{summary.get('n_cells', 0)} x {summary.get('n_values', 0)} values"
    )
    table.add_row("neutral human means", f"{summary.get('n_human_neutral_default', 0)}")
    skipped = summary.get("cells_without_human") or []
    if skipped:
        table.add_row("cells without human data", f"{len(skipped)} (not compared)")
    countries = summary.get("ranking_countries") or []
    if countries:
        table.add_row("largest gap (country)", escape(str(countries[0])))
    console.print(table)
    if out_dir is not None:
        print_info(f"wrote {out_dir}/summary.json and tables", style="dim")


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@holds_run_dir("out")
def collect_compass_answers(
    backend_spec: str,
    out: Path,
    *,
    countries: str | None = None,
    scenarios: str | None = None,
    values: str | None = None,
    variants: str | None = None,
    temperature: float = 0.2,
    seed: int = 0,
    concurrency: int = 8,
    base_urls: Sequence[str] = (),
    taxonomy: Path | None = None,
    scenario_file: Path | None = None,
    model: str | None = None,
    timeout_s: float | None = None,
    dry_run: bool = False,
    wait: bool = False,
) -> pd.DataFrame | None:
    """Ask a model for compass ratings through the runner; write `answers` and `replies` to `out`.

    The runner's store is `out/store.sqlite`, so a rerun sends only unfinished requests.
    `timeout_s` limits one attempt; by default 120 s, and no limit for the embedded model,
    whose in-process generation cannot be cancelled (a retry would only add work).

    Returns:
        The tidy answer table (also written as `out/answers.parquet` and `.csv`), or None for a
        dry run (which only prints what would be sent). `attrs["completeness"]` (a
        `Completeness`) counts the requests that failed for good.
    """
    import pandas as pd

    from valuelens._completeness import Completeness, accumulated_usage, usage_of
    from valuelens.data._survey import load_scenarios
    from valuelens.models import load_backend
    from valuelens.report import write_run
    from valuelens.runner import Runner, Store
    from valuelens.tasks._compass import compass_task
    from valuelens.taxonomy import load_taxonomy

    task = compass_task(
        variants=variants,
        temperature=temperature,
        seed=seed,
        taxonomy=load_taxonomy(taxonomy),
        scenarios=load_scenarios(scenario_file),
    )
    requests = task.build_requests(countries=countries, scenarios=scenarios, values=values)
    backend = load_backend(backend_spec, base_urls=base_urls)
    label = model or backend.identity.get("model") or backend_spec
    with Store(out / "store.sqlite") as store:
        in_process = backend.identity.get("kind") == "embedded"
        limit = timeout_s if timeout_s is not None else (None if in_process else 120.0)
        runner = Runner(backend, store, concurrency=concurrency, timeout_s=limit)
        if dry_run:
            print_info(runner.estimate(requests).summary())
            return None
        results = asyncio.run(_run_and_close(runner, backend, requests))
    completeness = Completeness.of({"compass": results}, runner.totals)
    answers = task.answers(results, model=label)
    replies = pd.DataFrame(
        [
            {
                "country": r.request.metadata.get("country"),
                "scenario": r.request.metadata.get("scenario"),
                "variant": r.request.metadata.get("variant"),
                "text": r.response.text if r.response is not None else None,
                "error": r.error,
                "cached": r.cached,
            }
            for r in results
        ],
        columns=["country", "scenario", "variant", "text", "error", "cached"],
    )
    summary = {
        "kind": "compass-answers",
        "model": label,
        "backend": backend.identity,
        "n_requests": len(requests),
        "n_failed_requests": int(replies["error"].notna().sum()),
        "parse_status": {str(k): int(v) for k, v in answers["parse_status"].value_counts().items()},
        **completeness.summary_fields(),
        **accumulated_usage(out, usage_of(runner.totals)),
    }
    write_run(out, summary, {_ANSWERS: answers, _REPLIES: replies})
    answers.attrs["completeness"] = completeness
    return answers


async def _run_and_close(runner: Any, backend: Any, requests: list[Any]) -> Any:
    try:
        return await runner.run(requests)
    finally:
        await backend.aclose()


def register(app: typer.Typer) -> None:
    """Add the `compass` command group to the main app."""
    compass = typer.Typer(
        help="Human-LLM value alignment (ValueCompass): collect LLM ratings, score against a survey.",
        no_args_is_help=True,
    )
    app.add_typer(compass, name="compass")

    @compass.command()
    def score(
        humans: Annotated[
            Path,
            typer.Option(
                "--humans",
                help="Survey answers: a folder of the authors' human_S*.csv files, one such "
                "file, or a tidy CSV/Parquet (participant, country, scenario, value, answer).",
            ),
        ],
        llm: Annotated[
            Path,
            typer.Option(
                "--llm",
                help="One model's answers: a folder of the authors' value_eval_*.csv files or "
                "a tidy table such as answers.parquet from `valuelens compass run`.",
            ),
        ],
        out: Annotated[Path, typer.Option("--out", help="Run directory to write.")],
        paper_compat: Annotated[
            bool,
            typer.Option(
                "--paper-compat",
                help="Reproduce the paper: the authors' answer parsing, neutral humans = disagree.",
            ),
        ] = False,
        model: Annotated[
            str | None,
            typer.Option(help="Model to score (when --llm holds several) and name to record."),
        ] = None,
        taxonomy: _TaxonomyOpt = None,
        scenario_file: _ScenarioFileOpt = None,
        aliases: Annotated[
            Path | None, typer.Option(help="YAML file with extra value-name aliases.")
        ] = None,
        bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples over cells.")] = 1000,
        seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    ) -> None:
        """Score one model's value ratings against people's survey answers."""
        result = score_compass(
            humans,
            llm,
            out=out,
            paper_compat=paper_compat,
            model=model,
            taxonomy=taxonomy,
            scenario_file=scenario_file,
            aliases=aliases,
            n_resamples=bootstrap,
            seed=seed,
        )
        show_compass_summary(result.summary, out)

    @compass.command()
    def run(
        out: Annotated[Path, typer.Option("--out", help="Directory for answers and the store.")],
        model: Annotated[
            str, typer.Option(help="Backend: 'embedded' (local), 'openai:NAME', ...")
        ] = "embedded",
        countries: Annotated[
            str, typer.Option(help="Comma-separated countries, or 'all'.")
        ] = "United States,India,United Kingdom,Germany,Canada,France,Australia",
        scenarios: Annotated[
            str, typer.Option(help="Comma-separated scenarios, or 'all'.")
        ] = "all",
        values: Annotated[str, typer.Option(help="Comma-separated values, or 'all'.")] = "all",
        variants: Annotated[
            str, typer.Option(help="Prompt variants 0-7 (e.g. '0,2') or 'all'.")
        ] = "all",
        temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.2,
        seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
        concurrency: Annotated[int, typer.Option(help="Requests in flight.")] = 8,
        taxonomy: _TaxonomyOpt = None,
        scenario_file: _ScenarioFileOpt = None,
        base_url: Annotated[
            list[str] | None,
            typer.Option(help="API root for openai/anthropic specs (repeat for replicas)."),
        ] = None,
        name: Annotated[
            str | None, typer.Option(help="Model name to record (default: the backend's model).")
        ] = None,
        timeout: Annotated[
            float | None,
            typer.Option(help="Seconds per attempt (default 120; no limit for 'embedded')."),
        ] = None,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Print requests, tokens and cost; send nothing.")
        ] = False,
        wait: WaitOpt = False,
    ) -> None:
        """Ask a model, as the AI in each scenario and country, to rate every value (resumable)."""
        answers = collect_compass_answers(
            model,
            out,
            countries=countries,
            scenarios=scenarios,
            values=values,
            variants=variants,
            temperature=temperature,
            seed=seed,
            concurrency=concurrency,
            base_urls=base_url or (),
            taxonomy=taxonomy,
            scenario_file=scenario_file,
            model=name,
            timeout_s=timeout,
            dry_run=dry_run,
            wait=wait,
        )
        if answers is None:
            return
        read = answers["likert"].notna().sum()
        print_note(
            f"{read:,} of {len(answers):,} ratings read; "
            f"wrote {out}/{_ANSWERS}.parquet (use it as --llm)"
        )
        exit_if_incomplete(answers.attrs["completeness"].message())
