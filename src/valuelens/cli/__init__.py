"""The `valuelens` command line. Each stage registers its own subcommands from its own module."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from valuelens._errors import ValuelensError
from valuelens.cli import (
    _annotate,
    _cache,
    _compare,
    _compass,
    _data,
    _evaluate,
    _harms,
    _list,
    _predict,
    _report,
    _score,
    _view,
)
from valuelens.cli._config import default_map
from valuelens.cli._console import (
    EXIT_INTERRUPTED,
    EXIT_USER_ERROR,
    print_error,
    print_info,
    print_note,
)
from valuelens.cli._options import PlainHelpGroup

app = typer.Typer(
    name="valuelens",
    cls=PlainHelpGroup,
    help="Measure the gap between the values a language model states and the actions it takes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(wanted: bool) -> None:
    if wanted:
        from importlib.metadata import version

        print_info(f"valuelens {version('valuelens')}")
        raise typer.Exit


@app.callback()
def _root(
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the valuelens version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """valuelens: stated values (Task 1) vs value-informed actions (Task 2), and human-LLM alignment."""


# One module per command group, each with `register(app)`; add new ones here.
COMMAND_MODULES = (
    _data,
    _list,
    _evaluate,
    _score,
    _report,
    _view,
    _compare,
    _compass,
    _predict,
    _harms,
    _annotate,
    _cache,
)
for _module in COMMAND_MODULES:
    _module.register(app)


def main() -> None:
    """Console entry point: run the app and turn user errors into one red line.

    Option defaults come from `valuelens.toml` (or `[tool.valuelens]` in `pyproject.toml`) and
    `VALUELENS_*` variables (see `valuelens.cli._config`). Exit codes: 2 for a user error, 3 for
    a run whose failed requests left it incomplete, 130 when interrupted (see
    `valuelens.cli._console`).
    """
    try:
        app(default_map=default_map(typer.main.get_command(app)))
    except ValuelensError as exc:
        print_error(exc)
        sys.exit(EXIT_USER_ERROR)
    except SystemExit as exit_:
        if exit_.code == EXIT_INTERRUPTED:  # typer turns Ctrl-C into this exit code, silently
            print_note("interrupted; finished work is saved, rerun to resume", style="yellow")
        raise
