"""`valuelens data`: get the VIA actions and check a VIA file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from valuelens.cli._console import (
    EXIT_USER_ERROR,
    console,
    err_console,
    print_error,
    print_info,
    print_note,
)
from valuelens.cli._options import TaxonomyOpt

_SUMMARY_ROWS = [
    ("n_actions", "actions"),
    ("n_usable_actions", "usable actions"),
    ("n_pairs", "pairs"),
    ("n_complete_pairs", "complete pairs (both sides usable)"),
    ("n_expected_pairs", "pairs in the full taxonomy grid"),
    ("n_ok", "parsed as written"),
    ("n_repaired", "parsed after repair"),
    ("n_refusals", "refusals"),
    ("n_parse_failures", "parse failures"),
    ("n_pairs_with_refusal", "pairs with a refusal"),
    ("n_truncated", "answers cut off inside their object"),
    ("n_pairs_unusable_strict", "pairs a strict reader drops (refusal, failure, cut off)"),
    ("n_duplicate_actions", "duplicate rows"),
    ("n_missing_polarity", "rows without a valid polarity"),
]


def register(app: typer.Typer) -> None:
    """Add the `data` command group (download, validate, path) to the main app."""
    data_app = typer.Typer(
        name="data",
        help="Get the VIA action dataset (the authors' release) and check VIA files.",
        no_args_is_help=True,
    )
    data_app.command("download")(download)
    data_app.command("validate")(validate)
    data_app.command("path")(path)
    app.add_typer(data_app, name="data")


def download(
    force: Annotated[
        bool, typer.Option("--force", help="Download again even if a copy is cached.")
    ] = False,
) -> None:
    """Download the authors' VIA release into the cache (SHA-256 verified)."""
    from valuelens.data._download import default_via_path, download_via

    cached = default_via_path()
    if cached is not None and not force:
        print_note("VIA data already downloaded (use --force to fetch it again)", style="")
        print_info(str(cached))
        return
    columns = (
        TextColumn("downloading VIA"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task("download", total=None)

        def report(received: int, total: int | None) -> None:
            bar.update(task, completed=received, total=total)

        target = download_via(force=force, progress=report)
    print_note("VIA data downloaded and verified", style="green")
    print_info(str(target))


def validate(
    file: Annotated[
        Path, typer.Argument(help="A VIA file: the release CSV or zip, or a valuelens CSV/Parquet.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    taxonomy: TaxonomyOpt = None,
) -> None:
    """Parse a VIA file and report counts, refusals, parse failures and other issues.

    Exits with 2 (after the report) when no row of the file holds a usable action.
    """
    from valuelens.data import validate_via
    from valuelens.taxonomy import load_taxonomy

    report = validate_via(file, taxonomy=load_taxonomy(taxonomy))
    if as_json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        _print_report(report)
    if not report["n_usable_actions"]:
        print_error(
            f"{file}: no usable action in {report['n_actions'] + report['n_missing_polarity']} "
            f"row(s) ({report['n_refusals']} refusals, {report['n_parse_failures']} parse "
            f"failures, {report['n_missing_polarity']} without a valid polarity)"
        )
        raise typer.Exit(EXIT_USER_ERROR)


def path() -> None:
    """Print where the downloaded VIA data lives (or would live)."""
    from valuelens.data._download import VIA_FILENAME, default_via_path, via_cache_dir

    target = via_cache_dir() / VIA_FILENAME
    print_info(str(target))
    if default_via_path() is None:
        print_note("not downloaded yet: run `valuelens data download`", style="")


def _print_report(report: dict[str, Any]) -> None:
    print_info(Text.assemble((str(report["path"]), "bold"), f" ({report['format']} format)"))
    table = Table()
    table.add_column("count")
    table.add_column("value", justify="right")
    for key, label in _SUMMARY_ROWS:
        table.add_row(label, f"{report[key]:,}")
    console.print(table)
    if report["issues"]:
        print_info("issues", style="bold")
        for issue in report["issues"]:
            print_info(f"  - {issue}")
    else:
        print_info("no issues found", style="green")
