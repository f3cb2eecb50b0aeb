"""Shared fixtures: the authors' reference data (tests only, never in the repo) and a dummy key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _reference_dir() -> Path:
    return Path(
        os.environ.get("VALUELENS_REFERENCE_DIR", REPO_ROOT.parent / "shared" / "reference")
    )


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The reference folder; missing data skips locally and fails under CI=true."""
    path = _reference_dir()
    if not path.is_dir():
        message = f"reference data not found at {path} (set VALUELENS_REFERENCE_DIR)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def dummy_openai_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fake key, so a developer's real key can never reach a local server."""
    key = "sk-valuelens-test-dummy"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    return key
