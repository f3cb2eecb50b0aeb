from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from valuelens import ValuelensError
from valuelens.models import Response, TokenLogprob, Usage
from valuelens.runner import Store
from valuelens.runner._store import Row, response_from_json, response_to_json


def row(key: str, ok: bool, text: str | None = None, error: str | None = None) -> Row:
    response = None
    if ok:
        response = response_to_json(Response(text=text or key, finish_reason="stop"))
    return (key, int(ok), "openai:m", "{}", None, response, error, 1, 3, 4, 0.1, 1.0, 2.0)


def test_response_survives_the_round_trip() -> None:
    response = Response(
        text='{"a": 1} — ünïcode',
        logprobs=(TokenLogprob("{", -0.01, {"{": -0.01, "The": -4.5}), TokenLogprob("1", -0.3, {})),
        usage=Usage(12, 7),
        latency_s=0.25,
        finish_reason="length",
        raw={"id": "x", "choices": [{"index": 0}]},
    )
    assert response_from_json(response_to_json(response)) == response


def test_lookup_returns_only_finished_keys(store: Store) -> None:
    store.write_rows([row("a", True), row("b", False, error="HTTP 500"), row("c", True)])

    found = store.lookup(["a", "b", "c", "missing"])

    assert sorted(found) == ["a", "c"]
    assert found["a"].text == "a"
    assert store.finished(["a", "b", "missing"]) == {"a"}
    assert store.counts() == (2, 1)
    assert store.get("b") is None


def test_lookup_handles_more_keys_than_sqlite_parameters(store: Store) -> None:
    store.write_rows([row(f"k{i}", True) for i in range(1200)])
    keys = [f"k{i}" for i in range(0, 2400, 2)]
    assert len(store.lookup(keys)) == 600


def test_a_failure_never_replaces_a_success(store: Store) -> None:
    store.write_rows([row("a", True, text="good")])
    store.write_rows([row("a", False, error="HTTP 500")])
    assert store.lookup(["a"])["a"].text == "good"

    store.write_rows([row("b", False, error="first")])
    store.write_rows([row("b", True, text="later")])
    assert store.lookup(["b"])["b"].text == "later"
    assert store.counts() == (2, 0)


def test_store_is_wal_and_visible_to_other_connections(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "s.sqlite"
    with Store(path) as store:
        store.write_rows([row("a", True)])
        other = sqlite3.connect(path)
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert other.execute("SELECT key, ok FROM results").fetchall() == [("a", 1)]
        other.close()


def test_records_export_everything(store: Store) -> None:
    store.write_rows([row("a", True), row("b", False, error="boom")])
    records = list(store.records())
    assert [(r.key, r.ok, r.error) for r in records] == [("a", True, None), ("b", False, "boom")]
    assert records[0].response is not None and records[0].response["text"] == "a"
    assert [r.key for r in store.records(ok=False)] == ["b"]


def test_a_file_that_is_not_a_store_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_text("these are my notes, not a database " * 50)
    with pytest.raises(ValuelensError, match="cannot use"):
        Store(path)


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA user_version=99")
    connection.close()
    with pytest.raises(ValuelensError, match="newer valuelens"):
        Store(path)


def test_a_read_only_store_reads_but_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        store.write_rows([row("a", True, text="kept"), row("b", False, error="HTTP 500")])
    before = path.read_bytes()

    with Store(path, read_only=True) as store:
        assert store.read_only
        assert store.lookup(["a", "b"])["a"].text == "kept"
        assert store.counts() == (1, 1)
        with pytest.raises(ValuelensError, match="is read-only here"):
            store.write_rows([row("c", True)])
    assert path.read_bytes() == before


def test_a_read_only_store_sees_rows_still_in_the_write_ahead_log(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    writer = Store(path)  # stays open, as in a run that was killed: rows sit in the WAL
    writer.write_rows([row("a", True)])
    assert path.with_name("s.sqlite-wal").stat().st_size > 0
    with Store(path, read_only=True) as reader:
        assert reader.finished(["a"]) == {"a"}
    writer.close()


def test_a_writable_store_is_not_read_only(store: Store) -> None:
    assert not store.read_only


def test_reading_a_missing_store_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValuelensError, match="no store at"):
        Store(tmp_path / "absent.sqlite", read_only=True)
    assert not (tmp_path / "absent.sqlite").exists()


def test_a_store_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ValuelensError) as caught:
        Store(blocker / "cache.sqlite")
    message = str(caught.value)
    assert message.startswith(f"cannot create or write the store {blocker / 'cache.sqlite'}: ")
    assert "\n" not in message
