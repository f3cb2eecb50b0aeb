"""Fixtures for end-to-end CLI tests against the fake OpenAI-compatible server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The fake server lives with the benchmarks that also use it.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))


@pytest.fixture
def dummy_openai_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A fake key, so a developer's real key can never reach the local server."""
    key = "sk-valuelens-test-dummy"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    return key
