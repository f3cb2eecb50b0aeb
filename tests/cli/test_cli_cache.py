"""The shared store and `valuelens cache info|clear|export|import`, on real SQLite files.

The evaluations run against the local fake OpenAI-compatible server, which counts every
request it receives; the store lives in the test's private cache folder (`private_cache_dir`).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from support import evaluate_run
from support.evaluate_run import read_summary, write_via
from support.fake_server import FakeServer, FaultConfig, serve_in_thread
from valuelens.cli import _cache
from valuelens.cli import app as main_app
from valuelens.models import Response
from valuelens.runner import Store
from valuelens.runner._store import Row, response_to_json

COUNTRY, TOPIC = "United States", "Environment"
VALUES = ("Honest", "Wealth")
N_STATED = 1  # one Task 1 variant
N_ACTION = len(VALUES)  # one Task 2 variant per pair


def _cache_app() -> typer.Typer:
    app = typer.Typer()
    _cache.register(app)

    @app.callback()
    def _root() -> None:
        """Only `cache` (so that typer keeps the group's name)."""

    return app


def cache(*args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(_cache_app(), ["cache", *args], input=input)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def row(key: str, model: str, text: str | None, endpoint: str = "http://127.0.0.1:1/v1") -> Row:
    request = json.dumps({"backend": {"kind": model.split(":")[0], "endpoint": endpoint}})
    response = None if text is None else response_to_json(Response(text=text, latency_s=0.5))
    error = "HTTP 500" if text is None else None
    return (key, int(text is not None), model, request, None, response, error, 1, 3, 4, 0.1, 1, 2)


@pytest.fixture
def shared(private_cache_dir: Path) -> Path:
    """The shared store with 3 answers of two models and 1 failure."""
    path = private_cache_dir / "cache.sqlite"
    with Store(path) as store:
        store.write_rows(
            [
                row("a", "openai:gpt-4o-mini", "one"),
                row("b", "openai:gpt-4o-mini", "two"),
                row("c", "anthropic:claude", "three"),
                row("d", "anthropic:claude", None),
            ]
        )
    return path


def test_info_counts_answers_by_model(shared: Path) -> None:
    output = cache("info")
    assert f"store: {shared}" in output
    assert "answers: 3; failures (sent again by the next run): 1" in output
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in output.splitlines()]
    lines = {cells[0]: cells[1:] for cells in rows if len(cells) == 4}
    assert lines["openai:gpt-4o-mini"] == ["http://127.0.0.1:1/v1", "2", "0"]
    assert lines["anthropic:claude"] == ["http://127.0.0.1:1/v1", "1", "1"]


def test_info_on_a_store_not_yet_written(private_cache_dir: Path) -> None:
    output = cache("info")
    assert "nothing has been stored yet" in output
    assert list(private_cache_dir.iterdir()) == []


def test_clear_one_model_after_confirmation(shared: Path) -> None:
    assert "nothing removed" in cache("clear", "--model", "gpt-4o-mini", input="n\n")
    with Store(shared) as store:
        assert store.counts() == (3, 1)
    assert "removed 2 results" in cache("clear", "--model", "gpt-4o-mini", input="y\n")
    with Store(shared) as store:
        assert [r.key for r in store.records()] == ["c", "d"]
    assert "removed 2 results" in cache("clear", "--yes")
    with Store(shared) as store:
        assert store.counts() == (0, 0)


def test_export_then_import_into_another_store(shared: Path, tmp_path: Path) -> None:
    exported = tmp_path / "answers.jsonl.gz"
    assert "wrote 3 answers" in cache("export", str(exported))
    lines = gzip.decompress(exported.read_bytes()).decode().splitlines()
    assert json.loads(lines[0])["format"] == "valuelens-cache-export"
    assert sorted(json.loads(line)["key"] for line in lines[1:]) == ["a", "b", "c"]

    other = tmp_path / "other.sqlite"
    with Store(other) as store:  # a different answer to `a`, a failure for `c`
        store.write_rows(
            [row("a", "openai:gpt-4o-mini", "ONE"), row("c", "anthropic:claude", None)]
        )
    output = cache("import", str(exported), "--store", str(other))
    assert "1 added, 0 already there, 1 stored failures replaced" in output
    assert "1 answers differ from the stored ones" in output
    with Store(other) as store:
        found = store.lookup(["a", "b", "c"])
    assert {key: response.text for key, response in found.items()} == {
        "a": "ONE",  # kept, never silently overwritten
        "b": "two",
        "c": "three",
    }
    assert "0 added, 2 already there" in cache("import", str(exported), "--store", str(other))


def test_import_of_a_file_that_is_not_an_export_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "notes.jsonl"
    bad.write_text('{"format": "valuelens-cache-export", "version": 1}\n{"key": "x"}\n')
    result = CliRunner().invoke(_cache_app(), ["cache", "import", str(bad)])
    message = str(result.exception)
    assert message.startswith(f"{bad}, line 2: ") and "\n" not in message


# --- evaluations through the shared store, against the counting fake server ---


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with serve_in_thread(FaultConfig(latency_s=0.001)) as running:
        yield running


@pytest.fixture
def via_csv(tmp_path: Path) -> Path:
    actions = {
        value: (f"I act for {value.lower()} today.", f"I ignore {value.lower()}.")
        for value in VALUES
    }
    return write_via(tmp_path / "via.csv", COUNTRY, TOPIC, actions)


def evaluate(server: FakeServer, via: Path, out: Path, *extra: str) -> None:
    args = evaluate_run.evaluate_args(
        server.base_url,
        via,
        out,
        country=COUNTRY,
        topic=TOPIC,
        values=VALUES,
        stated_variants="0",
        extra=["--variants", "0", *extra],
    )
    result = CliRunner().invoke(main_app, args)
    assert result.exit_code == 0, (result.output, result.exception)


def test_a_second_out_sends_zero_requests(
    server: FakeServer,
    via_csv: Path,
    tmp_path: Path,
    private_cache_dir: Path,
    dummy_openai_key: str,
) -> None:
    evaluate(server, via_csv, tmp_path / "first")
    sent = server.stats.chat
    assert sent == N_STATED + N_ACTION
    evaluate(server, via_csv, tmp_path / "second")
    assert server.stats.chat == sent, "the second run directory paid for answers again"
    assert read_summary(tmp_path / "second")["usage"]["requests_cached"] == sent
    assert not (tmp_path / "second" / "cache.sqlite").exists()
    assert (private_cache_dir / "cache.sqlite").is_file()


def test_a_dry_run_creates_no_cache_file(
    server: FakeServer,
    via_csv: Path,
    tmp_path: Path,
    private_cache_dir: Path,
    dummy_openai_key: str,
) -> None:
    out = tmp_path / "dry"
    evaluate(server, via_csv, out, "--dry-run")
    assert server.stats.chat == 0
    assert not (out / "cache.sqlite").exists()
    assert list(private_cache_dir.iterdir()) == []


def test_export_of_a_run_holds_only_its_answers(
    server: FakeServer, via_csv: Path, tmp_path: Path, dummy_openai_key: str
) -> None:
    evaluate(server, via_csv, tmp_path / "run")
    with Store(tmp_path / "unrelated.sqlite") as store:
        store.write_rows([row("z", "openai:other", "unrelated")])
    exported = tmp_path / "run.jsonl"
    output = cache("export", str(exported), "--run", str(tmp_path / "run"))
    assert f"wrote {N_STATED + N_ACTION} answers" in output
    records = [json.loads(line) for line in exported.read_text().splitlines()[1:]]
    assert {r["model"] for r in records} == {"openai:fake"}
    ledger = json.loads((tmp_path / "run" / "requests.json").read_text())
    assert sorted(r["key"] for r in records) == sorted(ledger["keys"])

    # Into an empty store: a rerun of the same run from the imported answers sends nothing.
    fresh = tmp_path / "fresh.sqlite"
    assert f"{N_STATED + N_ACTION} added" in cache("import", str(exported), "--store", str(fresh))
    before = server.stats.chat
    evaluate(server, via_csv, tmp_path / "again", "--store", str(fresh))
    assert server.stats.chat == before
