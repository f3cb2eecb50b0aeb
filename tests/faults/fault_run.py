"""The fault suite's scenario and how its runs are started and read.

The scenario is one country x one topic x three values, every prompt variant of both tasks:
8 Task 1 requests and 3 pairs x 8 variants = 24 Task 2 requests. Its runs are compared with a
baseline (see conftest.py): an uninterrupted `valuelens evaluate` against the plain fake
server, without faults. Every run of the suite must end with the same numbers, however many
faults or kills it went through.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from support import evaluate_run
from valuelens.cli import app

COUNTRY = "United States"
TOPIC = "Environment"
VALUES = ("Wealth", "Honest", "Freedom")
N_VARIANTS = 8
N_STATED = N_VARIANTS
N_ACTION = len(VALUES) * N_VARIANTS
N_REQUESTS = N_STATED + N_ACTION
DUMMY_KEY = "sk-valuelens-faults-dummy-key"


# Fault scripts carried in the actions' text: every Task 2 prompt shows both actions of a pair,
# and the chaos server follows the first script it finds, so the prompts whose Option 1 is the
# positive action walk through the positive script, the others through the negative one.
# A plain `FakeServer` ignores them: it answers the same prompts without faults (the baseline).
# Wealth's and Honest's scripts have 3 faults (they outlast 3 attempts), Freedom's 2.
SCRIPTS = {
    "Wealth": ("<<chaos:html502,error200,nochoices>>", "<<chaos:truncjson,empty200,invalidjson>>"),
    "Honest": ("<<chaos:reset,jsonhtml,badjson>>", "<<chaos:truncate,drop,503>>"),
    "Freedom": ("<<chaos:hang,429date>>", "<<chaos:502,500>>"),
}
SCRIPTED_KINDS = {k for pair in SCRIPTS.values() for s in pair for k in s[8:-2].split(",")}


def write_via(path: Path) -> Path:
    """A tidy VIA table for the slice, with the fault scripts in the actions' text."""
    actions = {
        value: (
            f"I give a weekend to a project that puts {value.lower()} first. {for_it}",
            f"I skip the meeting about {value.lower()} and do something else. {against_it}",
        )
        for value, (for_it, against_it) in ((v, SCRIPTS[v]) for v in VALUES)
    }
    return evaluate_run.write_via(path, COUNTRY, TOPIC, actions)


def evaluate_args(base_url: str, via: Path, out: Path, *, concurrency: int = 8) -> list[str]:
    """The `valuelens evaluate` arguments of the suite (no report: it is tested elsewhere)."""
    return evaluate_run.evaluate_args(
        base_url, via, out, country=COUNTRY, topic=TOPIC, values=VALUES, concurrency=concurrency
    )


def subprocess_env() -> dict[str, str]:
    """The environment of an `evaluate` child: a dummy key only, a wide terminal."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")}
    return {**env, "OPENAI_API_KEY": DUMMY_KEY, "COLUMNS": "200"}


def evaluate_command(base_url: str, via: Path, out: Path, *, concurrency: int = 8) -> list[str]:
    """`python -m valuelens evaluate ...` for a child process."""
    args = evaluate_args(base_url, via, out, concurrency=concurrency)
    return [sys.executable, "-m", "valuelens", *args]


@dataclass
class InProcessResult:
    """What an in-process `valuelens evaluate` printed and returned."""

    exit_code: int
    output: str
    exception: BaseException | None


def evaluate_in_process(base_url: str, via: Path, out: Path) -> InProcessResult:
    """Run `valuelens evaluate` in this process (no traceback may escape it)."""
    result = CliRunner().invoke(app, evaluate_args(base_url, via, out))
    exception = result.exception
    if isinstance(exception, SystemExit):
        exception = None
    return InProcessResult(result.exit_code, result.output, exception)


def patch_runner(monkeypatch: pytest.MonkeyPatch, **settings: Any) -> None:
    """Make `evaluate` build its runner with `settings` (short timeouts and backoff)."""
    import valuelens.pipeline._session as session_module

    current = getattr(session_module, "Runner")  # noqa: B009  (not re-exported there)
    real = getattr(current, "real_runner", current)

    def make(*args: Any, **kwargs: Any) -> Any:
        return real(*args, **{**kwargs, **settings})

    make.real_runner = real  # type: ignore[attr-defined]
    monkeypatch.setattr(session_module, "Runner", make)


def store_path(out: Path) -> Path:
    """The store the run in `out` used: the one its `requests.json` names, else the shared one.

    A run killed before its session closed has no `requests.json` yet; it used the shared
    store of the test (`VALUELENS_CACHE_DIR`, which the child process inherited).
    """
    ledger = out / "requests.json"
    if ledger.is_file():
        return Path(json.loads(ledger.read_text(encoding="utf-8"))["store"])
    return Path(os.environ["VALUELENS_CACHE_DIR"]) / "cache.sqlite"


def store_rows(out: Path) -> list[tuple[str, int, str | None, str | None]]:
    """(key, ok, response, error) of every row of the run's store, read with plain SQLite."""
    path = store_path(out)
    if not path.exists():
        return []
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    try:
        rows = db.execute("SELECT key, ok, response, error FROM results").fetchall()
    except sqlite3.OperationalError:  # killed before the table was created
        rows = []
    finally:
        db.close()
    return [(str(k), int(ok), resp, err) for k, ok, resp, err in rows]


def answers(out: Path) -> dict[str, str]:
    """The answer text of each finished request, by what was asked (the endpoint left out).

    Store keys include the endpoint, whose port differs between servers; the request's
    messages, schema and settings are what determine the fake server's answer.
    """
    path = store_path(out)
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    try:
        rows = db.execute("SELECT request, response FROM results WHERE ok = 1").fetchall()
    finally:
        db.close()
    found = {}
    for request, response in rows:
        asked = {k: v for k, v in json.loads(request).items() if k != "backend"}
        found[json.dumps(asked, sort_keys=True)] = json.loads(response)["text"]
    assert len(found) == len(rows)
    return found


def response_tables(out: Path) -> dict[str, pd.DataFrame]:
    """The two response tables, in a stable order, without columns that vary per run."""
    tables = {}
    for name, keys in (("stated", ["value", "variant"]), ("action", ["value", "variant"])):
        table = pd.read_parquet(out / f"responses_{name}.parquet")
        tables[name] = table.sort_values(keys).reset_index(drop=True)
    return tables


def leftover_temp_files(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if ".tmp" in p.name)


@dataclass(frozen=True)
class Baseline:
    """The uninterrupted, fault-free run every other run is compared with."""

    via: Path
    out: Path
    summary: dict[str, Any]
    answers: dict[str, str]
    tables: dict[str, pd.DataFrame]


def assert_same_tables(out: Path, baseline: Baseline) -> None:
    """Both response tables of the run in `out` equal the baseline's, row for row."""
    tables = response_tables(out)
    for name, expected in baseline.tables.items():
        pd.testing.assert_frame_equal(tables[name], expected)
