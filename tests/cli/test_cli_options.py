"""The options shared by every command that runs a model: same names, same help, passed through.

The pipeline functions are replaced by recorders, so no model is loaded and nothing is sent;
each test checks what a command line turns into.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import valuelens.pipeline
from valuelens._errors import ValuelensError
from valuelens.cli import app
from valuelens.pipeline._session import SessionOptions, SessionSettings, session_settings

RUNNING_COMMANDS = (
    ("evaluate",),
    ("quickstart",),
    ("generate",),
    ("compass", "run"),
    ("predict", "run"),
)
EVERYWHERE = (
    "--model",
    "--base-url",
    "--concurrency",
    "--rpm",
    "--timeout",
    "--store",
    "--temperature",
    "--dry-run",
    "--model-arg",
)
"""Options every model-running command has."""
ALSO = {
    ("evaluate",): ("--templates", "--taxonomy", "--seed", "--wait", "--batch"),
    ("quickstart",): ("--templates", "--taxonomy", "--seed", "--wait"),
    ("generate",): ("--templates", "--taxonomy", "--seed", "--batch"),
    ("compass", "run"): ("--templates", "--taxonomy", "--seed", "--wait", "--batch"),
    ("predict", "run"): ("--templates", "--seed", "--wait", "--batch"),
}
"""Shared options a command has when the stage behind it takes them."""
SHARED = (*EVERYWHERE, "--templates", "--taxonomy", "--seed", "--wait", "--batch")


class Stop(Exception):
    """Raised by a recorder once it has the arguments."""


def _command(path: tuple[str, ...]) -> Any:
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return command


def _options(path: tuple[str, ...]) -> dict[str, Any]:
    return {opt: p for p in _command(path).params for opt in p.opts}


@pytest.mark.parametrize("path", RUNNING_COMMANDS, ids=" ".join)
def test_every_model_running_command_has_the_shared_options(path: tuple[str, ...]) -> None:
    options = _options(path)
    wanted = {*EVERYWHERE, *ALSO[path]}
    assert wanted <= set(options), sorted(wanted - set(options))
    assert "-m" in options  # the short form of --model


@pytest.mark.parametrize("name", SHARED)
def test_a_shared_option_reads_the_same_in_every_command(name: str) -> None:
    found = {
        " ".join(path): (options[name].help, tuple(options[name].opts))
        for path in RUNNING_COMMANDS
        if name in (options := _options(path))
    }
    assert len(found) >= 2, found
    assert len(set(found.values())) == 1, found


@pytest.mark.parametrize("path", RUNNING_COMMANDS, ids=" ".join)
def test_help_shows_no_python_types(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "--dry-run" in result.output
    # typer's own --help flag still reads `<bool>` (it takes no metavar from us).
    lines = [line for line in result.output.splitlines() if "--help" not in line]
    types = re.findall(r"<[a-z][a-z_\[\]|, ]*>", "\n".join(lines))
    assert types == [], types


def _record(monkeypatch: pytest.MonkeyPatch, name: str) -> dict[str, Any]:
    """Replace `valuelens.pipeline.<name>` by a function that keeps its arguments and stops."""
    seen: dict[str, Any] = {}

    def recorder(*args: Any, **kwargs: Any) -> Any:
        seen.update(kwargs, args=args)
        raise Stop

    monkeypatch.setattr(valuelens.pipeline, name, recorder)
    return seen


LIMITS = ["--rpm", "30", "--timeout", "7.5", "--concurrency", "3", "--seed", "4"]


def test_evaluate_passes_the_shared_options_into_its_config(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen = _record(monkeypatch, "estimate")
    store, taxonomy = tmp_path / "c.sqlite", tmp_path / "t.yaml"
    args = ["evaluate", "--out", str(tmp_path / "run"), "-m", "openai:x", "--dry-run"]
    args += [*LIMITS, "--store", str(store), "--taxonomy", str(taxonomy), "--wait"]
    args += ["--base-url", "http://a/v1", "--base-url", "http://b/v1", "--temperature", "0.7"]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, Stop), result.output
    (config,) = seen["args"]
    assert config.model == "openai:x"
    assert config.base_urls == ("http://a/v1", "http://b/v1")
    assert (config.requests_per_minute, config.timeout_s) == (30.0, 7.5)
    assert (config.concurrency, config.seed, config.temperature) == (3, 4, 0.7)
    assert (config.store, config.taxonomy, config.wait) == (store, taxonomy, True)


@pytest.mark.parametrize(
    ("model", "extra", "expected"),
    [("embedded", [], 2), ("openai:x", [], 8), ("embedded", ["--concurrency", "5"], 5)],
)
def test_quickstart_concurrency_depends_on_the_model_unless_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model: str, extra: list[str], expected: int
) -> None:
    seen = _record(monkeypatch, "estimate")
    args = ["quickstart", "--out", str(tmp_path / "q"), "--model", model, "--dry-run", *extra]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, Stop), result.output
    assert seen["args"][0].concurrency == expected


def test_quickstart_takes_the_options_evaluate_takes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen = _record(monkeypatch, "estimate")
    args = ["quickstart", "--out", str(tmp_path / "q"), "--dry-run", *LIMITS, "--wait"]
    args += ["--base-url", "http://a/v1", "--store", str(tmp_path / "s.sqlite")]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, Stop), result.output
    config = seen["args"][0]
    assert (config.requests_per_minute, config.timeout_s, config.seed) == (30.0, 7.5, 4)
    assert (config.base_urls, config.store, config.wait) == (
        ("http://a/v1",),
        tmp_path / "s.sqlite",
        True,
    )


@pytest.mark.parametrize(
    ("path", "target", "first"),
    [
        (("generate",), "generate_actions", ["--out", "actions.csv"]),
        (("compass", "run"), "collect_compass_answers", ["--out", "c"]),
        (("predict", "run"), "run_predictions", ["--run", "r", "--out", "p"]),
    ],
    ids=["generate", "compass run", "predict run"],
)
def test_the_stage_receives_the_limits_store_and_endpoints(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    path: tuple[str, ...],
    target: str,
    first: list[str],
) -> None:
    seen = _record(monkeypatch, target)
    store = tmp_path / "cache.sqlite"
    args = [*path, *first, "-m", "openai:x", "--rpm", "12", "--timeout", "9", "--dry-run"]
    args += ["--concurrency", "2", "--store", str(store), "--base-url", "http://a/v1"]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, Stop), result.output
    settings = _settings_seen(seen)
    assert settings.model == "openai:x"
    assert (settings.requests_per_minute, settings.timeout_s) == (12.0, 9.0)
    assert (settings.concurrency, settings.store, seen["dry_run"]) == (2, store, True)
    assert settings.base_urls == ("http://a/v1",)


def _settings_seen(seen: dict[str, Any]) -> SessionSettings:
    """The session settings a stage received: one `SessionSettings`, or single arguments."""
    given = [a for a in [*seen["args"], seen.get("session")] if isinstance(a, SessionSettings)]
    options = {name: seen[name] for name in SessionOptions.__annotations__ if name in seen}
    spec = next((a for a in seen["args"] if a == "openai:x"), None)
    return session_settings(given[0] if given else spec, options)  # type: ignore[arg-type]


def test_generate_passes_its_taxonomy_seed_and_templates(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen = _record(monkeypatch, "generate_actions")
    taxonomy, templates = tmp_path / "t.yaml", tmp_path / "mine"
    args = ["generate", "--out", str(tmp_path / "a.csv"), "--taxonomy", str(taxonomy)]
    args += ["--seed", "11", "--templates", str(templates), "--dry-run"]
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, Stop), result.output
    assert (seen["taxonomy"], seen["seed"], seen["templates"]) == (taxonomy, 11, templates)


def test_generate_takes_no_wait_it_holds_no_lock() -> None:
    assert "--wait" not in _options(("generate",))


def test_compass_run_passes_its_templates(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen = _record(monkeypatch, "collect_compass_answers")
    args = ["compass", "run", "--out", str(tmp_path / "c"), "--templates", str(tmp_path / "m")]
    result = CliRunner().invoke(app, [*args, "--dry-run"])
    assert isinstance(result.exception, Stop), result.output
    assert seen["templates"] == tmp_path / "m"


@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        ("stated,predict", "'predict' (registered, but evaluate does not run it)"),
        ("stated,nope", "'nope' (no such task)"),
    ],
)
def test_evaluate_tasks_outside_evaluate_fail_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tasks: str, message: str
) -> None:
    _record(monkeypatch, "estimate")
    args = ["evaluate", "--out", str(tmp_path / "run"), "--tasks", tasks, "--dry-run"]
    result = CliRunner().invoke(app, args)
    # `valuelens.cli.main` prints this one line; nothing reached the pipeline.
    assert isinstance(result.exception, ValuelensError), result.output
    assert str(result.exception).startswith("--tasks takes stated and/or action (and the added")
    assert message in str(result.exception)
