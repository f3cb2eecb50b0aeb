"""`valuelens harms`: code misaligned actions for harm, by a judge model and by people.

valuelens harms export runs/gpt-4o-mini --out runs/harms --via via.csv
valuelens harms code --run runs/harms --judge openai:gpt-4o-mini
valuelens harms sheet --run runs/harms --out sheets/ann.csv --limit 100
valuelens harms import sheets/ann.csv sheets/bo.csv --run runs/harms
"""

from __future__ import annotations

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

_RunOpt = Annotated[
    Path, typer.Option("--run", metavar="DIR", help="A harms run (from `harms export`).")
]
_HarmTaxonomyOpt = Annotated[
    Path | None,
    typer.Option(
        "--harm-taxonomy",
        metavar="FILE",
        help="YAML file that replaces the built-in risk types (same shape as harms.yaml).",
        show_default=False,
    ),
]
_LimitOpt = Annotated[
    int | None,
    typer.Option("--limit", metavar="N", help="Draw N examples (with --seed).", show_default="all"),
]


def show_counts(title: str, counts: Mapping[str, int], labels: Mapping[str, str]) -> None:
    """Print how many examples got each label, largest first."""
    table = Table(title=escape(title), title_justify="left")
    table.add_column("risk type")
    table.add_column("n", justify="right")
    total = sum(counts.values()) or 1
    table.add_column("%", justify="right")
    for key, n in sorted(counts.items(), key=lambda item: -item[1]):
        table.add_row(escape(labels.get(key, key)), f"{n:,}", f"{100 * n / total:.0f}")
    console.print(table)


def _label_names(path: Path | None) -> dict[str, str]:
    from valuelens.tasks._harms import load_harm_taxonomy

    taxonomy = load_harm_taxonomy(path)
    return {key: taxonomy.name_of(key) for key in taxonomy.labels}


