"""Defaults for command-line options from a file and the environment.

Precedence, highest first: an option given on the command line, a `VALUELENS_<OPTION>`
environment variable (e.g. `VALUELENS_MODEL`, `VALUELENS_CONCURRENCY`), a command's table in the
config file, the file's `[defaults]` table, the built-in default.

The config file is `valuelens.toml` in the working directory, else the `[tool.valuelens]` table
of `pyproject.toml` there (`VALUELENS_CONFIG=PATH` names another file). Keys are option names
with dashes or underscores; a command's table is named after it, sub-commands nested::

    [defaults]                 # every command that has the option
    model = "openai:gpt-4o-mini"
    concurrency = 32

    [evaluate]
    action-variants = "all"

    [compass.run]
    timeout = 60

A key no command of that table has, or a table that names no command, is one red line: a
misspelt setting must not be silently ignored.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from valuelens._errors import ValuelensError

CONFIG_FILE = "valuelens.toml"
ENV_PREFIX = "VALUELENS_"
DEFAULTS_TABLE = "defaults"
ENV_OPTIONS = (
    "model",
    "base_url",
    "concurrency",
    "rpm",
    "timeout",
    "store",
    "taxonomy",
    "templates",
    "seed",
)
"""Options read from `VALUELENS_<NAME>` for every command that has them."""

DefaultMap = dict[str, object]


class _Param(Protocol):
    @property
    def name(self) -> str | None: ...

    @property
    def opts(self) -> Sequence[str]: ...


class CommandLike(Protocol):
    """A command of the CLI's tree, as typer builds it (`typer.main.get_command(app)`)."""

    @property
    def params(self) -> Sequence[_Param]:
        """The command's options and arguments."""
        ...


def _subcommands(command: CommandLike) -> Mapping[str, CommandLike] | None:
    found: Mapping[str, CommandLike] | None = getattr(command, "commands", None)
    return found


def find_config(cwd: Path, environ: Mapping[str, str]) -> tuple[Path, dict[str, object]] | None:
    """The config file that applies in `cwd` and its settings, or None when there is none."""
    named = environ.get(f"{ENV_PREFIX}CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            raise ValuelensError(f"{ENV_PREFIX}CONFIG={named}: no such file")
        return path, _table(path, tool_table=path.name == "pyproject.toml")
    own = cwd / CONFIG_FILE
    if own.is_file():
        return own, _table(own, tool_table=False)
    pyproject = cwd / "pyproject.toml"
    if pyproject.is_file():
        table = _table(pyproject, tool_table=True)
        return (pyproject, table) if table else None
    return None


def _table(path: Path, *, tool_table: bool) -> dict[str, object]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValuelensError(f"{path}: cannot read the settings ({exc})") from None
    if not tool_table:
        return data
    tool = data.get("tool")
    found = tool.get("valuelens") if isinstance(tool, dict) else None
    return found if isinstance(found, dict) else {}


def default_map(
    root: CommandLike, cwd: Path | None = None, environ: Mapping[str, str] | None = None
) -> DefaultMap:
    """The command tree's `default_map` for `root` from the config file and `VALUELENS_*` variables.

    Raises:
        ValuelensError: an unreadable file, an unknown command table or an unknown key.
    """
    environ = os.environ if environ is None else environ
    found = find_config(Path.cwd() if cwd is None else cwd, environ)
    path, settings = found if found is not None else (Path(CONFIG_FILE), {})
    shared = _normalised(settings.get(DEFAULTS_TABLE, {}), path, DEFAULTS_TABLE)
    shared.update(_from_environment(environ))
    tables = {k: v for k, v in settings.items() if k != DEFAULTS_TABLE}
    result = _command_map(root, shared, tables, path, where="")
    _check_known(shared, root, path)
    return result


def _from_environment(environ: Mapping[str, str]) -> dict[str, object]:
    values: dict[str, object] = {}
    for name in ENV_OPTIONS:
        value = environ.get(f"{ENV_PREFIX}{name.upper()}")
        if value:
            values[name] = value
    return values


def _command_map(
    command: CommandLike,
    shared: Mapping[str, object],
    tables: Mapping[str, object],
    path: Path,
    where: str,
) -> DefaultMap:
    subcommands = _subcommands(command)
    if subcommands is not None:
        unknown = sorted(set(tables) - set(subcommands))
        if unknown:
            place = f"[{where}.{unknown[0]}]" if where else f"[{unknown[0]}]"
            raise ValuelensError(f"{path}: {place} names no valuelens command")
        return {
            name: _command_map(
                sub,
                shared,
                _sub_table(tables.get(name, {}), path, f"{where}.{name}".strip(".")),
                path,
                f"{where}.{name}".strip("."),
            )
            for name, sub in subcommands.items()
        }
    names = _option_names(command)
    own = _normalised(tables, path, where)
    unknown = sorted(set(own) - set(names))
    if unknown:
        raise ValuelensError(f"{path}: [{where}] {unknown[0]!r} is not an option of `{where}`")
    settings = {names[k]: v for k, v in shared.items() if k in names}
    settings.update({names[k]: v for k, v in own.items()})
    repeatable = {p.name for p in command.params if getattr(p, "multiple", False)}
    return {k: [v] if k in repeatable and isinstance(v, str) else v for k, v in settings.items()}


def _option_names(command: CommandLike) -> dict[str, str]:
    """Each way a setting may name an option (`--action-variants`, `action_variants`) -> param."""
    names: dict[str, str] = {}
    for param in command.params:
        if not param.name:
            continue
        names[param.name] = param.name
        for opt in param.opts:
            if opt.startswith("--"):
                names[opt.removeprefix("--").replace("-", "_")] = param.name
    return names


def _sub_table(table: object, path: Path, where: str) -> dict[str, object]:
    if not isinstance(table, dict):
        raise ValuelensError(f"{path}: [{where}] must be a table of settings")
    return table


def _normalised(table: object, path: Path, where: str) -> dict[str, object]:
    if not isinstance(table, dict):
        raise ValuelensError(f"{path}: [{where}] must be a table of settings")
    return {key.replace("-", "_"): value for key, value in table.items()}


def _check_known(shared: Mapping[str, object], root: CommandLike, path: Path) -> None:
    known = _all_params(root)
    unknown = sorted(set(shared) - known)
    if unknown:
        raise ValuelensError(f"{path}: [defaults] {unknown[0]!r} is not an option of any command")


def _all_params(command: CommandLike) -> set[str]:
    names = set(_option_names(command))
    for sub in (_subcommands(command) or {}).values():
        names |= _all_params(sub)
    return names
