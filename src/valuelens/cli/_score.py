"""`valuelens score`: the value-action gap from existing Task 1 and Task 2 outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from valuelens.cli._console import console


def show_summary(summary: dict[str, Any], out_dir: Path | None = None) -> None:
    """Print the headline numbers of a value-action run as a short rich table."""
    low, high = summary.get("alignment_rate_ci") or (None, None)
    table = Table(
        title=f"value-action gap: {summary.get('label') or summary.get('model') or ''}",
        show_header=False,
        title_justify="left",
    )
    table.add_column(style="bold")
    table.add_column(justify="right")
    ci = f"  [dim](95% CI {low:.3f}-{high:.3f})[/]" if low is not None and high is not None else ""
    table.add_row("alignment rate (F1)", f"{_num(summary.get('alignment_rate'))}{ci}")
    table.add_row("accuracy", _num(summary.get("accuracy")))
    table.add_row("misaligned pairs", f"{summary['misaligned']:,} of {summary['n_pairs_scored']:,}")
    table.add_row(
        "  stated agree, chose negative", f"{summary['misaligned_stated_agree_chose_negative']:,}"
    )
    table.add_row(
        "  stated disagree, chose positive",
        f"{summary['misaligned_stated_disagree_chose_positive']:,}",
    )
    table.add_row("distance (country x value)", _num(summary.get("distance_mean_by_country")))
    table.add_row("distance (topic x value)", _num(summary.get("distance_mean_by_topic")))
    without = summary.get("n_pairs_without_choice", 0)
    note = (
        " (counted as positive: --paper-compat)" if summary.get("paper_compat") else " (excluded)"
    )
    table.add_row("pairs without a choice", f"{without:,}{note if without else ''}")
    if summary.get("n_pairs_without_stated"):
        table.add_row("pairs without a stated answer", f"{summary['n_pairs_without_stated']:,}")
    countries = summary.get("ranking_countries") or []
    if countries:
        table.add_row("largest gap (country)", f"{countries[0]}")
    console.print(table)
    if out_dir is not None:
        console.print(f"[dim]wrote {out_dir}/summary.json and tables[/]")


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def register(app: typer.Typer) -> None:
    """Add `score` to the main app."""

    @app.command()
    def score(
        stated: Annotated[
            Path,
            typer.Option(
                "--stated",
                help="Task 1 responses: the authors' raw "
                "CSV (country, topic, response, prompt_index) or a tidy table.",
            ),
        ],
        actions: Annotated[
            Path,
            typer.Option(
                "--actions",
                help="Task 2 choices: country, topic, value, choice (or t2_chosen_polarity).",
            ),
        ],
        out: Annotated[Path, typer.Option("--out", help="Run directory to write.")],
        paper_compat: Annotated[
            bool,
            typer.Option(
                "--paper-compat",
                help="Reproduce the paper: strict JSON, no choice = chose positive.",
            ),
        ] = False,
        model: Annotated[str | None, typer.Option(help="Model name to record.")] = None,
        taxonomy: Annotated[
            Path | None,
            typer.Option(help="YAML/JSON file that extends the built-in countries/topics/values."),
        ] = None,
        bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples over scenarios.")] = 1000,
        seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    ) -> None:
        """Score the value-action gap from existing Task 1 and Task 2 outputs."""
        from valuelens._api import score as run_score
        from valuelens.taxonomy import load_taxonomy

        result = run_score(
            stated,
            actions,
            out=out,
            paper_compat=paper_compat,
            taxonomy=load_taxonomy(taxonomy),
            model=model,
            n_resamples=bootstrap,
            seed=seed,
        )
        show_summary(result.summary, out)

    @app.command()
    def version() -> None:
        """Print the valuelens version."""
        from importlib.metadata import version as package_version

        console.print(package_version("valuelens"))
