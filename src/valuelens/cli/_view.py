"""`valuelens view`: an index of every run in a folder, written as a page or served locally."""

from __future__ import annotations

import time
import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from valuelens.cli._console import print_info


def register(app: typer.Typer) -> None:
    """Add `view` to the main app."""
    app.command("view")(view_command)


def view_command(
    runs_dir: Annotated[
        Path,
        typer.Argument(help="A folder holding run directories (at any depth).", show_default=False),
    ] = Path("runs"),
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", metavar="FILE", help="Index file to write.", show_default=False
        ),
    ] = None,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="Serve the index on 127.0.0.1 (live, with comparisons of selected runs) "
            "until Ctrl-C, instead of writing RUNS_DIR/index.html.",
        ),
    ] = False,
    port: Annotated[
        int, typer.Option("--port", metavar="N", help="Port for --serve (0: any free port).")
    ] = 8765,
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the index in a web browser.")
    ] = False,
) -> None:
    """List every run in a folder: kind, model, date, headline numbers with CIs, complete or not.

    Each row links the run's report; tick runs and press "Compare selected" for a comparison
    report (with --serve it opens at once; otherwise the page shows the command to run).

    Example: valuelens view runs --serve --open
    """
    from valuelens.report._index import index_runs, write_index

    if serve:
        _serve(runs_dir, port, open_browser)
        return
    path = write_index(runs_dir, out)
    print_info(f"wrote {path} ({len(index_runs(runs_dir))} run(s))")
    if open_browser:
        webbrowser.open(path.resolve().as_uri())


def _serve(runs_dir: Path, port: int, open_browser: bool) -> None:
    from valuelens.report._serve import IndexServer

    with IndexServer(runs_dir, port) as server:
        print_info(f"serving the runs in {runs_dir} at {server.url} (Ctrl-C to stop)")
        if open_browser:
            webbrowser.open(server.url)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print_info("stopped")