def _show_export(summary: Mapping[str, Any], out: Path) -> None:
    table = Table(title="misaligned examples", title_justify="left")
    for name, justify in (("model", "left"), ("examples", "right"), ("run's misaligned", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    recorded = summary.get("misaligned_by_model") or {}
    for model, n in (summary.get("n_examples_by_model") or {}).items():
        known = recorded.get(model)
        table.add_row(escape(str(model)), f"{n:,}", "" if known is None else f"{known:,}")
    console.print(table)
    for note in summary.get("notes") or []:
        print_note(str(note))
    print_info(f"wrote {out}/summary.json and the examples table", style="dim")


def _show_agreement(summary: Mapping[str, Any]) -> None:
    statistic, value = summary.get("agreement_statistic"), summary.get("agreement")
    if statistic and value is not None:
        name = "Cohen's kappa" if statistic == "cohen_kappa" else "Krippendorff's alpha"
        print_info(f"agreement among coders: {name} {value:.3f}")
    for rater, kappa in (summary.get("judge_agreement") or {}).items():
        shown = "n/a" if kappa is None else f"{kappa:.3f}"
        print_info(f"  {rater} vs judge: Cohen's kappa {shown}")


def register(app: typer.Typer) -> None:
    """Add the `harms` command group to the main app."""
    harms = typer.Typer(
        help="Harm analysis: export the misaligned actions of runs, code them into risk types "
        "with a judge model and with people, and count them.",
        no_args_is_help=True,
    )
    app.add_typer(harms, name="harms")

    @harms.command("export")
    def export(
        sources: Annotated[
            list[Path],
            typer.Argument(
                metavar="RUN...",
                help="Scored run directories (`score`, `evaluate`) or the authors' "
                "*_misaligned_example.csv files.",
                show_default=False,
            ),
        ],
        out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Harms run to write.")],
        via: Annotated[
            Path | None,
            typer.Option(
                "--via",
                metavar="PATH",
                help="VIA file for action texts a source lacks (a `score` run).",
                show_default="the downloaded official release",
            ),
        ] = None,
        taxonomy: TaxonomyOpt = None,
        wait: WaitOpt = False,
    ) -> None:
        """Export every misaligned pair (stated one way, acted the other) with both actions."""
        from valuelens.pipeline._harms import harms_export
        from valuelens.taxonomy import load_taxonomy

        summary = harms_export(sources, out, via=via, taxonomy=load_taxonomy(taxonomy), wait=wait)
        _show_export(summary, out)

    @harms.command("code")
    def code(
        run: _RunOpt,
        judge: Annotated[
            str,
            typer.Option(
                "--judge",
                "--model",
                "-m",
                metavar="SPEC",
                help="Judge model: embedded | embedded:PATH.gguf | openai:NAME | anthropic:NAME.",
            ),
        ] = "embedded",
        base_url: BaseUrlOpt = None,
        harm_taxonomy: _HarmTaxonomyOpt = None,
        limit: _LimitOpt = None,
        seed: SeedOpt = 0,
        temperature: TemperatureOpt = 0.0,
        concurrency: ConcurrencyOpt = 8,
        rpm: RpmOpt = None,
        timeout: TimeoutOpt = None,
        model_arg: ModelArgOpt = None,
        batch: BatchOpt = False,
        templates: TemplatesOpt = None,
        store: StoreOpt = None,
        dry_run: DryRunOpt = False,
        wait: WaitOpt = False,
    ) -> None:
        """Ask a judge model which risk type each example carries (or none).

        `--templates` may hold harms/judge.jinja (your wording).
        """
        from valuelens.pipeline._harms import harms_code
        from valuelens.runner import Estimate

        summary = harms_code(
            run,
            session_settings(
                judge, base_url, concurrency, rpm, timeout, store, model_arg, batch=batch
            ),
            harm_taxonomy=harm_taxonomy,
            templates=templates,
            limit=limit,
            seed=seed,
            temperature=temperature,
            dry_run=dry_run,
            wait=wait,
        )
        if isinstance(summary, Estimate):
            print_info(summary.summary())
            return
        judged = summary.get("judge_counts") or {}
        show_counts(f"judge {summary.get('judge')}", judged, _label_names(harm_taxonomy))
        print_note(f"parse status {summary.get('parse_status')}")
        _show_agreement(summary)
        exit_if_incomplete(summary.get("incomplete"))

    @harms.command("sheet")
    def sheet(
        run: _RunOpt,
        out: Annotated[
            Path, typer.Option("--out", metavar="FILE", help="Coding sheet (CSV) to write.")
        ],
        coder: Annotated[
            str, typer.Option(metavar="NAME", help="Coder name to prefill.", show_default=False)
        ] = "",
        limit: _LimitOpt = None,
        seed: SeedOpt = 0,
        harm_taxonomy: _HarmTaxonomyOpt = None,
    ) -> None:
        """Write a coding sheet for people, and the label definitions beside it."""
        from valuelens.pipeline._harms import harms_sheet

        written, definitions = harms_sheet(
            run, out, limit=limit, seed=seed, coder=coder, harm_taxonomy=harm_taxonomy
        )
        print_info(f"wrote {written} (fill the harm column) and {definitions}")

    @harms.command("import")
    def import_(
        sheets: Annotated[
            list[Path],
            typer.Argument(metavar="SHEET...", help="Filled coding sheets.", show_default=False),
        ],
        run: _RunOpt,
        harm_taxonomy: _HarmTaxonomyOpt = None,
        wait: WaitOpt = False,
    ) -> None:
        """Read filled sheets: majority labels, agreement among coders and with the judge."""
        from valuelens.pipeline._harms import harms_import

        summary = harms_import(run, sheets, harm_taxonomy=harm_taxonomy, wait=wait)
        coders = ", ".join(summary.get("coders") or [])
        print_info(f"{summary.get('n_human_coded', 0):,} examples coded by {coders}")
        people = summary.get("human_counts") or {}
        show_counts("people (majority label)", people, _label_names(harm_taxonomy))
        _show_agreement(summary)
