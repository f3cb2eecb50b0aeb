"""`valuelens score`: the value-action gap from existing Task 1 and Task 2 outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.table import Table

from valuelens.cli._console import console, escape, print_info
from valuelens.cli._evaluate import WaitOpt

# The same choices as `valuelens.data.Duplicates` (not imported: `--help` must stay light).
DuplicatesChoice = Literal["error", "first", "last", "variants"]


def show_summary(summary: dict[str, Any], out_dir: Path | None = None) -> None:
    """Print the headline numbers of a value-action run as a short rich table."""
    low, high = summary.get("alignment_rate_ci") or (None, None)
    label = escape(str(summary.get("label") or summary.get("model") or ""))
    table = Table(
        title=f"value-action gap: {label}",
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
        table.add_row("largest gap (country)", escape(str(countries[0])))
    console.print(table)
    if summary.get("action_scope") == "sample":
        n_sample = summary.get("n_pairs_in_actions_file", summary.get("n_pairs", 0))
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
                help="Task 2 choices: country, topic, value, choice (or t2_chosen_polarity), "
                "or the authors' robustness file (evaluation_0 ... evaluation_7).",
            ),
        ],
        out: Annotated[Path, typer.Option("--out", help="Run directory to write.")],
        paper_compat: Annotated[
            bool,
            typer.Option(
                "--paper-compat",
                help="Reproduce the paper: strict JSON; in a full-grid Task 2 file a pair "
                "without a choice counts as positive.",
            ),
        ] = False,
        model: Annotated[str | None, typer.Option(help="Model name to record.")] = None,
        taxonomy: Annotated[
            Path | None,
            typer.Option(help="YAML/JSON file that extends the built-in countries/topics/values."),
        ] = None,
        bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples over scenarios.")] = 1000,
        seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
        sample: Annotated[
            bool | None,
            typer.Option(
                "--sample/--grid",
                help="The Task 2 file is a sample: score only its own pairs (--sample), or it "
                "covers the full grid (--grid). Default: a sample for the authors' robustness "
                "layout (evaluation_0..7), the full grid otherwise.",
                show_default=False,
            ),
        ] = None,
        duplicates: Annotated[
            DuplicatesChoice,
            typer.Option(
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
