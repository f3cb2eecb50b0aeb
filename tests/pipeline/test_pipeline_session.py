"""The session builder: backend, store and runner open together and close on every exit path."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import valuelens.pipeline._session as session_module
from valuelens._errors import ValuelensError
from valuelens.data import load_scenarios
from valuelens.models import Capabilities, Message, Request, Response
from valuelens.pipeline import (
    CACHE_NAME,
    Session,
    collect_compass_answers,
    open_session,
    output_cache,
    run_cache,
)
from valuelens.runner import Store


class CountingBackend:
    """A backend that answers every request with the same text and counts its calls."""

    def __init__(self, *, in_process: bool = False) -> None:
        self.completed = 0
        self.closed = 0
        self._in_process = in_process

    @property
    def identity(self) -> dict[str, str]:
        return {"kind": "counting", "model": "counter"}

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(in_process=self._in_process)

    async def complete(self, request: Request) -> Response:
        self.completed += 1
        return Response(text="no ratings here")

    async def aclose(self) -> None:
        self.closed += 1


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> CountingBackend:
    """The backend every `open_session` in the test gets, whatever model it names."""
    fake = CountingBackend()

    def load(spec: str, *, base_urls: Any = ()) -> CountingBackend:
        return fake

    monkeypatch.setattr(session_module, "load_backend", load)
    return fake


def _store_is_closed(store: Store) -> bool:
    try:
        store.lookup(["any key"])
    except sqlite3.ProgrammingError:  # "Cannot operate on a closed database."
        return True
    return False


def _is_closed(session: Session) -> bool:
    return _store_is_closed(session.store)


def _request(text: str) -> Request:
    return Request(messages=(Message("user", text),), max_tokens=4)


async def test_success_closes_backend_and_store(backend: CountingBackend, tmp_path: Path) -> None:
    async with open_session("counting:x", store=tmp_path / CACHE_NAME, progress=False) as session:
        results = await session.runner.run([_request("a"), _request("b")])
        assert backend.closed == 0 and not _is_closed(session)
    assert [r.ok for r in results] == [True, True] and backend.completed == 2
    assert backend.closed == 1 and _is_closed(session)


async def test_an_error_in_the_block_closes_both(backend: CountingBackend, tmp_path: Path) -> None:
    opened: list[Session] = []
    with pytest.raises(RuntimeError, match="boom"):
        async with open_session("counting:x", store=tmp_path / CACHE_NAME) as session:
            opened.append(session)
            raise RuntimeError("boom")
    assert backend.closed == 1 and _is_closed(opened[0])


async def test_cancellation_closes_both(backend: CountingBackend, tmp_path: Path) -> None:
    opened: list[Session] = []
    entered = asyncio.Event()

    async def hang() -> None:
        async with open_session("counting:x", store=tmp_path / CACHE_NAME) as session:
            opened.append(session)
            entered.set()
            await asyncio.Event().wait()  # never set: only cancellation ends this

    task = asyncio.create_task(hang())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert backend.closed == 1 and _is_closed(opened[0])


async def test_a_store_that_cannot_open_still_closes_the_backend(
    backend: CountingBackend, tmp_path: Path
) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(ValuelensError, match="cannot create or write the store"):
        async with open_session("counting:x", store=blocker / CACHE_NAME):
            pytest.fail("the block must not run")
    assert backend.closed == 1


async def test_bad_runner_settings_close_store_and_backend(
    backend: CountingBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stores: list[Store] = []

    class RecordedStore(Store):
        def __init__(self, path: Path) -> None:
            super().__init__(path)
            stores.append(self)

    monkeypatch.setattr(session_module, "Store", RecordedStore)
    with pytest.raises(ValuelensError, match="concurrency must be at least 1"):
        async with open_session("counting:x", store=tmp_path / CACHE_NAME, concurrency=0):
            pytest.fail("the block must not run")
    assert backend.closed == 1
    assert len(stores) == 1 and _store_is_closed(stores[0])


def test_a_new_run_directory_gets_cache_sqlite(tmp_path: Path) -> None:
    assert run_cache(tmp_path / "new run") == tmp_path / "new run" / "cache.sqlite"
    (tmp_path / "empty").mkdir()
    assert run_cache(tmp_path / "empty") == tmp_path / "empty" / "cache.sqlite"


def test_an_older_store_sqlite_is_reused(tmp_path: Path) -> None:
    (tmp_path / "store.sqlite").write_bytes(b"")
    assert run_cache(tmp_path) == tmp_path / "store.sqlite"
    (tmp_path / "cache.sqlite").write_bytes(b"")  # once both exist, the current name wins
    assert run_cache(tmp_path) == tmp_path / "cache.sqlite"


def test_a_single_output_table_keeps_its_cache_beside_it(tmp_path: Path) -> None:
    assert output_cache(tmp_path / "actions.csv") == tmp_path / "actions.cache.sqlite"
    assert output_cache(tmp_path / "x.parquet") == tmp_path / "x.cache.sqlite"


def test_an_older_compass_run_resumes_from_its_store_sqlite(
    backend: CountingBackend, tmp_path: Path
) -> None:
    out = tmp_path / "compass"
    scenario = load_scenarios(None).names[0]
    options: dict[str, Any] = {
        "countries": "Canada",
        "scenarios": scenario,
        "values": "Wealth,Honest",
        "variants": "0,1",
        "progress": False,
    }
    first = collect_compass_answers("counting:x", out, **options)
    assert isinstance(first, pd.DataFrame) and len(first) > 0
    assert backend.completed == 2
    assert backend.closed == 1
    # An older version wrote the same cache as store.sqlite: rename it so.
    (out / "cache.sqlite").rename(out / "store.sqlite")
    collect_compass_answers("counting:x", out, **options)
    assert backend.completed == 2, "the rerun sent requests the older cache already answered"
    assert backend.closed == 2
    assert not (out / "cache.sqlite").exists()
