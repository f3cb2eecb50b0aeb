"""The SQLite store of finished and failed requests (WAL, JSON columns, never pickle)."""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, TextIO

from pydantic import BaseModel, JsonValue, ValidationError

from valuelens._errors import ValuelensError
from valuelens._rundir import reason, write_atomic
from valuelens.models import Response, TokenLogprob, Usage
from valuelens.models._base import JsonObject

SCHEMA_VERSION = 1
_LOOKUP_CHUNK = 500
_BUSY_TIMEOUT_MS = 30_000

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
    request: JsonObject
    metadata: JsonObject | None
    response: JsonObject | None
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


def response_from_json(text: str, *, raw: bool = True) -> Response:
    """Rebuild a response written by `response_to_json` (without its raw payload if not `raw`)."""
    document = json.loads(text)
    logprobs = document["logprobs"]
    return Response(
        text=document["text"],
        logprobs=None if logprobs is None else tuple(TokenLogprob(*item) for item in logprobs),
        usage=Usage(*document["usage"]),
        latency_s=document["latency_s"],
        finish_reason=document["finish_reason"],
        raw=document["raw"] if raw else None,
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
        """Open the store at `path`; a missing file is created with its first result.

        Until something is written, a new store is only a promise: lookups find nothing and
        no file (or folder) exists, so a dry run leaves no trace. Whether the file could be
        created is checked here, before anything is sent.

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
        self._closed = False
        self._used: dict[str, None] = {}
        self.read_only = bool(read_only)
        self._db: sqlite3.Connection | None = None
        if read_only:
            self._db = self._open_read_only()
        elif self.path.exists():
            self._db = self._open_existing(required=read_only is False)
        else:
            self._check_creatable()

    def _open_existing(self, *, required: bool) -> sqlite3.Connection:
        """Open an existing file for writing, or (unless `required`) for reading."""
        try:
            return self._open_for_writing()
        except _CannotWrite as error:
            if required or not self.path.is_file():
                raise self._cannot_write(error) from None
            self.read_only = True
            return self._open_read_only()

    def _cannot_write(self, error: _CannotWrite) -> ValuelensError:
        return ValuelensError(f"cannot create or write the store {self.path}: {error}")

    def _check_creatable(self) -> None:
        """Raise unless the file could be created: its nearest existing folder is writable."""
        folder = self.path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir():
            raise self._cannot_write(_CannotWrite(f"{folder} is not a folder"))
        if not os.access(folder, os.W_OK | os.X_OK):
            raise self._cannot_write(_CannotWrite(_why_not_writable(folder, None)))

    def _connection(self, *, create: bool = False) -> sqlite3.Connection | None:
        """The open database; None while a new store has nothing (call with the lock held).

        A store that did not exist when opened is opened once another process has created
        it, or (with `create`) created now.
        """
        if self._closed:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        if self._db is None and (create or self.path.is_file()):
            self._db = self._open_existing(required=create)
        return self._db

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
        # First, so that several processes opening the shared store at once wait for each
        # other's locks instead of failing with "database is locked".
        db.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        self._check_version(db)
        db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit survives the process being killed (not a power cut), and
        # commits do not wait for fsync.
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(_CREATE)
        # Always written: it also proves the file takes writes (a read-only one fails here).
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

    def lookup(self, keys: Iterable[str], *, raw: bool = True) -> dict[str, Response]:
        """The finished responses among `keys` (failed or unknown keys are absent).

        Every key asked for is remembered (see `used_keys`): these are the requests of the
        run that opened the store.

        Args:
            keys: the store keys.
            raw: keep each response's raw payload (`Response.raw`); False leaves it out.
        """
        wanted = list(keys)
        self._used.update(dict.fromkeys(wanted))
        found: dict[str, Response] = {}
        for key, text in self._select("key, response", wanted):
            found[key] = response_from_json(text, raw=raw)
        return found

    def used_keys(self) -> list[str]:
        """The keys `lookup` or `finished` was asked for since the store was opened, first use first.

        These are the requests of the run that opened the store (and of its estimates).
        """
        return list(self._used)

    def finished(self, keys: Iterable[str]) -> set[str]:
        """Which of `keys` have a finished response (cheaper than `lookup`; also remembered)."""
        wanted = list(keys)
        self._used.update(dict.fromkeys(wanted))
        return {row[0] for row in self._select("key", wanted)}

    def get(self, key: str) -> Response | None:
        """The finished response for `key`, if any."""
        return self.lookup([key]).get(key)

    def _select(self, columns: str, keys: Iterable[str]) -> Iterator[tuple[str, str]]:
        wanted = list(keys)
        for start in range(0, len(wanted), _LOOKUP_CHUNK):
            chunk = wanted[start : start + _LOOKUP_CHUNK]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT {columns} FROM results WHERE ok = 1 AND key IN ({marks})"
            with self._lock:
                db = self._connection()
                rows = [] if db is None else db.execute(query, chunk).fetchall()
            yield from rows

    def write_rows(self, rows: list[Row]) -> None:
        """Insert or update result rows in one transaction (the runner's write path).

        The first rows written to a new store create its file.

        Raises:
            ValuelensError: when the store was opened read-only.
        """
        if self.read_only:
            raise ValuelensError(
                f"the store {self.path} is read-only here; new results cannot be recorded "
                "(copy the run to a writable folder to finish it)"
            )
        if not rows:
            return
        with self._lock:
            db = self._connection(create=True)
            assert db is not None  # created above
            _in_transaction(db, lambda: db.executemany(_UPSERT, rows))

    def records(
        self, *, ok: bool | None = None, keys: Iterable[str] | None = None
    ) -> Iterator[ResultRecord]:
        """Every stored result, oldest first.

        Args:
            ok: only successes (True) or failures (False); None: both.
            keys: only these keys; None: every key.
        """
        if keys is not None:
            wanted = list(dict.fromkeys(keys))
            for start in range(0, len(wanted), _LOOKUP_CHUNK):
                chunk = wanted[start : start + _LOOKUP_CHUNK]
                marks = ",".join("?" * len(chunk))
                yield from self._records(f"key IN ({marks})", tuple(chunk), ok)
            return
        yield from self._records("1 = 1", (), ok)

    def _records(
        self, where: str, arguments: tuple[str, ...], ok: bool | None
    ) -> Iterator[ResultRecord]:
        query = f"SELECT {_COLUMNS} FROM results WHERE {where}"
        if ok is not None:
            query += f" AND ok = {int(ok)}"
        with self._lock:
            db = self._connection()
            if db is None:
                return
            cursor = db.execute(query + " ORDER BY finished_at, rowid", arguments)
        while True:
            with self._lock:
                rows = cursor.fetchmany(_LOOKUP_CHUNK)
            if not rows:
                return
            yield from (_record(row) for row in rows)

    def counts(self) -> tuple[int, int]:
        """(finished, failed) numbers of stored requests."""
        with self._lock:
            db = self._connection()
            if db is None:
                return 0, 0
            row = db.execute(
                "SELECT COALESCE(SUM(ok), 0), COUNT(*) - COALESCE(SUM(ok), 0) FROM results"
            ).fetchone()
        return int(row[0]), int(row[1])

    def by_model(self) -> list[ModelCount]:
        """How many answers and failures the store holds per model and endpoint."""
        query = """
            SELECT model, COALESCE(json_extract(request, '$.backend.endpoint'), ''),
                   COALESCE(SUM(ok), 0), COUNT(*) - COALESCE(SUM(ok), 0)
            FROM results GROUP BY 1, 2 ORDER BY 1, 2
        """
        with self._lock:
            db = self._connection()
            rows = [] if db is None else db.execute(query).fetchall()
        return [
            ModelCount(model, endpoint or None, ok, failed) for model, endpoint, ok, failed in rows
        ]

    def delete(self, *, model: str | None = None) -> int:
        """Remove every result, or those of `model`; returns how many were removed.

        Args:
            model: `kind:name` as `by_model` lists it (`openai:gpt-4o-mini`), or the name
                alone (`gpt-4o-mini`, any kind); None removes everything.
        """
        self._refuse_if_read_only("nothing can be removed")
        where, arguments = "1 = 1", tuple[str, ...]()
        if model is not None:
            # the whole `kind:name`, or the name after the kind
            where = "model = ? OR substr(model, instr(model, ':') + 1) = ?"
            arguments = (model, model)
        with self._lock:
            db = self._connection()
            if db is None:
                return 0
            cursor = _in_transaction(
                db, lambda: db.execute(f"DELETE FROM results WHERE {where}", arguments)
            )
        return int(cursor.rowcount)

    def merge(self, records: Iterable[ResultRecord]) -> MergeCounts:
        """Add `records` (e.g. another store's export); never replace a different answer.

        A record whose key is not stored is added; one whose answer is already stored is
        counted as unchanged; one that would replace a different answer is kept out and
        counted as a conflict. A stored failure is replaced by an imported success.
        """
        self._refuse_if_read_only("nothing can be imported")
        counts = MergeCounts()
        for chunk in _chunks(records, _LOOKUP_CHUNK):
            stored = {r.key: r for r in self.records(keys=[r.key for r in chunk])}
            rows = [
                _row(record) for record in chunk if counts.count(record, stored.get(record.key))
            ]
            self.write_rows(rows)
        return counts

    def _refuse_if_read_only(self, what: str) -> None:
        if self.read_only:
            raise ValuelensError(f"the store {self.path} is read-only here; {what}")

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._closed = True
            if self._db is not None:
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


@dataclass(frozen=True)
class ModelCount:
    """The stored results of one model at one endpoint (see `Store.by_model`)."""

    model: str
    endpoint: str | None
    answers: int
    failures: int


@dataclass
class MergeCounts:
    """What `Store.merge` did with each imported record."""

    added: int = 0
    unchanged: int = 0
    replaced_failures: int = 0
    conflicts: int = 0
    skipped_failures: int = 0

    def count(self, record: ResultRecord, stored: ResultRecord | None) -> bool:
        """Count `record` against the `stored` one; True when it should be written."""
        if not record.ok:
            write = stored is None
            self.skipped_failures += not write
            self.added += write
            return write
        if stored is None or not stored.ok:
            self.replaced_failures += stored is not None
            self.added += stored is None
            return True
        if _same_answer(record, stored):
            self.unchanged += 1
        else:
            self.conflicts += 1
        return False


def _same_answer(one: ResultRecord, other: ResultRecord) -> bool:
    """The same text and token probabilities (timings and raw payloads may differ)."""
    first, second = one.response or {}, other.response or {}
    return all(first.get(name) == second.get(name) for name in ("text", "logprobs"))


def _in_transaction(db: sqlite3.Connection, work: Callable[[], sqlite3.Cursor]) -> sqlite3.Cursor:
    # IMMEDIATE takes the write lock up front (waiting up to the busy timeout), so two
    # processes writing the shared store never deadlock on a lock upgrade.
    db.execute("BEGIN IMMEDIATE")
    try:
        cursor = work()
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return cursor


def _chunks(records: Iterable[ResultRecord], size: int) -> Iterator[list[ResultRecord]]:
    chunk: list[ResultRecord] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _row(record: ResultRecord) -> Row:
    def dumped(value: JsonValue) -> str | None:
        return None if value is None else json.dumps(value, ensure_ascii=False)

    return (
        record.key,
        int(record.ok),
        record.model,
        json.dumps(record.request, ensure_ascii=False, sort_keys=True, separators=(",", ":")),
        dumped(record.metadata),
        dumped(record.response),
        record.error,
        record.attempts,
        record.prompt_tokens,
        record.completion_tokens,
        record.latency_s,
        record.started_at,
        record.finished_at,
    )


class _CannotWrite(Exception):
    """The store's folder or file refuses writes (the message says why)."""


def _is_write_refusal(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "readonly" in text or "read-only" in text or "unable to open" in text


def _why_not_writable(folder: Path, error: sqlite3.OperationalError | None) -> str:
    """`read-only file system` or `permission denied` when the folder says so, else SQLite's."""
    if not os.access(folder, os.W_OK) or error is None:
        read_only_fs = os.statvfs(folder).f_flag & os.ST_RDONLY
        return "read-only file system" if read_only_fs else "permission denied"
    return str(error)


def _record(row: Row) -> ResultRecord:
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


EXPORT_FORMAT = "valuelens-cache-export"
"""The first line of an export file names its format (`{"format": ..., "version": 1}`)."""
_EXPORT_VERSION = 1


def export_records(records: Iterable[ResultRecord], path: str | os.PathLike[str]) -> int:
    """Write `records` as JSON Lines (gzip-compressed when `path` ends in `.gz`).

    The first line names the format; each further line is one `ResultRecord`. The file is
    written atomically.

    Returns:
        The number of records written.
    """
    written = 0

    def write(temporary: Path) -> None:
        nonlocal written
        with _open_text(temporary, "w", gzipped=str(path).endswith(".gz")) as stream:
            header = {"format": EXPORT_FORMAT, "version": _EXPORT_VERSION}
            stream.write(json.dumps(header) + "\n")
            for record in records:
                stream.write(record.model_dump_json() + "\n")
                written += 1

    write_atomic(path, write)
    return written


def read_export(path: str | os.PathLike[str]) -> Iterator[ResultRecord]:
    """The records of a file `export_records` wrote.

    Raises:
        ValuelensError: naming the file and line, when it is not such a file.
    """
    source = Path(path)
    try:
        with _open_text(source, "r", gzipped=source.suffix == ".gz") as stream:
            _check_export_header(source, stream.readline())
            for number, line in enumerate(stream, start=2):
                if line.strip():
                    yield _export_line(source, number, line)
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise ValuelensError(f"cannot read {source}: {error}") from None


def _check_export_header(source: Path, line: str) -> None:
    try:
        header = json.loads(line)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
        raise ValuelensError(
            f"{source}, line 1: not a valuelens cache export (written by `valuelens cache "
            "export`, whose first line names the format)"
        )
    if header.get("version", 0) > _EXPORT_VERSION:
        raise ValuelensError(f"{source} was written by a newer valuelens; upgrade it")


def _export_line(source: Path, number: int, line: str) -> ResultRecord:
    try:
        return ResultRecord.model_validate_json(line)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "the line"
        raise ValuelensError(
            f"{source}, line {number}: {where}: {problem['msg']} (each line is one stored "
            "result: key, ok, model, request, response, ...)"
        ) from None


def _open_text(path: Path, mode: Literal["r", "w"], *, gzipped: bool) -> TextIO:
    if not gzipped:
        return path.open(mode, encoding="utf-8")
    if mode == "r":
        return gzip.open(path, "rt", encoding="utf-8")
    return gzip.open(path, "wt", encoding="utf-8")
