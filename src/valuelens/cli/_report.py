"""`valuelens report`: one self-contained HTML page (and optional paper figures) from run folders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from valuelens.cli._console import print_info


def register(app: typer.Typer) -> None:
    """Add `report` to the main app."""

    @app.command()
    def report(
        run_dirs: Annotated[
            list[Path],
            typer.Argument(
                help="Run directories from `valuelens score`, `evaluate` or `compass score`.",
                show_default=False,
            ),
        ],
        out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path(
            "report.html"
        ),
        figures: Annotated[
            Path | None,
            typer.Option(
                "--figures", help="Also write every figure as PNG and SVG in this folder."
            ),
        ] = None,
        title: Annotated[str | None, typer.Option(help="Page title.")] = None,
        all_pairs: Annotated[
            bool,
            typer.Option(
                "--all-pairs",
                help="Compare runs each on its own pairs (default: on the pairs all of them scored).",
            ),
        ] = False,
    ) -> None:
        """Write an offline HTML report: headline numbers, heatmaps, rankings, comparison, items.

        Example: valuelens report runs/gpt-4o-mini runs/llama --out report.html --figures figs
        """
        from valuelens.report._html import render_report

        path = render_report(run_dirs, out, figures_dir=figures, title=title, all_pairs=all_pairs)
        size = path.stat().st_size / 1_000_000
        print_info(f"wrote {path} ({size:.1f} MB, {len(run_dirs)} run(s))")
        if figures is not None:
            count = len(list(figures.rglob("*.png")))
            print_info(f"wrote {count} figures as PNG and SVG under {figures}")
