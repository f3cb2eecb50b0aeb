"""`valuelens report`: one self-contained HTML page (and optional paper figures) from run folders."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from valuelens.cli._console import err_console, print_info


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
        from valuelens.report._draw import figure_progress
        from valuelens.report._html import render_report

        with _figure_bar() as progress, figure_progress(progress) as export:
            path = render_report(
                run_dirs, out, figures_dir=figures, title=title, all_pairs=all_pairs
            )
        size = path.stat().st_size / 1_000_000
        print_info(f"wrote {path} ({size:.1f} MB, {len(run_dirs)} run(s))")
        if figures is not None:
            print_info(
                f"wrote {export.total} figures as PNG and SVG under {figures} "
                f"({export.drawn} drawn, {export.unchanged} unchanged, {export.seconds:.1f} s)"
            )


@contextlib.contextmanager
def _figure_bar() -> Iterator[Callable[[int, int, str], None] | None]:
    """A progress bar on stderr, one step per figure, on a terminal only (else None).

    The bar refreshes on each step rather than from rich's refresh thread: `write_figures`
    may fork processes to draw, and it only forks when no other thread is running.
    """
    if not err_console.is_terminal:
        yield None
        return
    columns = (
        TextColumn("figures"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    bar = Progress(*columns, console=err_console, transient=True, auto_refresh=False)
    task: TaskID | None = None

    def step(done: int, total: int, key: str) -> None:
        nonlocal task
        if task is None:  # started by the first figure, not while the page is being built
            bar.start()
            task = bar.add_task("", total=total)
        bar.update(task, completed=done, total=total, description=escape(key))
        bar.refresh()

    try:
        yield step
    finally:
        if task is not None:
            bar.stop()
