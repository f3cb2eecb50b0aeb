"""The SQLite store of finished and failed requests (WAL, JSON columns, never pickle)."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import BaseModel

from valuelens._errors import ValuelensError
from valuelens._rundir import reason
from valuelens.models import Response, TokenLogprob, Usage

SCHEMA_VERSION = 1
_LOOKUP_CHUNK = 500

_CREATE = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    ok INTEGER NOT NULL,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    metadata TEXT,
    response TEXT,
    error TEXT,
    attempts INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    latency_s REAL,
    started_at REAL NOT NULL,
    finished_at REAL NOT NULL
)
"""
_COLUMNS = (
    "key, ok, model, request, metadata, response, error, attempts, "
    "prompt_tokens, completion_tokens, latency_s, started_at, finished_at"
)
# A failure never replaces a success (e.g. a second process racing on the same key).
_UPSERT = f"""
INSERT INTO results ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(key) DO UPDATE SET
    ok = excluded.ok, model = excluded.model, request = excluded.request,
    metadata = excluded.metadata, response = excluded.response, error = excluded.error,
    attempts = excluded.attempts, prompt_tokens = excluded.prompt_tokens,
    completion_tokens = excluded.completion_tokens, latency_s = excluded.latency_s,
    started_at = excluded.started_at, finished_at = excluded.finished_at
WHERE excluded.ok >= results.ok
"""

Row = tuple[
    str,
    int,
    str,
    str,
    str | None,
    str | None,
    str | None,
    int,
    int,
    int,
    float | None,
    float,
    float,
]


class ResultRecord(BaseModel):
    """One stored request and its outcome, as exported by `Store.records()`."""

    key: str
    ok: bool
    model: str
    request: dict[str, Any]
    metadata: dict[str, Any] | None
    response: dict[str, Any] | None
    error: str | None
    attempts: int
    prompt_tokens: int
    completion_tokens: int
    latency_s: float | None
    started_at: float
    finished_at: float


def response_to_json(response: Response) -> str:
    """Serialise a response for the store (compact JSON)."""
    logprobs = None
    if response.logprobs is not None:
        logprobs = [[t.token, t.logprob, t.top] for t in response.logprobs]
    document = {
        "text": response.text,
        "finish_reason": response.finish_reason,
        "latency_s": response.latency_s,
        "usage": [response.usage.prompt_tokens, response.usage.completion_tokens],
        "logprobs": logprobs,
        "raw": response.raw,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str)


def response_from_json(text: str) -> Response:
    """Rebuild a response written by `response_to_json`."""
    document = json.loads(text)
    logprobs = document["logprobs"]
    return Response(
        text=document["text"],
        logprobs=None if logprobs is None else tuple(TokenLogprob(*item) for item in logprobs),
        usage=Usage(*document["usage"]),
        latency_s=document["latency_s"],
        finish_reason=document["finish_reason"],
        raw=document["raw"],
    )


