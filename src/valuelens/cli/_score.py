"""`valuelens score`: the value-action gap from existing Task 1 and Task 2 outputs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.table import Table

from valuelens.cli._console import console, escape, print_info
from valuelens.cli._options import TaxonomyOpt, WaitOpt

if TYPE_CHECKING:
    from valuelens.metrics import Summary

# The same choices as `valuelens.data.Duplicates` (not imported: `--help` must stay light).
DuplicatesChoice = Literal["error", "first", "last", "variants"]


def show_summary(summary: Summary, out_dir: Path | None = None) -> None:
    """Print the headline numbers of a value-action run as a short rich table.

    The rows are the value-action headline measures (`valuelens.metrics.headline_measures`),
    with the labels and formats the report uses.
    """
    from valuelens.metrics import headline_measures, measures

    label = escape(str(summary.get("label") or summary.get("model") or ""))
    table = Table(title=f"value-action gap: {label}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_column(style="dim")
    by_key = {m.key: m for m in measures("value-action")}
    for m in headline_measures("value-action"):
        if not m.shown_for(summary):
            continue
        value = m.value_in(summary)
        text = m.format_value(value, missing="n/a")
        whole = by_key.get(m.of_key) if m.of_key else None
        if whole is not None and whole.value_in(summary) is not None:
            text += f" of {whole.format_value(whole.value_in(summary))}"
        if m.key == "n_pairs_without_choice" and value:
            paper = summary.get("paper_compat")
            text += " (counted as positive: --paper-compat)" if paper else " (excluded)"
        table.add_row(escape(m.label), text, escape(m.interval_text(summary) or m.note))
    countries = summary.get("ranking_countries") or []
    if countries:
        table.add_row("largest gap (country)", escape(str(countries[0])), "")
    console.print(table)
    if summary.get("action_scope") == "sample":
        n_sample = summary.get("n_pairs_in_actions_file")
        n_sample = summary.get("n_pairs") or 0 if n_sample is None else n_sample
        noun = "pair" if n_sample == 1 else "pairs"
        print_info(f"{n_sample:,} {noun} from a sample file (pairs outside it are not scored)")
    if out_dir is not None:
        print_info(f"wrote {out_dir}/summary.json and tables", style="dim")


def _show_unparsed(statuses: dict[str, int]) -> None:
    """One line for Task 2 answers that name no option (kept in the `choices` table)."""
    unparsed = {k: v for k, v in sorted(statuses.items()) if k not in ("ok", "repaired")}
    if unparsed:
        text = ", ".join(f"{k} {v:,}" for k, v in unparsed.items())
        print_info(
            f"Task 2 answers without a choice: {text} (raw text in choices.csv)", style="dim"
        )


def register(app: typer.Typer) -> None:
    """Add `score` to the main app."""

    @app.command()
    def score(
        stated: Annotated[
            Path,
            typer.Option(
                "--stated",
                metavar="FILE",
                help="Task 1 responses: the authors' raw "
                "CSV (country, topic, response, prompt_index) or a tidy table.",
            ),
        ],
        actions: Annotated[
            Path,
            typer.Option(
                "--actions",
                metavar="FILE",
                help="Task 2 choices: country, topic, value, choice (or t2_chosen_polarity), "
                "or the authors' robustness file (evaluation_0 ... evaluation_7).",
            ),
        ],
        out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Run directory to write.")],
        paper_compat: Annotated[
            bool,
            typer.Option(
                "--paper-compat",
                metavar="",
                help="Reproduce the paper: strict JSON; in a full-grid Task 2 file a pair "
                "without a choice counts as positive.",
            ),
        ] = False,
        model: Annotated[
            str | None, typer.Option(metavar="NAME", help="Model name to record.")
        ] = None,
        taxonomy: TaxonomyOpt = None,
        bootstrap: Annotated[
            int, typer.Option(metavar="N", help="Bootstrap resamples over scenarios.")
        ] = 1000,
        seed: Annotated[int, typer.Option(metavar="N", help="Bootstrap seed.")] = 0,
        sample: Annotated[
            bool | None,
            typer.Option(
                "--sample/--grid",
                metavar="",
                help="The Task 2 file is a sample: score only its own pairs (--sample), or it "
                "covers the full grid (--grid). Default: a sample for the authors' robustness "
                "layout (evaluation_0..7), the full grid otherwise.",
                show_default=False,
            ),
        ] = None,
        duplicates: Annotated[
            DuplicatesChoice,
            typer.Option(
                metavar="POLICY",
                help="Repeated rows (same pair and variant; raw Task 1: same country, topic, "
                "prompt_index): error, keep the first, keep the last, or count repeats as "
                "extra variants.",
            ),
        ] = "error",
        wait: WaitOpt = False,
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
            sample=sample,
            duplicates=duplicates,
            wait=wait,
        )
        show_summary(result.summary, out)
        _show_unparsed(result.summary.get("parse_status_action") or {})

    @app.command()
    def version() -> None:
        """Print the valuelens version."""
        from importlib.metadata import version as package_version

        console.print(package_version("valuelens"))
