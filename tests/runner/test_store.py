from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from valuelens import ValuelensError
from valuelens.models import Response, TokenLogprob, Usage
from valuelens.runner import Store
from valuelens.runner._store import (
    Row,
    export_records,
    read_export,
    response_from_json,
    response_to_json,
)


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


def test_a_new_store_makes_no_file_until_the_first_result(tmp_path: Path) -> None:
    path = tmp_path / "not yet" / "s.sqlite"
    with Store(path) as store:
        assert store.lookup(["a"]) == {} and store.finished(["a"]) == set()
        assert store.counts() == (0, 0) and list(store.records()) == []
        store.write_rows([])  # nothing to record: still nothing on disk
        assert not path.parent.exists()
        store.write_rows([row("a", True)])
        assert path.is_file() and store.get("a") is not None
    with pytest.raises(sqlite3.ProgrammingError):
        store.lookup(["a"])


def test_a_store_created_by_another_process_meanwhile_is_read(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with Store(path) as late:
        with Store(path) as early:
            early.write_rows([row("a", True, text="from the other one")])
        assert late.lookup(["a"])["a"].text == "from the other one"


def test_the_keys_asked_for_are_remembered_in_order(store: Store) -> None:
    store.write_rows([row("b", True)])
    store.finished(["c", "a"])
    store.lookup(["b", "a", "d"])
    assert store.used_keys() == ["c", "a", "b", "d"]


WRITER = """
import sys
from valuelens.models import Response
from valuelens.runner import Store
from valuelens.runner._store import response_to_json
path, name = sys.argv[1], sys.argv[2]
with Store(path) as store:
    for i in range(150):
        text = response_to_json(Response(text=name))
        store.write_rows([(f"{name}{i}", 1, "m", "{}", None, text, None, 1, 0, 0, None, 1.0, 2.0)])
        store.lookup([f"{name}{i}"])
"""


def test_several_processes_share_one_store(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "cache.sqlite"
    children = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), name], stderr=subprocess.PIPE)
        for name in ("p", "q", "r")
    ]
    for child in children:
        _, stderr = child.communicate(timeout=120)
        assert child.returncode == 0, stderr.decode()
    with Store(path, read_only=True) as store:
        assert store.counts() == (450, 0)
        assert {r.response["text"] for r in store.records() if r.response} == {"p", "q", "r"}


def test_delete_by_model_and_all(store: Store) -> None:
    rows = [row("a", True), row("b", True)]
    other = ("c", 1, "anthropic:claude", "{}", None, response_to_json(Response(text="c")))
    store.write_rows([*rows, (*other, None, 1, 0, 0, None, 1.0, 2.0)])
    assert store.delete(model="nothing") == 0
    assert store.delete(model="m") == 2  # the name without its kind (`openai:m`)
    assert [r.key for r in store.records()] == ["c"]
    assert store.delete(model="anthropic:claude") == 1
    store.write_rows(rows)
    assert store.delete() == 2 and store.counts() == (0, 0)


def test_merge_never_replaces_a_different_answer(store: Store, tmp_path: Path) -> None:
    store.write_rows([row("same", True, text="x"), row("other", True, text="mine")])
    store.write_rows([row("failed", False, error="HTTP 500")])
    with Store(tmp_path / "source.sqlite") as source:
        source.write_rows(
            [
                row("same", True, text="x"),
                row("other", True, text="theirs"),
                row("failed", True, text="now answered"),
                row("new", True, text="new"),
            ]
        )
        exported = tmp_path / "export.jsonl"
        assert export_records(source.records(ok=True), exported) == 4
    counts = store.merge(read_export(exported))
    assert (counts.added, counts.unchanged, counts.replaced_failures, counts.conflicts) == (
        1,
        1,
        1,
        1,
    )
    texts = {k: r.text for k, r in store.lookup(["same", "other", "failed", "new"]).items()}
    assert texts == {"same": "x", "other": "mine", "failed": "now answered", "new": "new"}


def test_an_export_file_with_a_bad_line_names_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"format": "valuelens-cache-export", "version": 1}\n\n{"key": 3}\n')
    with pytest.raises(ValuelensError, match=r"bad.jsonl, line 3: "):
        list(read_export(bad))
    bad.write_text("key,ok\n")
    with pytest.raises(ValuelensError, match=r"line 1: not a valuelens cache export"):
        list(read_export(bad))
