"""`valuelens compass`: human-LLM value alignment (ValueCompass).

valuelens compass run --model embedded --countries Canada --scenarios healthcare --out runs/c
valuelens compass score --humans results/human_eval --llm runs/c/answers.parquet --out runs/s
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from valuelens.cli._console import console, escape, exit_if_incomplete, print_info, print_note
from valuelens.cli._options import (
    BaseUrlOpt,
    ConcurrencyOpt,
    DryRunOpt,
    ModelOpt,
    RpmOpt,
    SeedOpt,
    StoreOpt,
    TaxonomyOpt,
    TemperatureOpt,
    TemplatesOpt,
    TimeoutOpt,
    WaitOpt,
)

_ScenarioFileOpt = Annotated[
    Path | None,
    typer.Option(
        metavar="FILE", help="YAML file with extra or replacement scenarios.", show_default=False
    ),
]


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
                metavar="PATH",
                help="Survey answers: a folder of the authors' human_S*.csv files, one such "
                "file, or a tidy CSV/Parquet (participant, country, scenario, value, answer).",
            ),
        ],
        llm: Annotated[
            Path,
            typer.Option(
                "--llm",
                metavar="PATH",
                help="One model's answers: a folder of the authors' value_eval_*.csv files or "
                "a tidy table such as answers.parquet from `valuelens compass run`.",
            ),
        ],
        out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Run directory to write.")],
        paper_compat: Annotated[
            bool,
            typer.Option(
                "--paper-compat",
                metavar="",
                help="Reproduce the paper: the authors' answer parsing, neutral humans = disagree.",
            ),
        ] = False,
        model: Annotated[
            str | None,
            typer.Option(
                metavar="NAME",
                help="Model to score (when --llm holds several) and name to record.",
            ),
        ] = None,
        taxonomy: TaxonomyOpt = None,
        scenario_file: _ScenarioFileOpt = None,
        aliases: Annotated[
            Path | None,
            typer.Option(metavar="FILE", help="YAML file with extra value-name aliases."),
        ] = None,
        bootstrap: Annotated[
            int, typer.Option(metavar="N", help="Bootstrap resamples over cells.")
        ] = 1000,
        seed: Annotated[int, typer.Option(metavar="N", help="Bootstrap seed.")] = 0,
    ) -> None:
        """Score one model's value ratings against people's survey answers."""
        from valuelens.pipeline import score_compass

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
        out: Annotated[
            Path, typer.Option("--out", metavar="DIR", help="Directory for answers and the store.")
        ],
        model: ModelOpt = "embedded",
        base_url: BaseUrlOpt = None,
        countries: Annotated[
            str, typer.Option(metavar="NAMES", help="Comma-separated countries, or 'all'.")
        ] = "United States,India,United Kingdom,Germany,Canada,France,Australia",
        scenarios: Annotated[
            str, typer.Option(metavar="NAMES", help="Comma-separated scenarios, or 'all'.")
        ] = "all",
        values: Annotated[
            str, typer.Option(metavar="NAMES", help="Comma-separated values, or 'all'.")
        ] = "all",
        variants: Annotated[
            str, typer.Option(metavar="IDS", help="Prompt variants 0-7 (e.g. '0,2') or 'all'.")
        ] = "all",
        temperature: TemperatureOpt = 0.2,
        seed: SeedOpt = 0,
        concurrency: ConcurrencyOpt = 8,
        rpm: RpmOpt = None,
        timeout: TimeoutOpt = None,
        store: StoreOpt = None,
        taxonomy: TaxonomyOpt = None,
        templates: TemplatesOpt = None,
        scenario_file: _ScenarioFileOpt = None,
        name: Annotated[
            str | None,
            typer.Option(
                metavar="NAME",
                help="Model name to record.",
                show_default="the backend's model",
            ),
        ] = None,
        dry_run: DryRunOpt = False,
        wait: WaitOpt = False,
    ) -> None:
        """Ask a model, as the AI in each scenario and country, to rate every value (resumable)."""
        from valuelens.pipeline import collect_compass_answers
        from valuelens.pipeline._compass import ANSWERS
        from valuelens.runner import Estimate

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
            requests_per_minute=rpm,
            store=store,
            templates=templates,
            dry_run=dry_run,
            wait=wait,
        )
        if isinstance(answers, Estimate):
            print_info(answers.summary())
            return
        read = answers["likert"].notna().sum()
        print_note(
            f"{read:,} of {len(answers):,} ratings read; "
            f"wrote {out}/{ANSWERS}.parquet (use it as --llm)"
        )
        exit_if_incomplete(answers.attrs["completeness"].message())
