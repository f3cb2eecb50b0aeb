"""Shared fixtures: the authors' reference data (tests only, never in the repo), a dummy key,
and a private shared store for every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
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


@pytest.fixture(scope="session", autouse=True)
def _no_real_user_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Point the shared store away from the user's cache before any fixture of any scope runs.

    Module- and session-scoped fixtures that run a model (before `private_cache_dir` applies)
    use this folder; every test then gets its own (`private_cache_dir`).
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VALUELENS_CACHE_DIR", str(tmp_path_factory.mktemp("valuelens-cache-shared")))
        yield


@pytest.fixture(autouse=True)
def private_cache_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The shared store's folder for this test alone: never the user's real cache.

    Set in the environment, so the commands a test starts in a subprocess use it too.
    """
    folder = tmp_path_factory.mktemp("valuelens-cache")
    monkeypatch.setenv("VALUELENS_CACHE_DIR", str(folder))
    return folder
