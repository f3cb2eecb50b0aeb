"""The session builder: backend, store and runner open together and close on every exit path."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import platformdirs
import pytest

import valuelens.pipeline._session as session_module
from valuelens._errors import ValuelensError
from valuelens.data import load_scenarios
from valuelens.models import Capabilities, Message, Request, Response
from valuelens.pipeline import (
    CACHE_NAME,
    EvaluateConfig,
    Session,
    collect_compass_answers,
    open_session,
    output_cache,
    run_cache,
    run_requests,
)
from valuelens.pipeline._session import (
    SessionSettings,
    default_store,
    read_ledger,
    session_settings,
)
from valuelens.runner import Estimate, Store


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
    async with open_session(
        SessionSettings("counting:x", progress=False, store=tmp_path / CACHE_NAME)
    ) as session:
        results = await session.runner.run([_request("a"), _request("b")])
        assert backend.closed == 0 and not _is_closed(session)
    assert [r.ok for r in results] == [True, True] and backend.completed == 2
    assert backend.closed == 1 and _is_closed(session)


async def test_an_error_in_the_block_closes_both(backend: CountingBackend, tmp_path: Path) -> None:
    opened: list[Session] = []
    with pytest.raises(RuntimeError, match="boom"):
        async with open_session(
            SessionSettings("counting:x", store=tmp_path / CACHE_NAME)
        ) as session:
            opened.append(session)
            raise RuntimeError("boom")
    assert backend.closed == 1 and _is_closed(opened[0])


async def test_cancellation_closes_both(backend: CountingBackend, tmp_path: Path) -> None:
    opened: list[Session] = []
    entered = asyncio.Event()

    async def hang() -> None:
        async with open_session(
            SessionSettings("counting:x", store=tmp_path / CACHE_NAME)
        ) as session:
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
        async with open_session(SessionSettings("counting:x", store=blocker / CACHE_NAME)):
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
        async with open_session(
            SessionSettings("counting:x", concurrency=0, store=tmp_path / CACHE_NAME)
        ):
            pytest.fail("the block must not run")
    assert backend.closed == 1
    assert len(stores) == 1 and _store_is_closed(stores[0])


def test_a_new_run_directory_uses_the_shared_store(tmp_path: Path, private_cache_dir: Path) -> None:
    shared = private_cache_dir / "cache.sqlite"
    assert default_store() == shared
    assert run_cache(tmp_path / "new run") == shared
    (tmp_path / "empty").mkdir()
    assert run_cache(tmp_path / "empty") == shared


def test_without_the_variable_the_store_is_in_the_user_cache_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("VALUELENS_CACHE_DIR")
    expected = Path(platformdirs.user_cache_dir("valuelens")) / "cache.sqlite"
    assert default_store() == expected


def test_an_older_run_directory_keeps_its_own_cache(tmp_path: Path) -> None:
    (tmp_path / "store.sqlite").write_bytes(b"")
    assert run_cache(tmp_path) == tmp_path / "store.sqlite"
    (tmp_path / "cache.sqlite").write_bytes(b"")  # once both exist, the current name wins
    assert run_cache(tmp_path) == tmp_path / "cache.sqlite"


def test_a_single_output_table_keeps_an_older_cache_beside_it(
    tmp_path: Path, private_cache_dir: Path
) -> None:
    assert output_cache(tmp_path / "actions.csv") == private_cache_dir / "cache.sqlite"
    (tmp_path / "actions.cache.sqlite").write_bytes(b"")
    assert output_cache(tmp_path / "actions.csv") == tmp_path / "actions.cache.sqlite"
    assert output_cache(tmp_path / "x.parquet") == private_cache_dir / "cache.sqlite"


def test_settings_are_read_from_an_evaluate_config(tmp_path: Path) -> None:
    config = EvaluateConfig(
        out=tmp_path,
        model="openai:m",
        base_urls=("http://127.0.0.1:9/v1",),
        concurrency=3,
        requests_per_minute=60.0,
        timeout_s=5.0,
        progress=False,
        store=tmp_path / "s.sqlite",
    )
    assert SessionSettings.of(config) == SessionSettings(
        "openai:m", ("http://127.0.0.1:9/v1",), 3, 60.0, 5.0, False, tmp_path / "s.sqlite"
    )


def test_single_options_replace_the_settings_fields() -> None:
    settings = session_settings(SessionSettings("openai:a", concurrency=2), {"base_urls": ["u"]})
    assert settings == SessionSettings("openai:a", ("u",), concurrency=2)
    assert session_settings("openai:b", {"model": "openai:c"}).model == "openai:c"
    assert session_settings(None, {}) == SessionSettings()


def test_a_dry_run_creates_no_store_and_no_folder(
    backend: CountingBackend, tmp_path: Path, private_cache_dir: Path
) -> None:
    out = tmp_path / "never written"
    session = open_session(SessionSettings("counting:x", progress=False), run_dir=out)
    estimate = run_requests(session, [_request("a"), _request("b")], dry_run=True)
    assert isinstance(estimate, Estimate) and backend.completed == 0
    assert list(private_cache_dir.iterdir()) == [] and not out.exists()


def _compass_options() -> dict[str, Any]:
    return {
        "countries": "Canada",
        "scenarios": load_scenarios(None).names[0],
        "values": "Wealth,Honest",
        "variants": "0,1",
    }


def test_a_second_run_directory_sends_nothing_and_records_its_keys(
    backend: CountingBackend, tmp_path: Path, private_cache_dir: Path
) -> None:
    settings = SessionSettings("counting:x", progress=False)
    collect_compass_answers(settings, tmp_path / "first", **_compass_options())
    assert backend.completed == 2
    collect_compass_answers(settings, tmp_path / "second", **_compass_options())
    assert backend.completed == 2, "the shared store already held every answer"
    shared = private_cache_dir / "cache.sqlite"
    with Store(shared, read_only=True) as store:
        stored = {record.key for record in store.records()}
    for name in ("first", "second"):
        assert not (tmp_path / name / "cache.sqlite").exists()
        ledger = read_ledger(tmp_path / name)
        assert ledger is not None and ledger.store == str(shared.resolve())
        assert set(ledger.keys) == stored and ledger.n_requests == 2


@pytest.mark.parametrize("older_name", ["cache.sqlite", "store.sqlite"])
def test_an_older_run_resumes_from_its_own_cache(
    backend: CountingBackend, tmp_path: Path, private_cache_dir: Path, older_name: str
) -> None:
    out = tmp_path / "compass"
    first = collect_compass_answers("counting:x", out, progress=False, **_compass_options())
    assert isinstance(first, pd.DataFrame) and len(first) > 0
    assert backend.completed == 2 and backend.closed == 1
    # An older version kept this cache in the run directory: move the answers there.
    for suffix in ("", "-wal", "-shm"):
        shared = private_cache_dir / f"cache.sqlite{suffix}"
        if shared.exists():
            shared.rename(out / f"{older_name}{suffix}")
    collect_compass_answers("counting:x", out, progress=False, **_compass_options())
    assert backend.completed == 2, "the rerun sent requests the older cache already answered"
    assert backend.closed == 2
    assert not (private_cache_dir / "cache.sqlite").exists()
    ledger = read_ledger(out)
    assert ledger is not None and ledger.store == str((out / older_name).resolve())
