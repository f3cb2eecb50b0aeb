"""Option defaults from valuelens.toml, [tool.valuelens] and VALUELENS_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from valuelens._errors import ValuelensError
from valuelens.cli import app
from valuelens.cli._config import CommandLike, default_map


@pytest.fixture(scope="module")
def root() -> CommandLike:
    command: CommandLike = typer.main.get_command(app)
    return command


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_file_defaults_reach_every_command_that_has_the_option(
    tmp_path: Path, root: CommandLike
) -> None:
    _write(
        tmp_path,
        "valuelens.toml",
        '[defaults]\nmodel = "openai:gpt-4o-mini"\nconcurrency = 32\n'
        '[evaluate]\nstated-variants = "0,1"\nconcurrency = 4\n'
        "[compass.run]\ntimeout = 60\n",
    )
    found = default_map(root, tmp_path, environ={})
    evaluate = found["evaluate"]
    assert isinstance(evaluate, dict)
    assert evaluate["model"] == ["openai:gpt-4o-mini"]  # --model repeats on evaluate
    generate = found["generate"]
    assert isinstance(generate, dict) and generate["model"] == "openai:gpt-4o-mini"
    assert evaluate["concurrency"] == 4  # the command's table wins over [defaults]
    assert evaluate["stated_variants"] == "0,1"
    compass = found["compass"]
    assert isinstance(compass, dict)
    assert compass["run"]["timeout"] == 60
    compare = found["compare"]
    assert isinstance(compare, dict) and "model" not in compare  # compare takes no model


def test_environment_beats_the_file_defaults(tmp_path: Path, root: CommandLike) -> None:
    _write(tmp_path, "valuelens.toml", '[defaults]\nmodel = "openai:a"\n')
    environ = {"VALUELENS_MODEL": "openai:b", "VALUELENS_BASE_URL": "http://127.0.0.1:9/v1"}
    evaluate = default_map(root, tmp_path, environ=environ)["evaluate"]
    assert isinstance(evaluate, dict)
    assert evaluate["model"] == ["openai:b"]
    assert evaluate["base_url"] == ["http://127.0.0.1:9/v1"]


def test_pyproject_tool_table_is_read(tmp_path: Path, root: CommandLike) -> None:
    _write(
        tmp_path, "pyproject.toml", '[project]\nname = "x"\n[tool.valuelens.evaluate]\nseed = 7\n'
    )
    evaluate = default_map(root, tmp_path, environ={})["evaluate"]
    assert isinstance(evaluate, dict) and evaluate["seed"] == 7


def test_no_file_no_variables_gives_no_defaults(tmp_path: Path, root: CommandLike) -> None:
    evaluate = default_map(root, tmp_path, environ={})["evaluate"]
    assert evaluate == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[evaluat]\nseed = 1\n", r"\[evaluat\] names no valuelens command"),
        ("[evaluate]\nsed = 1\n", r"\[evaluate\] 'sed' is not an option of `evaluate`"),
        ("[defaults]\nmodle = 'x'\n", r"\[defaults\] 'modle' is not an option of any command"),
        ("[evaluate\n", "cannot read the settings"),
    ],
)
def test_mistakes_in_the_file_are_one_line(
    tmp_path: Path, root: CommandLike, text: str, message: str
) -> None:
    _write(tmp_path, "valuelens.toml", text)
    with pytest.raises(ValuelensError, match=message):
        default_map(root, tmp_path, environ={})


def test_named_config_file_must_exist(tmp_path: Path, root: CommandLike) -> None:
    with pytest.raises(ValuelensError, match="no such file"):
        default_map(root, tmp_path, environ={"VALUELENS_CONFIG": str(tmp_path / "nope.toml")})


def test_the_console_command_reads_the_file(tmp_path: Path) -> None:
    """Through the real entry point: a default from valuelens.toml reaches `list values`."""
    import subprocess
    import sys

    _write(tmp_path, "valuelens.toml", "[list.values]\njson = true\n")
    done = subprocess.run(
        [sys.executable, "-c", "from valuelens.cli import main; main()", "list", "values"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.lstrip().startswith(("[", "{"))  # JSON, as the file asked

    _write(tmp_path, "valuelens.toml", "[list.values]\njsn = true\n")
    failed = subprocess.run(
        [sys.executable, "-c", "from valuelens.cli import main; main()", "list", "values"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 2
    assert "'jsn' is not an option of `list.values`" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1
