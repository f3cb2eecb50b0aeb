"""The `valuelens` command line. Each stage registers its own subcommands from its own module."""

from __future__ import annotations

import sys

import typer

from valuelens._errors import ValuelensError
from valuelens.cli import _compare, _compass, _data, _evaluate, _predict, _report, _score
from valuelens.cli._console import err_console

_INTERRUPTED = 130

app = typer.Typer(
    name="valuelens",
    help="Measure the gap between the values a language model states and the actions it takes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """valuelens: stated values (Task 1) vs value-informed actions (Task 2), and human-LLM alignment."""


for _module in (_data, _evaluate, _score, _report, _compare, _compass, _predict):
    _module.register(app)


def main() -> None:
    """Console entry point: run the app and turn user errors into one red line and exit code 2."""
    try:
        app()
    except ValuelensError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except SystemExit as exit_:
        if exit_.code == _INTERRUPTED:  # typer turns Ctrl-C into this exit code, silently
            err_console.print("[yellow]interrupted; finished work is saved, rerun to resume[/]")
        raise
