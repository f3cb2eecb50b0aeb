"""Every command's --help: no Python type placeholders, no help text contradicting a default.

The commands are found by walking the app (sub-apps included), so a command added later is
checked too.
"""

from __future__ import annotations

import re
from importlib.metadata import version as package_version
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from valuelens.cli import app

_PLACEHOLDER = re.compile(r"<[a-z][a-z_\[\]|, .]*>")
_ROW_START = re.compile(r"^│\s*(\*\s+)?(--[\w-]+|-\w|[A-Z_]+\s)")


def _paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        found += _paths(sub, (*prefix, name))
    return found


ALL_COMMANDS = _paths(typer.main.get_command(app))


def _help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


def _option_rows(text: str) -> list[str]:
    """The help's option/argument rows, each with its continuation lines joined."""
    rows: list[str] = []
    for line in text.splitlines():
        if _ROW_START.match(line):
            rows.append(line)
        elif rows and line.startswith("│") and line.strip("│ "):
            rows[-1] += " " + line.strip("│ ")
        elif not line.startswith("│"):
            rows.append("")  # a panel ended
    return [row for row in rows if row]


def test_the_walk_finds_sub_apps() -> None:
    assert ("data", "validate") in ALL_COMMANDS and ("evaluate",) in ALL_COMMANDS
    assert len(ALL_COMMANDS) > 10


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda p: " ".join(p) or "valuelens")
def test_help_shows_no_type_placeholders(path: tuple[str, ...]) -> None:
    text = _help(path)
    assert "--help" in text
    assert _PLACEHOLDER.findall(text) == [], text


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda p: " ".join(p) or "valuelens")
def test_help_text_never_contradicts_a_shown_default(path: tuple[str, ...]) -> None:
    for row in _option_rows(_help(path)):
        assert not (re.search(r"\(default\b", row) and "[default:" in row), row


def test_flags_show_no_metavar_and_values_show_an_uppercase_one() -> None:
    rows = {row.split()[1]: row for row in _option_rows(_help(("data", "validate")))}
    json_row = rows["--json"].split()
    assert json_row[2] == "Print", rows["--json"]  # help text comes right after the flag
    assert rows["--taxonomy"].split()[2] == "FILE"
    assert re.search(r"^│\s*\*\s+FILE\s+A VIA file", _help(("data", "validate")), re.M)


def test_version_flag_prints_the_package_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output == f"valuelens {package_version('valuelens')}\n"
