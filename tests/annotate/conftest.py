"""Fixtures for the VIA quality-control tests: the CLI with `annotate`, VIA files, sheet filling."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner, Result

from valuelens.cli import _annotate, app
from valuelens.tasks._annotate import CRITERIA

RELEASE = "outputs/data_release/value_action_gap_full_data_generation.csv"


@pytest.fixture(scope="session")
def cli() -> typer.Typer:
    """The valuelens app with the `annotate` group (registered here until cli/__init__ does)."""
    if not any(group.name == "annotate" for group in app.registered_groups):
        _annotate.register(app)
    return app


@pytest.fixture(scope="session")
def release_via(reference_dir: Path) -> Path:
    return reference_dir / RELEASE


@pytest.fixture
def invoke(cli: typer.Typer) -> Callable[..., Result]:
    """invoke(*args): run the CLI and fail the test with its output unless it exits 0."""

    def run(*args: object) -> Result:
        result = CliRunner().invoke(cli, [str(a) for a in args])
        assert result.exit_code == 0, (result.output, result.exception)
        return result

    return run


@pytest.fixture
def fill() -> Callable[[pd.DataFrame, dict[str, list[object]], Path], Path]:
    """fill(sheet, {criterion: answers}, path): write the sheet filled in (others blank)."""

    def write(sheet: pd.DataFrame, answers: dict[str, list[object]], path: Path) -> Path:
        filled = sheet.copy()
        for criterion in CRITERIA:
            filled[criterion] = answers.get(criterion, [""] * len(filled))
        filled.to_csv(path, index=False)
        return path

    return write


@pytest.fixture
def generated_via(tmp_path: Path) -> Iterator[Path]:
    """A `valuelens generate`-style VIA table: 2 countries x 2 values x 2 sides x 3 variants."""
    rows = []
    for country in ("Canada", "Nigeria"):
        for value in ("Honest", "Wealth"):
            for polarity in ("positive", "negative"):
                for variant in (0, 5, 7):
                    rows.append(
                        {
                            "country": country,
                            "topic": "Religion",
                            "value": value,
                            "polarity": polarity,
                            "action": f"I act on {value} ({polarity}) in {country}, v{variant}.",
                            "attributions": '["act on"]',
                            "explanation": "It fits.",
                            "parse_status": "ok",
                            "variant": variant,
                        }
                    )
    path = tmp_path / "generated.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    yield path
