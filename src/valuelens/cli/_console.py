"""Shared rich consoles and the one way the CLI prints messages.

Results go to stdout (`console`); progress, notes, warnings and errors go to stderr
(`err_console`). Messages are printed as plain text, never parsed as rich markup, so outside
text in them (a server's `[/v1/projects/p-1]`, a path with `[red]` in it, the `[redacted]`
marker of a removed key) appears exactly as written. They are never wrapped either, so a long
path stays on one line when the output goes to a file or a pipe.

Exit codes: 0 done, 2 a user error (one line, no traceback), 3 the run finished but some
requests failed for good (rerun to retry them), 130 interrupted (rerun to resume).
"""

from __future__ import annotations

import typer
from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from rich.text import Text

EXIT_USER_ERROR = 2
EXIT_INCOMPLETE = 3
EXIT_INTERRUPTED = 130

# Wide enough for any path; a table sizes its columns to their content, not to this width.
_UNWRAPPED_WIDTH = 4096


class _Console(Console):
    """A console that lays out at the terminal's width, or without wrapping when redirected.

    Rich falls back to 80 columns when the output is not a terminal, which breaks long paths in
    tables over several lines of a log file; here a redirected console is as wide as needed.
    """

    @property
    def size(self) -> ConsoleDimensions:
        dimensions = super().size
        if self.is_terminal or self._width is not None:
            return dimensions
        return ConsoleDimensions(_UNWRAPPED_WIDTH, dimensions.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        width, height = new_size
        self._width, self._height = width, height


console: Console = _Console()
err_console: Console = _Console(stderr=True)

__all__ = [
    "EXIT_INCOMPLETE",
    "EXIT_INTERRUPTED",
    "EXIT_USER_ERROR",
    "console",
    "err_console",
    "escape",
    "exit_if_incomplete",
    "print_error",
    "print_info",
    "print_note",
    "print_warning",
]


def _emit(target: Console, message: str | Text, style: str = "", prefix: str = "") -> None:
    text = Text()
    if prefix:
        text.append(prefix, style=f"bold {style}".strip())
    text.append(message if isinstance(message, Text) else Text(message, style=style))
    target.print(text, soft_wrap=True, highlight=False)


def print_error(message: object) -> None:
    """Print `error: MESSAGE` in red on stderr; the message is shown verbatim."""
    _emit(err_console, str(message), "red", "error: ")


def print_warning(message: object) -> None:
    """Print `warning: MESSAGE` in yellow on stderr; the message is shown verbatim."""
    _emit(err_console, str(message), "yellow", "warning: ")


def print_note(message: object, *, style: str = "dim") -> None:
    """Print a side note (default dim) on stderr; the message is shown verbatim."""
    _emit(err_console, str(message), style)


def print_info(message: str | Text, *, style: str = "") -> None:
    """Print a result line on stdout; a `str` is shown verbatim, a `Text` keeps its styles.

    Use `Text.assemble(("wrote ", ""), (str(path), "bold"))` to style parts of a line without
    letting the outside text in it be read as markup.
    """
    _emit(console, message, style)


def exit_if_incomplete(message: str | None) -> None:
    """Print the one line of an incomplete run and exit with `EXIT_INCOMPLETE` (3).

    Args:
        message: the run's `incomplete` line (`Completeness.message()`); None when the run is
            complete, and then nothing happens. Everything that could be computed has been
            written by then; the exit status tells scripts that it came from partial data.
    """
    if message is None:
        return
    print_warning(message)
    raise typer.Exit(EXIT_INCOMPLETE)
