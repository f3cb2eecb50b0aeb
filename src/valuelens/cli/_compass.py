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
    BatchOpt,
    ConcurrencyOpt,
    DryRunOpt,
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

DEFAULT_MIN_RESPONDENTS = 5
"""`--min-respondents`; kept here so `--help` loads no pandas (see metrics/_compass_groups.py)."""

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
    _show_groups(summary)
    if out_dir is not None:
        print_info(f"wrote {out_dir}/summary.json and tables", style="dim")


def _show_groups(summary: dict[str, Any]) -> None:
    """The "by group" block: alignment per respondent group, and the most one-sided values."""
    groups = summary.get("alignment_by_group") or {}
    if not groups:
        return
    table = Table(title="by group", title_justify="left", show_edge=False, pad_edge=False)
    for name, justify in (("group", "left"), ("level", "left"), ("n", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_column("F1", justify="right")
    table.add_column("95% CI", justify="right", style="dim")
    for column, levels in groups.items():
        for level, entry in levels.items():
            low, high = entry.get("alignment_rate_ci") or (None, None)
            few = " [yellow](few)[/]" if entry.get("few_respondents") else ""
            table.add_row(
                escape(str(column)),
                escape(str(level)),
                f"{entry.get('n_respondents', 0)}{few}",
                _num(entry.get("alignment_rate")),
                f"{_num(low)}-{_num(high)}" if low is not None and high is not None else "",
            )
    console.print(table)
    if summary.get("n_groups_few_respondents"):
        least = summary.get("min_respondents")
        print_info(f"(few) = fewer than {least} respondents; read with care", style="dim")
    _show_directions(summary)


def _show_directions(summary: dict[str, Any]) -> None:
    top = summary.get("directions_top") or []
    if not top:
        return
    shown = ", ".join(
        f"{escape(str(t['value']))} {t.get('people_endorse_model_rejects', 0)}/"
        f"{t.get('people_reject_model_endorses', 0)} of {t.get('n_cells', 0)}"
        for t in top[:3]
    )
    print_info(f"most one-sided values (people endorse & model rejects / reverse): {shown}")


def _num(value: float | None) -> str:
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
        by: Annotated[
            list[str] | None,
            typer.Option(
                "--by",
                metavar="COLUMN",
                help="Break the alignment down by this survey column (repeatable), with "
                "intervals over respondents.",
                show_default="every demographic column, then country and scenario",
            ),
        ] = None,
        min_respondents: Annotated[
            int,
            typer.Option(
                metavar="N", min=1, help="Flag groups with fewer respondents (they stay shown)."
            ),
        ] = DEFAULT_MIN_RESPONDENTS,
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
            by=by or None,
            min_respondents=min_respondents,
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
        model_arg: ModelArgOpt = None,
        batch: BatchOpt = False,
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
            session_settings(
                model, base_url, concurrency, rpm, timeout, store, model_arg, batch=batch
            ),
            out,
            countries=countries,
            scenarios=scenarios,
            values=values,
            variants=variants,
            temperature=temperature,
            seed=seed,
            taxonomy=taxonomy,
            scenario_file=scenario_file,
            model=name,
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
