"""Fixtures for the report tests: run directories built in code, and a headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.report_cdp import Browser, find_chromium
from support.report_runfactory import (
    grid,
    synthetic_items,
    synthetic_pairs,
    synthetic_variants,
    write_compass_run,
    write_value_action_run,
)


@pytest.fixture(scope="session")
def item_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small `evaluate`-like run (3 countries x 2 topics x 56 values) with XSS payloads."""
    pairs = synthetic_pairs(grid(3, 2), seed=1)
    return write_value_action_run(
        tmp_path_factory.mktemp("runs") / "with-items",
        pairs,
        label="model <b>A</b>",
        model="synthetic-a",
        items=synthetic_items(pairs, seed=1, payload_every=7),
        variants=synthetic_variants(1),
    )


@pytest.fixture(scope="session")
def plain_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small `score`-like run (no item-level data, no variants), 4 countries x 3 topics."""
    pairs = synthetic_pairs(grid(4, 3), seed=2)
    return write_value_action_run(
        tmp_path_factory.mktemp("runs") / "plain", pairs, label="model B", model="synthetic-b"
    )


@pytest.fixture(scope="session")
def compass_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    base = tmp_path_factory.mktemp("compass")
    return [
        write_compass_run(base / "c1", label="compass-one", seed=1),
        write_compass_run(base / "c2", label="compass-two", seed=2),
    ]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    binary = find_chromium()
    chromium = Browser(binary, tmp_path_factory.mktemp("chromium") / "profile")
    try:
        yield chromium
    finally:
        chromium.close()
