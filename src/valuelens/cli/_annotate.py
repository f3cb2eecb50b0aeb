"""`valuelens annotate`: VIA quality control with people and a judge model.

valuelens annotate sheet actions.csv --out qc --per country --n 10
valuelens annotate judge actions.csv --model openai:gpt-4o-mini --out qc-judge --per country --n 10
valuelens annotate import alice.csv bob.csv --judge qc-judge --out qc-scores
valuelens annotate summary qc-scores
"""

from __future__ import annotations

import math
from collections.abc import Mapping
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

ViaArg = Annotated[
    Path,
    typer.Argument(
        help="VIA file: the authors' release CSV (or zip), or a `valuelens generate` table."
    ),
]
OutOpt = Annotated[Path, typer.Option("--out", metavar="DIR", help="Run directory to write.")]
PerOpt = Annotated[
    str,
    typer.Option(
        "--per",
        metavar="country|variant|all",
        help="Draw N items per country, per generation prompt variant, or over all items.",
    ),
]
NOpt = Annotated[int, typer.Option("--n", metavar="N", help="Items to draw per group.")]


def _number(value: float | str | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{float(value):.{digits}f}"


def show_headline(headline: Mapping[str, Mapping[str, Any]], title: str) -> None:
    """Print the per-criterion rate and agreement of an annotation run."""
    table = Table(title=escape(title), title_justify="left")
    for name in ("criterion", "yes rate", "kappa", "method", "alpha", "items", "raters", "split"):
        table.add_column(name, justify="left" if name in ("criterion", "method") else "right")
    for criterion, row in headline.items():
        table.add_row(
            criterion,
            _number(row.get("rate")),
            _number(row.get("kappa")),
            str(row.get("method", "")),
            _number(row.get("alpha")),
            str(row.get("n_items", "")),
            str(row.get("n_raters", "")),
            str(row.get("n_disagree", "")),
        )
    console.print(table)


def show_judge(headline: Mapping[str, Mapping[str, Any]]) -> None:
    """Print the judge's agreement with the people's majority, per criterion."""
    table = Table(title="judge vs people (majority vote)", title_justify="left")
    for name in ("criterion", "kappa", "accuracy", "items"):
        table.add_column(name, justify="left" if name == "criterion" else "right")
    for criterion, row in headline.items():
        table.add_row(
            criterion, _number(row.get("kappa")), _number(row.get("accuracy")), str(row.get("n"))
        )
    console.print(table)


def show_variants(out: Path) -> None:
    """Print the generation variants side by side (yes rate per criterion), when recorded."""
    from valuelens.runs import read_run
    from valuelens.tasks._annotate import CRITERIA

    variants = read_run(out).optional_table("variants")
    if variants is None or variants.empty:
        return
    table = Table(title="generation variants (yes rate)", title_justify="left")
    for name in ("variant", "items", *CRITERIA):
        table.add_column(name, justify="right")
    for row in variants.to_dict("records"):
        rates = [_number(row.get(f"{c}_rate")) for c in CRITERIA]
        table.add_row(str(row["variant"]), str(row["n_items"]), *rates)
    console.print(table)


def show_run(out: Path) -> None:
    """Print what an annotation run holds: headline, variants, judge agreement."""
    from valuelens.runs import read_run

    summary = read_run(out).summary
    stage = summary.get("stage")
    if stage == "sheet":
        print_info(f"{summary.get('n_items')} items sampled; fill in {out}/sheet.csv")
        return
    if summary.get("headline"):
        show_headline(summary.get("headline"), f"{summary.get('stage')}: {out}")
    show_variants(out)
    if summary.get("judge_headline"):
        show_judge(summary.get("judge_headline"))
    if summary.get("published_kappa") is not None:
        print_note(f"the paper reports Cohen's kappa {summary.get('published_kappa')} (its prompt)")


def register(app: typer.Typer) -> None:
    """Add the `annotate` command group to the main app."""
    annotate = typer.Typer(
        help="VIA quality control: sample actions into sheets, let people (and a judge model) "
        "rate correctness, harmlessness, sufficiency and plausibility, and score agreement.",
        no_args_is_help=True,
    )
    app.add_typer(annotate, name="annotate")

    @annotate.command()
    def sheet(
        via: ViaArg,
        out: OutOpt,
        per: PerOpt = "country",
        n: NOpt = 10,
        seed: SeedOpt = 0,
        annotators: Annotated[
            str,
            typer.Option(
                metavar="NAMES",
                help="Comma-separated names: one sheet_NAME.csv each, besides sheet.csv.",
            ),
        ] = "",
        taxonomy: TaxonomyOpt = None,
        wait: WaitOpt = False,
    ) -> None:
        """Sample VIA items reproducibly and write the sheets to fill in (yes/no per criterion)."""
        from valuelens.pipeline._annotate import write_sheets

        names = [name.strip() for name in annotators.split(",") if name.strip()]
        summary = write_sheets(
            via, out, per=per, n=n, seed=seed, annotators=names, taxonomy=taxonomy, wait=wait
        )
        files = ", ".join(f"{out}/{name}" for name in summary["sheets"])
        print_info(f"{summary['n_items']} items; fill in {files}")
        print_note("cells take 1/0, yes/no, y/n or true/false; leave blank when unsure")

    @annotate.command()
    def judge(
        via: ViaArg,
        out: OutOpt,
        model: ModelOpt = "embedded",
        base_url: BaseUrlOpt = None,
        per: PerOpt = "country",
        n: NOpt = 10,
        seed: SeedOpt = 0,
        temperature: TemperatureOpt = 0.0,
        concurrency: ConcurrencyOpt = 8,
        rpm: RpmOpt = None,
        timeout: TimeoutOpt = None,
        model_arg: ModelArgOpt = None,
        batch: BatchOpt = False,
        templates: TemplatesOpt = None,
        taxonomy: TaxonomyOpt = None,
        store: StoreOpt = None,
        dry_run: DryRunOpt = False,
        wait: WaitOpt = False,
    ) -> None:
        """Let a judge model pre-fill the four criteria for the same sample (`sheet.csv`).

        Same --per/--n/--seed as `annotate sheet` give the same items. `--templates` may hold
        annotate/judge.jinja (your wording).
        """
        from valuelens.pipeline._annotate import judge_sheets
        from valuelens.runner import Estimate

        settings = session_settings(
            model, base_url, concurrency, rpm, timeout, store, model_arg, batch=batch
        )
        summary = judge_sheets(
            via,
            settings,
            out,
            per=per,
            n=n,
            seed=seed,
            temperature=temperature,
            templates=templates,
            taxonomy=taxonomy,
            dry_run=dry_run,
            wait=wait,
        )
        if isinstance(summary, Estimate):
            print_info(summary.summary())
            return
        show_headline(summary["headline"], f"{summary['label']} on {summary['n_items']} items")
        show_variants(out)
        print_note(f"parse status {summary['parse_status']}; pre-filled sheet: {out}/sheet.csv")
        exit_if_incomplete(summary.get("incomplete"))

    @annotate.command("import")
    def import_(
        sheets: Annotated[
            list[Path],
            typer.Argument(help="Filled sheets (CSV), one or more per annotator."),
        ],
        out: OutOpt,
        judge_run: Annotated[
            Path | None,
            typer.Option(
                "--judge",
                metavar="DIR",
                help="An `annotate judge` run to compare with the people's majority vote.",
                show_default=False,
            ),
        ] = None,
        wait: WaitOpt = False,
    ) -> None:
        """Read filled sheets: rates, majority vote, Cohen's/Fleiss' kappa, disagreements."""
        from valuelens.pipeline._annotate import import_sheets

        summary = import_sheets(sheets, out, judge=judge_run, wait=wait)
        show_run(out)
        annotators = ", ".join(summary["annotators"])
        print_note(
            f"{summary['n_items']} items, annotators {annotators}; "
            f"{summary['n_flagged']} items with a disagreement (flagged table in {out})"
        )

    @annotate.command()
    def summary(
        run_dir: Annotated[Path, typer.Argument(help="An annotation run directory.")],
    ) -> None:
        """Print an annotation run: rates and agreement, variants, judge agreement."""
        from valuelens._errors import ValuelensError
        from valuelens.runs import read_run
        from valuelens.runs._annotate import ANNOTATION

        if read_run(run_dir).kind != ANNOTATION:
            raise ValuelensError(f"{run_dir} is not an annotation run (`valuelens annotate`)")
        show_run(run_dir)
