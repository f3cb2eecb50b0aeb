"""Fixtures for the harms tests: the modules registered, a CLI app with `harms`, reference paths."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner, Result

# Importing these registers the task, the run kind and the report section (the package
# __init__ files may import them too; registering is idempotent per process).
import valuelens.pipeline._harms
import valuelens.report._harms
import valuelens.runs._harms
import valuelens.tasks._harms  # noqa: F401
from valuelens.cli import _harms as harms_cli

AUTHORS_NAMES = ("chatgpt", "deepseek", "gemma", "gpt4o", "llama3", "qwen")


def harms_app() -> typer.Typer:
    """A CLI app with the `harms` group (whether or not the main app registers it yet)."""
    from valuelens.cli import app

    if any(group.name == "harms" for group in app.registered_groups):
        return app
    own = typer.Typer(pretty_exceptions_enable=False)

    @own.callback()
    def _root() -> None:
        """Test app."""

    harms_cli.register(own)
    return own


def invoke(*args: str) -> Result:
    return CliRunner().invoke(harms_app(), ["harms", *args], catch_exceptions=False)


@pytest.fixture(scope="session")
def via_path(reference_dir: Path) -> Path:
    return reference_dir / "outputs/data_release/value_action_gap_full_data_generation.csv"


@pytest.fixture(scope="session")
def authors_lists(reference_dir: Path) -> list[Path]:
    folder = reference_dir / "outputs/evaluation/misaligned_examples"
    return [folder / f"{name}_misaligned_example.csv" for name in AUTHORS_NAMES]


@pytest.fixture
def make_small_run(
    tmp_path: Path, authors_lists: list[Path], monkeypatch: pytest.MonkeyPatch
) -> Callable[[int], Path]:
    """make(n): a harms run of the first n pairs of the authors' gemma list (no VIA file)."""
    from valuelens.pipeline import _harms

    monkeypatch.setattr(_harms, "default_via_path", lambda: None)

    def make(n: int) -> Path:
        listed = tmp_path / "gemma_misaligned_example.csv"
        pd.read_csv(authors_lists[2]).head(n).to_csv(listed, index=False)
        _harms.harms_export([listed], tmp_path / "harms")
        return tmp_path / "harms"

    return make
