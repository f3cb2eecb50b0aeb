"""Fixtures for the ValueCompass tests: paths to the authors' files and small files built in code."""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from valuelens.taxonomy import load_taxonomy

VALUES = load_taxonomy().value_names
# The authors' human files spell these two values differently.
HUMAN_HEADERS = {
    "Preserving my Public Image": "Preserving Human's Public Image",
    "Protecting the Environment": "Protect the Environment",
}


@pytest.fixture(scope="session")
def compass_dir(reference_dir: Path) -> Path:
    path = reference_dir / "valuecompass" / "results"
    if not path.is_dir():
        pytest.skip(f"ValueCompass reference data not found at {path}")
    return path


WideRow = Mapping[str, object]


def write_wide_survey(
    path: Path,
    rows: Sequence[WideRow],
    *,
    headers: Sequence[str] | None = None,
    default: object = "1",
) -> Path:
    """An authors'-layout survey: PID, location, age, gender and one column per value.

    Each row gives PID, location and any answers by (canonical) value name; other values get
    `default`. `headers` replaces the value headers (to test misspellings and missing columns).
    """
    value_headers = (
        list(headers) if headers is not None else [HUMAN_HEADERS.get(v, v) for v in VALUES]
    )
    canonical = {HUMAN_HEADERS.get(v, v): v for v in VALUES}
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["PID", "location", "age", "gender", *value_headers])
        for row in rows:
            answers = [row.get(canonical.get(h, h), default) for h in value_headers]
            writer.writerow(
                [
                    row["PID"],
                    row["location"],
                    row.get("age", "25-34 years old"),
                    row.get("gender", "Woman"),
                    *answers,
                ]
            )
    return path


@pytest.fixture
def wide_survey() -> Callable[..., Path]:
    return write_wide_survey
