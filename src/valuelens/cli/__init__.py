"""The `valuelens` command line. Each stage registers its own subcommands from its own module."""

from __future__ import annotations

import sys

import typer

from valuelens._errors import ValuelensError
from valuelens.cli import _compare, _compass, _data, _evaluate, _predict, _report, _score
from valuelens.cli._console import EXIT_INTERRUPTED, EXIT_USER_ERROR, print_error, print_note

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
    """Console entry point: run the app and turn user errors into one red line.

    Exit codes: 2 for a user error, 3 for a run whose failed requests left it incomplete,
    130 when interrupted (see `valuelens.cli._console`).
    """
    try:
        app()
    except ValuelensError as exc:
        print_error(exc)
        sys.exit(EXIT_USER_ERROR)
    except SystemExit as exit_:
        if exit_.code == EXIT_INTERRUPTED:  # typer turns Ctrl-C into this exit code, silently
            print_note("interrupted; finished work is saved, rerun to resume", style="yellow")
        raise
