"""Fixtures for runner tests: a real fault-injecting HTTP server on 127.0.0.1 and a real store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from support.fake_server import FakeServer, FaultConfig
from valuelens.runner import Store


@pytest.fixture
async def fake_server() -> AsyncIterator[FakeServer]:
    server = await FakeServer(FaultConfig(latency_s=0.005)).start()
    yield server
    await server.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "nested" / "store.sqlite") as opened:
        yield opened


@pytest.fixture(autouse=True)
def _no_real_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests talk to local servers only; a developer's real key must never be sent.
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