class Store:
    """Results keyed by request hash, in one SQLite file.

    Each result is committed as it arrives, in WAL mode: a crash or SIGKILL loses nothing that
    was committed, and readers never block the writer. Failures are stored too (with their
    error and attempt count) and are retried by the next run; a failure never overwrites a
    success.

    Example:
        >>> with Store("runs/cache.sqlite") as store:
        ...     finished = store.lookup(keys)
    """

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool | None = None) -> None:
        """Open (or create, with its parent folders) the store at `path`.

        Args:
            path: the SQLite file.
            read_only: True opens an existing store for reading only; False requires write
                access; None (the default) opens it for writing when it can and falls back to
                reading an existing store that sits in a read-only folder or file, so a
                finished run there can still be scored (`read_only` then tells which it got).

        Raises:
            ValuelensError: if the file is not a valuelens store or is from a newer version,
                or cannot be opened as asked (e.g. a missing store in a read-only folder).
        """
        self.path = Path(path)
        self._lock = threading.Lock()
        self.read_only = bool(read_only)
        if read_only:
            self._db = self._open_read_only()
            return
        try:
            self._db = self._open_for_writing()
        except _CannotWrite as error:
            if read_only is False or not self.path.is_file():
                raise ValuelensError(
                    f"cannot create or write the store {self.path}: {error}"
                ) from None
            self.read_only = True
            self._db = self._open_read_only()

    def _open_for_writing(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _CannotWrite(reason(exc)) from None
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.OperationalError as error:
            raise _CannotWrite(_why_not_writable(self.path.parent, error)) from None
        try:
            return self._checked(db, self._setup)
        except sqlite3.OperationalError as error:
            if _is_write_refusal(error):
                raise _CannotWrite(_why_not_writable(self.path.parent, error)) from None
            raise ValuelensError(f"cannot use {self.path} as a store: {error}") from None

    def _setup(self, db: sqlite3.Connection) -> None:
        self._check_version(db)
        db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit survives the process being killed (not a power cut), and
        # commits do not wait for fsync.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=10000")
        db.execute(_CREATE)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _check_version(self, db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ValuelensError(f"{self.path} was written by a newer valuelens; upgrade it")

    def _open_read_only(self) -> sqlite3.Connection:
        # `mode=ro` reads the write-ahead log too; `immutable=1` is the fallback when even
        # SQLite's shared-memory file cannot be created, safe only while no log is pending.
        if not self.path.is_file():
            raise ValuelensError(f"no store at {self.path} to read")
        uri = self.path.resolve().as_uri()
        try:
            db = self._connect_checked(f"{uri}?mode=ro")
        except sqlite3.OperationalError as error:
            wal = self.path.with_name(self.path.name + "-wal")
            if wal.is_file() and wal.stat().st_size > 0:
                raise ValuelensError(
                    f"cannot read the store {self.path} here ({error}): its write-ahead log "
                    "was not merged and the folder is read-only; copy the run to a writable "
                    "folder"
                ) from None
            db = self._connect_checked(f"{uri}?immutable=1")
        return db

    def _connect_checked(self, uri: str) -> sqlite3.Connection:
        db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        return self._checked(db, self._check_readable)

    def _check_readable(self, db: sqlite3.Connection) -> None:
        self._check_version(db)
        db.execute("SELECT 1 FROM results LIMIT 1").fetchall()

    def _checked(
        self, db: sqlite3.Connection, check: Callable[[sqlite3.Connection], None]
    ) -> sqlite3.Connection:
        """Run `check` on a new connection; close it if that fails.

        An `sqlite3.OperationalError` propagates (the caller decides what it means); any other
        database error becomes a `ValuelensError` naming the store.
        """
        try:
            check(db)
        except sqlite3.OperationalError:
            db.close()
            raise
        except sqlite3.DatabaseError as error:
            db.close()
            raise ValuelensError(f"cannot use {self.path} as a store: {error}") from None
        except BaseException:
            db.close()
            raise
        return db

    def lookup(self, keys: Iterable[str]) -> dict[str, Response]:
        """The finished responses among `keys` (failed or unknown keys are absent)."""
        found: dict[str, Response] = {}
        for key, text in self._select("key, response", keys):
            found[key] = response_from_json(text)
        return found

    def finished(self, keys: Iterable[str]) -> set[str]:
        """Which of `keys` have a finished response (cheaper than `lookup`)."""
        return {row[0] for row in self._select("key", keys)}

    def get(self, key: str) -> Response | None:
        """The finished response for `key`, if any."""
        return self.lookup([key]).get(key)

    def _select(self, columns: str, keys: Iterable[str]) -> Iterator[tuple[Any, ...]]:
        wanted = list(keys)
        for start in range(0, len(wanted), _LOOKUP_CHUNK):
            chunk = wanted[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT {columns} FROM results WHERE ok = 1 AND key IN ({marks})"
            with self._lock:
                rows = self._db.execute(query, chunk).fetchall()
            yield from rows

    def write_rows(self, rows: list[Row]) -> None:
        """Insert or update result rows in one transaction (the runner's write path).

        Raises:
            ValuelensError: when the store was opened read-only.
        """
        if self.read_only:
            raise ValuelensError(
                f"the store {self.path} is read-only here; new results cannot be recorded "
                "(copy the run to a writable folder to finish it)"
            )
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(_UPSERT, rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def records(self, *, ok: bool | None = None) -> Iterator[ResultRecord]:
        """Every stored result, oldest first; only successes or failures when `ok` is given."""
        query = f"SELECT {_COLUMNS} FROM results"
        arguments: tuple[int, ...] = ()
        if ok is not None:
            query += " WHERE ok = ?"
            arguments = (int(ok),)
        with self._lock:
            cursor = self._db.execute(query + " ORDER BY finished_at, rowid", arguments)
        while True:
            with self._lock:
                rows = cursor.fetchmany(_LOOKUP_CHUNK)
            if not rows:
                return
            yield from (_record(row) for row in rows)

    def counts(self) -> tuple[int, int]:
        """(finished, failed) numbers of stored requests."""
        with self._lock:
            row = self._db.execute(
                "SELECT COALESCE(SUM(ok), 0), COUNT(*) - COALESCE(SUM(ok), 0) FROM results"
            ).fetchone()
        return int(row[0]), int(row[1])

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class _CannotWrite(Exception):
    """The store's folder or file refuses writes (the message says why)."""


def _is_write_refusal(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "readonly" in text or "read-only" in text or "unable to open" in text


def _why_not_writable(folder: Path, error: sqlite3.OperationalError) -> str:
    """`read-only file system` or `permission denied` when the folder says so, else SQLite's."""
    if not os.access(folder, os.W_OK):
        read_only_fs = os.statvfs(folder).f_flag & os.ST_RDONLY
        return "read-only file system" if read_only_fs else "permission denied"
    return str(error)


def _record(row: tuple[Any, ...]) -> ResultRecord:
    return ResultRecord(
        key=row[0],
        ok=bool(row[1]),
        model=row[2],
        request=json.loads(row[3]),
        metadata=json.loads(row[4]) if row[4] else None,
        response=json.loads(row[5]) if row[5] else None,
        error=row[6],
        attempts=row[7],
        prompt_tokens=row[8],
        completion_tokens=row[9],
        latency_s=row[10],
        started_at=row[11],
        finished_at=row[12],
    )
