"""Batch submission: the requests a run still needs go to the provider's batch API at half price.

`BatchRunner` is a `Runner` (pipelines use it the same way: `run`, `stream`, `estimate`,
`stats`, `totals`) that answers finished requests from the store and sends the rest as
OpenAI Batch API or Anthropic Message Batches jobs instead of one by one. Every step can be
interrupted and resumed:

1. the lines of a batch are built from the same requests, keyed by the store key (`custom_id`);
2. before submitting, the batch's requests are recorded in the journal (two tables in the
   store's SQLite file, `batch_jobs` and `batch_requests`), and once the provider has accepted
   it, its id; a rerun whose missing requests are in a submitted batch polls that batch
   instead of submitting them again;
3. the batch is polled with a growing interval, with a progress line on stderr;
4. its results are written to the store as the runner writes answers (so later runs, batch or
   not, find them), failed and expired lines as failures that the next run submits again; then
   the batch is marked collected.

A submission interrupted before the provider answered (the process died, or the answer was
lost on the way) cannot be matched to a batch later (the APIs have no idempotency key); the next
run warns and submits those requests again. A submission still in progress in another live
process on the same store is left alone. A batch the provider does not know (HTTP 404, e.g. other
credentials) stops the run and stays recorded.

Example:
    >>> runner = BatchRunner(load_backend("openai:gpt-4o-mini"), Store("cache.sqlite"))
    >>> print(runner.estimate(requests).summary())  # the batch price: half the standard one
    >>> results = runner.run_sync(requests)  # submits, waits, collects; rerun to resume
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from valuelens._errors import ValuelensError
from valuelens.models import Backend, BackendError, Request, Response
from valuelens.runner._keys import canonical_request, request_key
from valuelens.runner._prices import Estimate, PriceTable, build_estimate
from valuelens.runner._progress import write_line
from valuelens.runner._runner import Runner, RunResult, RunStats
from valuelens.runner._store import Row, Store, response_to_json

if TYPE_CHECKING:  # the provider modules load with the first batch
    from valuelens.models._batch_openai import BatchProvider, BatchStatus, LineResult

BATCH_DISCOUNT = 0.5
"""Batch prices as a share of the standard ones (OpenAI and Anthropic both halve them)."""
_CHUNK = 500
_BUSY_TIMEOUT_MS = 30_000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS batch_jobs (
    job INTEGER PRIMARY KEY,
    provider TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    batch_id TEXT,
    state TEXT NOT NULL,
    n_requests INTEGER NOT NULL,
    created_at REAL NOT NULL,
    submitted_at REAL,
    finished_at REAL,
    note TEXT,
    holder TEXT
);
CREATE TABLE IF NOT EXISTS batch_requests (
    job INTEGER NOT NULL,
    key TEXT NOT NULL,
    request TEXT NOT NULL,
    metadata TEXT,
    PRIMARY KEY (job, key)
);
CREATE INDEX IF NOT EXISTS batch_requests_key ON batch_requests (key);
"""


@dataclass(frozen=True)
class BatchJob:
    """One batch in the journal.

    Attributes:
        job: its number in the journal.
        provider: `openai` or `anthropic`.
        endpoint: the API root it was submitted to.
        model: `kind:model` of the backend.
        batch_id: the provider's id; None while (or if) the submission got no answer.
        state: `submitting`, `submitted` (waiting for results), `collected` or `abandoned`.
        n_requests: lines in the batch.
        created_at: when it was recorded (Unix time).
        submitted_at: when the provider accepted it.
        note: why it was abandoned, if it was.
    """

    job: int
    provider: str
    endpoint: str
    model: str
    batch_id: str | None
    state: str
    n_requests: int
    created_at: float
    submitted_at: float | None
    note: str | None


_JOB_COLUMNS = (
    "job, provider, endpoint, model, batch_id, state, n_requests, created_at, submitted_at, note"
)
_FOREIGN_HOLDER_S = 3600.0
"""A submission by a process on another host is taken as interrupted after this long."""
_IN_FLIGHT: set[tuple[str, int]] = set()
"""(store file, job) of the submissions this process is making right now."""


def _this_holder() -> str:
    """Who is submitting: this process (host, pid, when), kept on a `submitting` job."""
    return json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "at": time.time()})


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's) or cannot tell: keep it
    return True


def _holder_gone(holder: str | None, created_at: float, path: Path, job: int) -> bool:
    """Whether the process that began submitting `job` is gone (so its submission is over)."""
    try:
        who: dict[str, Any] = json.loads(holder) if holder else {}
        host, pid = str(who["host"]), int(who["pid"])
    except (ValueError, TypeError, KeyError):
        return True  # recorded before holders were kept
    if host != socket.gethostname():
        return time.time() - created_at > _FOREIGN_HOLDER_S
    if pid == os.getpid():
        return (str(path), job) not in _IN_FLIGHT
    return not _pid_alive(pid)


class BatchJournal:
    """The batches submitted for a store, kept in two tables of the store's own SQLite file.

    Each call opens the file for the call's duration; a journal over a file that does not
    exist yet (a dry run over a new store) lists nothing and creates nothing.
    """

    def __init__(self, path: str | PathLike[str], *, read_only: bool = False) -> None:
        """Use the journal in the store file at `path`."""
        self.path = Path(path)
        self._read_only = read_only

    def _connect(self, *, write: bool) -> sqlite3.Connection | None:
        if not write and not self.path.is_file():
            return None
        if write and self._read_only:
            raise ValuelensError(
                f"the store {self.path} is read-only here; nothing can be submitted"
            )
        if write:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None)
        else:
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        db.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        if write:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            _add_holder_column(db)
        return db

    def _read(self, query: str, arguments: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            db = self._connect(write=False)
            if db is None:
                return []
            try:
                return db.execute(query, arguments).fetchall()
            finally:
                db.close()
        except sqlite3.OperationalError as error:
            # No table: no batch was ever submitted for this store. A store that cannot even
            # be opened read-only here has no batch this process could collect either.
            if "no such table" in str(error) or self._read_only:
                return []
            raise ValuelensError(f"cannot read the batch journal in {self.path}: {error}") from None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed when the block ends without an error."""
        db = self._connect(write=True)
        assert db is not None
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def jobs(self, *, state: str | None = None) -> list[BatchJob]:
        """Every batch in the journal (or those in `state`), oldest first."""
        where, arguments = ("WHERE state = ?", [state]) if state else ("", [])
        rows = self._read(f"SELECT {_JOB_COLUMNS} FROM batch_jobs {where} ORDER BY job", arguments)
        return [BatchJob(*row) for row in rows]

    def covering(self, keys: Sequence[str], owner: Mapping[str, str]) -> dict[str, BatchJob]:
        """Which of `keys` are in a submitted batch of `owner` (provider, endpoint, model)."""
        jobs = {
            job.job: job
            for job in self.jobs(state="submitted")
            if (job.provider, job.endpoint, job.model) == _owner(owner)
        }
        found: dict[str, BatchJob] = {}
        for chunk in _chunked(keys) if jobs else ():
            marks = ",".join("?" * len(chunk))
            query = f"SELECT key, job FROM batch_requests WHERE key IN ({marks})"
            for key, job in self._read(query, chunk):
                if job in jobs:
                    found.setdefault(key, jobs[job])
        return found

    def begin(
        self, owner: Mapping[str, str], entries: Sequence[tuple[str, str, str | None]]
    ) -> int:
        """Record a batch about to be submitted: its (key, request, metadata) entries; its number."""
        provider, endpoint, model = _owner(owner)
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO batch_jobs (provider, endpoint, model, state, n_requests, created_at,"
                " holder) VALUES (?, ?, ?, 'submitting', ?, ?, ?)",
                (provider, endpoint, model, len(entries), time.time(), _this_holder()),
            )
            job = int(cursor.lastrowid or 0)
            db.executemany(
                "INSERT OR REPLACE INTO batch_requests (job, key, request, metadata) "
                "VALUES (?, ?, ?, ?)",
                [(job, *entry) for entry in entries],
            )
        return job

    def submitted(self, job: int, batch_id: str) -> bool:
        """Note that the provider accepted batch `job` as `batch_id`.

        Returns:
            False when the job is no longer `submitting` (another run took it over as
            interrupted and dropped its requests): nothing is changed then.
        """
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE batch_jobs SET batch_id = ?, state = 'submitted', submitted_at = ? "
                "WHERE job = ? AND state = 'submitting'",
                (batch_id, time.time(), job),
            )
            return cursor.rowcount == 1

    def take_interrupted(self, owner: Mapping[str, str]) -> list[BatchJob]:
        """Abandon the `submitting` jobs of `owner` whose submitting process is gone; those jobs.

        A submission still in progress in a live process (this one or another on the same
        store) is left alone; one by a process on another host counts as interrupted after
        an hour.
        """
        taken: list[BatchJob] = []
        with self._transaction() as db:
            rows = db.execute(
                f"SELECT {_JOB_COLUMNS}, holder FROM batch_jobs WHERE state = 'submitting' "
                "AND provider = ? AND endpoint = ? AND model = ? ORDER BY job",
                _owner(owner),
            ).fetchall()
            for *columns, holder in rows:
                job = BatchJob(*columns)
                if _holder_gone(holder, job.created_at, self.path, job.job):
                    taken.append(job)
            for job in taken:
                db.execute(
                    "UPDATE batch_jobs SET state = 'abandoned', note = ?, finished_at = ? "
                    "WHERE job = ?",
                    (_interrupted_note(job), time.time(), job.job),
                )
                db.execute("DELETE FROM batch_requests WHERE job = ?", (job.job,))
        return taken

    def finish(self, job: int, state: str, note: str | None = None) -> None:
        """Close batch `job` as `collected` or `abandoned` (with why); its requests are dropped."""
        with self._transaction() as db:
            db.execute(
                "UPDATE batch_jobs SET state = ?, note = ?, finished_at = ? WHERE job = ?",
                (state, note, time.time(), job),
            )
            db.execute("DELETE FROM batch_requests WHERE job = ?", (job,))

    def keys(self, job: int) -> list[str]:
        """The keys of the requests in batch `job`."""
        return [row[0] for row in self._read("SELECT key FROM batch_requests WHERE job = ?", [job])]

    def requests(self, job: int, keys: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """Those of `keys` that are in batch `job`: key -> (canonical request, metadata JSON)."""
        found: dict[str, tuple[str, str | None]] = {}
        for chunk in _chunked(keys):
            marks = ",".join("?" * len(chunk))
            query = (
                "SELECT key, request, metadata FROM batch_requests "
                f"WHERE job = ? AND key IN ({marks})"
            )
            for key, request, metadata in self._read(query, [job, *chunk]):
                found[key] = (request, metadata)
        return found


def _add_holder_column(db: sqlite3.Connection) -> None:
    """Journals written before submissions recorded their process get the column."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(batch_jobs)")}
    if "holder" in columns:
        return
    try:
        db.execute("ALTER TABLE batch_jobs ADD COLUMN holder TEXT")
    except sqlite3.OperationalError as error:
        if "duplicate column" not in str(error):  # another process added it just now
            raise


def _chunked(keys: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(keys), _CHUNK):
        yield list(keys[start : start + _CHUNK])


def _owner(identity: Mapping[str, str]) -> tuple[str, str, str]:
    return (
        identity.get("kind", "?"),
        identity.get("endpoint", ""),
        f"{identity.get('kind', '?')}:{identity.get('model', '?')}",
    )


@dataclass(frozen=True)
class BatchEstimate(Estimate):
    """What a batch run would submit and cost (a dry run); `cost_usd` is the batch price.

    Attributes:
        standard_cost_usd: the same tokens at the standard (one-by-one) price.
        n_submitted: distinct requests already in a submitted batch, waiting for results
            (not submitted or paid again).
    """

    standard_cost_usd: float | None = None
    n_submitted: int = 0

    def summary(self) -> str:
        """One line for people."""
        cost = "unknown (model not in the price table)"
        if self.cost_usd is not None and self.standard_cost_usd is not None:
            cost = f"at most ${self.cost_usd:,.2f} (batch price; ${self.standard_cost_usd:,.2f} one by one)"
        waiting = f", {self.n_submitted:,} in a submitted batch" if self.n_submitted else ""
        return (
            f"{self.model} (batch): {self.n_requests:,} requests ({self.n_unique:,} distinct, "
            f"{self.n_cached:,} already done{waiting}), {self.n_to_send:,} to submit; "
            f"~{self.prompt_tokens:,} prompt + <= {self.completion_tokens:,} completion tokens; "
            f"cost {cost}"
        )


def batch_provider(backend: Backend) -> BatchProvider:
    """The batch API of `backend`: an OpenAI or Anthropic backend on one endpoint.

    Raises:
        ValuelensError: for any other backend (a local model, a pool of endpoints).
    """
    from valuelens.models._anthropic import AnthropicBackend
    from valuelens.models._openai import OpenAIBackend

    backend, _ = _unwrapped(backend)
    if isinstance(backend, OpenAIBackend):
        from valuelens.models._batch_openai import OpenAIBatches

        return OpenAIBatches(backend)
    if isinstance(backend, AnthropicBackend):
        from valuelens.models._batch_anthropic import AnthropicBatches

        return AnthropicBatches(backend)
    identity = backend.identity
    name = f"{identity.get('kind', '?')}:{identity.get('model', '?')}"
    several = " on several endpoints" if " " in identity.get("endpoint", "") else ""
    raise ValuelensError(
        f"--batch works with openai: and anthropic: models on one endpoint, not {name}{several}"
    )


def _unwrapped(backend: Backend) -> tuple[Backend, Callable[[Request], Request]]:
    """The backend that talks to the provider, and what the wrapper around it does to requests.

    A session with model arguments (`-M`) wraps its backend in an `ArgsBackend`, which adds
    them to each request before the backend builds its body; a batch line gets them the same
    way. The cache keys stay the wrapper's (its identity names the arguments).
    """
    from valuelens.models._args import ArgsBackend

    if isinstance(backend, ArgsBackend):
        return backend.inner, backend.args.apply
    return backend, lambda request: request


@dataclass
class _Plan:
    """The distinct keys a run asks for: the first index of each, and further copies."""

    first: dict[str, int]
    copies: dict[str, list[int]]

    def indices(self, key: str) -> list[int]:
        return [self.first[key], *self.copies.get(key, ())]


class BatchRunner(Runner):
    """A `Runner` that sends the missing requests as provider batches (half price, slower).

    Results come back in the caller's order (`run`) or as each batch is collected (`stream`);
    `stats` and `totals` count as the runner's do, with the cost at the batch price. A run
    that is stopped (Ctrl-C, SIGKILL, a lost connection) leaves its batches recorded: running
    it again polls them instead of submitting anything twice.
    """

    def __init__(
        self,
        backend: Backend,
        store: Store,
        *,
        provider: BatchProvider | None = None,
        poll_interval_s: float = 10.0,
        max_poll_interval_s: float = 120.0,
        max_poll_errors: int = 8,
        max_lines: int | None = None,
        max_bytes: int | None = None,
        progress: bool = True,
        price_table: PriceTable | str | PathLike[str] | Mapping[str, Any] | None = None,
        description: str | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        """Configure a batch runner.

        Args:
            backend: an `OpenAIBackend` or `AnthropicBackend` (one endpoint).
            store: where outcomes are kept, and (in two tables of its file) the batch journal.
            provider: the batch API; by default the backend's (`batch_provider`).
            poll_interval_s: the first wait between status checks; it grows by half each
                check up to `max_poll_interval_s`.
            max_poll_interval_s: the longest wait between checks.
            max_poll_errors: failed status checks in a row (connection errors, 5xx) before
                the run stops; the batch stays recorded for the next run.
            max_lines: lines per batch (at most the provider's limit: OpenAI 50,000,
                Anthropic 100,000).
            max_bytes: bytes per batch (at most the provider's limit: 200 MB, 256 MB).
            progress: print submissions and each status check on stderr.
            price_table: as `Runner`'s; batch costs are `BATCH_DISCOUNT` of its prices.
            description: the label of progress lines (the model by default).
            warn: called with each warning (printed on stderr by default).

        Raises:
            ValuelensError: for a backend without a batch API, or settings that cannot work.
        """
        prices = (
            price_table if isinstance(price_table, PriceTable) else PriceTable.load(price_table)
        )
        super().__init__(backend, store, progress=progress, price_table=prices, warn=warn)
        self._batches = provider or batch_provider(backend)
        self._prepare = _unwrapped(backend)[1]
        self._results = store
        self._who = dict(backend.identity)
        self._owner = {**self._who, "kind": self._batches.name}  # whose batches to resume
        self._model_name = f"{self._who.get('kind', '?')}:{self._who.get('model', '?')}"
        self._label = description or self._model_name
        self._table = prices
        self._journal = BatchJournal(store.path, read_only=store.read_only)
        if poll_interval_s <= 0 or max_poll_interval_s < poll_interval_s:
            raise ValuelensError("poll intervals must be positive and the longest >= the first")
        self._poll_s = poll_interval_s
        self._max_poll_s = max_poll_interval_s
        self._max_poll_errors = max(1, max_poll_errors)
        self._max_lines = min(max_lines or self._batches.max_lines, self._batches.max_lines)
        self._max_bytes = min(max_bytes or self._batches.max_bytes, self._batches.max_bytes)
        self._show = progress
        self._warn_to = warn

    @property
    def journal(self) -> BatchJournal:
        """The batches submitted through this runner's store."""
        return self._journal

    def key(self, request: Request) -> str:
        """The store key of `request` (the same as the one-by-one runner's)."""
        return request_key(request, self._who)

    def batch_cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """Dollars at the batch price; None when the model's price is unknown."""
        cost = self._table.cost(self._who, prompt_tokens, completion_tokens)
        return None if cost is None else cost * BATCH_DISCOUNT

    def estimate(self, requests: Sequence[Request]) -> BatchEstimate:
        """A dry run at the batch price: what would be submitted; nothing is sent or written."""
        unique: dict[str, Request] = {}
        for request in requests:
            unique.setdefault(self.key(request), request)
        finished = self._results.finished(unique)
        missing = [key for key in unique if key not in finished]
        waiting = self._journal.covering(missing, self._owner)
        to_send = [unique[key] for key in missing if key not in waiting]
        standard = build_estimate(
            self._model_name, self._who, len(requests), to_send, len(finished), self._table
        )
        cost = standard.cost_usd
        return BatchEstimate(
            model=self._model_name,
            n_requests=len(requests),
            n_unique=len(unique),
            n_cached=len(finished),
            n_to_send=len(to_send),
            prompt_tokens=standard.prompt_tokens,
            completion_tokens=standard.completion_tokens,
            cost_usd=None if cost is None else cost * BATCH_DISCOUNT,
            standard_cost_usd=cost,
            n_submitted=len(waiting),
        )

    async def stream(self, requests: Sequence[Request]) -> AsyncIterator[tuple[int, RunResult]]:
        """Answer every request, yielding (index in `requests`, result) as results arrive.

        Stored answers come first, in the caller's order; then the results of each batch once
        it has ended and they are committed to the store.

        Raises:
            ValuelensError: when a batch cannot be submitted, the provider refuses the key,
                or its status cannot be read `max_poll_errors` times in a row. Submitted
                batches stay recorded: run again to resume.
        """
        started = time.perf_counter()
        plan = self._plan(requests)
        finished = self._results.finished(plan.first)
        missing = [key for key in plan.first if key not in finished]
        if missing and self._results.read_only:
            raise ValuelensError(
                f"{len(missing):,} of {len(plan.first):,} requests are not in the read-only "
                f"store {self._results.path}; copy the run to a writable folder to finish it"
            )
        self.stats = RunStats(
            n_requests=len(requests), n_unique=len(plan.first), n_cached=len(finished)
        )
        try:
            for item in self._stored(requests, plan, finished):
                yield item
            if missing:
                async for item in self._batched(requests, plan, missing):
                    yield item
        finally:
            self.stats.elapsed_s = time.perf_counter() - started
            self.stats.cost_usd = self.batch_cost(
                self.stats.prompt_tokens, self.stats.completion_tokens
            )
            self.totals += self.stats
            await self._batches.aclose()

    def _plan(self, requests: Sequence[Request]) -> _Plan:
        first: dict[str, int] = {}
        copies: dict[str, list[int]] = {}
        for index, request in enumerate(requests):
            key = self.key(request)
            if first.setdefault(key, index) != index:
                copies.setdefault(key, []).append(index)
        return _Plan(first, copies)

    def _stored(
        self, requests: Sequence[Request], plan: _Plan, finished: set[str]
    ) -> Iterator[tuple[int, RunResult]]:
        keys = [key for key in plan.first if key in finished]
        for start in range(0, len(keys), _CHUNK):
            found = self._results.lookup(keys[start : start + _CHUNK])
            for key in keys[start : start + _CHUNK]:
                response = found.get(key)
                if response is None:
                    raise ValuelensError(
                        f"a stored answer vanished from {self._results.path} during the run; "
                        "rerun to send it again"
                    )
                lean = replace(response, raw=None)
                for index in plan.indices(key):
                    yield index, RunResult(key, requests[index], lean, None, True, 0)

    async def _batched(
        self, requests: Sequence[Request], plan: _Plan, missing: list[str]
    ) -> AsyncIterator[tuple[int, RunResult]]:
        self._abandon_interrupted()
        waiting = self._journal.covering(missing, self._owner)
        jobs = {job.job: job for job in waiting.values()}
        for job in jobs.values():
            self._say(f"resuming batch {job.batch_id} ({job.n_requests:,} requests)")
        new = [key for key in missing if key not in waiting]
        for chunk in self._chunks(requests, plan, new):
            submitted = await self._submit(chunk)
            if submitted is None:  # taken over by another run: this run cannot collect it
                for key, _, _ in chunk:
                    for item in self._deliver(key, None, _TAKEN_OVER, requests, plan):
                        yield item
                continue
            jobs[submitted.job] = submitted
        async for item in self._poll_all(list(jobs.values()), requests, plan):
            yield item

    def _abandon_interrupted(self) -> None:
        for job in self._journal.take_interrupted(self._owner):
            self._warning(_interrupted_note(job))

    def _chunks(
        self, requests: Sequence[Request], plan: _Plan, keys: list[str]
    ) -> Iterator[list[tuple[str, Request, bytes]]]:
        """The new lines in batches within the provider's limits of lines and bytes."""
        chunk: list[tuple[str, Request, bytes]] = []
        size = 0
        for key in keys:
            request = requests[plan.first[key]]
            try:
                line = self._batches.line(key, self._prepare(request))
            except BackendError as error:  # e.g. a model argument the provider cannot take
                raise ValuelensError(str(error)) from None
            if chunk and (len(chunk) >= self._max_lines or size + len(line) + 1 > self._max_bytes):
                yield chunk
                chunk, size = [], 0
            if len(line) + 1 > self._max_bytes:
                raise ValuelensError(
                    f"one request is {len(line):,} bytes, more than a batch takes "
                    f"({self._max_bytes:,}); run it without --batch"
                )
            chunk.append((key, request, line))
            size += len(line) + 1
        if chunk:
            yield chunk

    async def _submit(self, chunk: list[tuple[str, Request, bytes]]) -> BatchJob | None:
        """Record and submit one batch; None if another run took the job over meanwhile."""
        entries = [
            (
                key,
                canonical_request(request, self._who),
                json.dumps(request.metadata, default=str) if request.metadata else None,
            )
            for key, request, _ in chunk
        ]
        number = self._journal.begin(self._owner, entries)
        flight = (str(self._journal.path), number)
        _IN_FLIGHT.add(flight)
        try:
            batch_id = await self._batches.submit([line for _, _, line in chunk])
        except BackendError as error:
            if error.status is not None or error.unreachable:  # surely no batch was made
                self._journal.finish(number, "abandoned", str(error))
                raise ValuelensError(f"cannot submit the batch: {error}") from None
            raise ValuelensError(
                f"the answer to the batch submission was lost ({error}); the batch may exist "
                "at the provider. The next run warns and submits these requests again"
            ) from None
        finally:
            _IN_FLIGHT.discard(flight)
        if not self._journal.submitted(number, batch_id):
            self._warning(
                f"batch {batch_id} was submitted, but another run took its journal entry "
                "over meanwhile; its requests fail here (cancel it in the provider's console)"
            )
            return None
        self._say(
            f"submitted batch {batch_id} ({len(chunk):,} requests); if this stops, run the same "
            "command again to collect it"
        )
        provider, endpoint, model = _owner(self._owner)
        now = time.time()
        return BatchJob(
            job=number,
            provider=provider,
            endpoint=endpoint,
            model=model,
            batch_id=batch_id,
            state="submitted",
            n_requests=len(chunk),
            created_at=now,
            submitted_at=now,
            note=None,
        )

    async def _poll_all(
        self, jobs: list[BatchJob], requests: Sequence[Request], plan: _Plan
    ) -> AsyncIterator[tuple[int, RunResult]]:
        pending = {job.job: job for job in jobs}
        errors = {job.job: 0 for job in jobs}
        interval = self._poll_s
        while pending:
            for job in list(pending.values()):
                checked, status = await self._check(job, errors)
                if not checked:
                    continue  # tried again next round
                if status is not None:
                    self._progress_line(job, status, interval)
                if status is None or status.ended:
                    async for item in self._collect(job, status, requests, plan):
                        yield item
                    del pending[job.job]
            if pending:
                await asyncio.sleep(interval)
                interval = min(interval * 1.5, self._max_poll_s)

    async def _check(
        self, job: BatchJob, errors: dict[int, int]
    ) -> tuple[bool, BatchStatus | None]:
        """(checked, the batch's status); a batch the provider does not know stops the run."""
        assert job.batch_id is not None
        try:
            status = await self._batches.status(job.batch_id)
        except BackendError as error:
            if error.status == 404:
                raise ValuelensError(
                    f"batch {job.batch_id} is unknown to {job.endpoint or 'the provider'} "
                    "(HTTP 404); it is kept in the journal: check the API key and project "
                    "(e.g. OPENAI_PROJECT_ID) it was submitted with and run again"
                ) from None
            errors[job.job] += 1
            if error.fatal or not (error.retryable or error.unreachable):
                raise ValuelensError(f"cannot check batch {job.batch_id}: {error}") from None
            if errors[job.job] >= self._max_poll_errors:
                raise ValuelensError(
                    f"cannot check batch {job.batch_id}: {error}; it is recorded, run the same "
                    "command again to resume"
                ) from None
            return False, None
        errors[job.job] = 0
        return True, status

    async def _collect(
        self,
        job: BatchJob,
        status: BatchStatus | None,
        requests: Sequence[Request],
        plan: _Plan,
    ) -> AsyncIterator[tuple[int, RunResult]]:
        """Write the batch's results to the store, hand on those of this run, close the batch."""
        from valuelens.models._batch_openai import LineResult

        assert job.batch_id is not None
        pending = dict.fromkeys(self._journal.keys(job.job))  # not recorded yet, in order
        outcomes: list[LineResult] = []
        seen: set[str] = set()
        if status is not None and status.problem is None:
            try:
                async for line in self._batches.results(job.batch_id):
                    # The first line for a request of this batch, or of this run (when
                    # another run collected the batch meanwhile and dropped its entries).
                    if line.key not in seen and (line.key in pending or line.key in plan.first):
                        seen.add(line.key)
                        pending.pop(line.key, None)
                        outcomes.append(line)
                    if len(outcomes) >= _CHUNK:
                        for item in self._record(job, outcomes, requests, plan):
                            yield item
                        outcomes = []
            except BackendError as error:
                raise ValuelensError(
                    f"cannot read the results of batch {job.batch_id}: {error}; run the same "
                    "command again to resume"
                ) from None
        reason = _no_result_reason(job, status)
        outcomes += [LineResult(key, None, reason) for key in pending]
        for start in range(0, len(outcomes), _CHUNK):
            for item in self._record(job, outcomes[start : start + _CHUNK], requests, plan):
                yield item
        if status is None:
            self._journal.finish(job.job, "abandoned", reason)
        else:
            self._journal.finish(job.job, "collected", status.problem)

    def _record(
        self,
        job: BatchJob,
        outcomes: list[LineResult],
        requests: Sequence[Request],
        plan: _Plan,
    ) -> Iterator[tuple[int, RunResult]]:
        """Commit `outcomes` to the store as the runner's rows, then yield this run's results."""
        entries = self._journal.requests(job.job, [outcome.key for outcome in outcomes])
        now = time.time()
        waited = now - (job.submitted_at or job.created_at)
        rows: list[Row] = []
        results: list[tuple[str, Response | None, str | None]] = []
        for outcome in outcomes:
            response = outcome.response
            if response is not None:
                response = replace(response, latency_s=waited)
            results.append((outcome.key, response, outcome.error))
            if outcome.key not in entries:  # another run collected it meanwhile and wrote it
                continue
            request_text, metadata = entries[outcome.key]
            rows.append(
                self._batch_row(outcome.key, request_text, metadata, response, outcome, job, now)
            )
        try:
            self._results.write_rows(rows)
        except ValuelensError:
            raise
        except Exception as error:
            raise ValuelensError(f"cannot write to the store: {error}") from None
        for key, response, reason in results:
            yield from self._deliver(key, response, reason, requests, plan)

    def _batch_row(
        self,
        key: str,
        request_text: str,
        metadata: str | None,
        response: Response | None,
        outcome: LineResult,
        job: BatchJob,
        now: float,
    ) -> Row:
        usage = response.usage if response is not None else None
        return (
            key,
            0 if response is None else 1,
            self._model_name,
            request_text,
            metadata,
            None if response is None else response_to_json(response),
            outcome.error,
            1,
            usage.prompt_tokens if usage else 0,
            usage.completion_tokens if usage else 0,
            None if response is None else response.latency_s,
            job.submitted_at or job.created_at,
            now,
        )

    def _deliver(
        self,
        key: str,
        response: Response | None,
        error: str | None,
        requests: Sequence[Request],
        plan: _Plan,
    ) -> Iterator[tuple[int, RunResult]]:
        stats = self.stats
        if response is not None:  # paid for, whether or not this run asked for it
            stats.prompt_tokens += response.usage.prompt_tokens
            stats.completion_tokens += response.usage.completion_tokens
        if key not in plan.first:
            return
        stats.n_sent += 1
        stats.attempts += 1
        if response is None:
            stats.n_failed += 1
            stats.failure_reasons[error or "unknown error"] += 1
            stats.failed_attempts[1] += 1
        lean = None if response is None else replace(response, raw=None)
        for index in plan.indices(key):
            yield index, RunResult(key, requests[index], lean, error, False, 1)

    def _progress_line(self, job: BatchJob, status: BatchStatus, interval_s: float) -> None:
        waited = time.time() - (job.submitted_at or job.created_at)
        line = (
            f"batch {job.batch_id} {status.label}: {status.done:,}/{status.total:,} done, "
            f"{status.failed:,} failed, waited {_clock(waited)}"
        )
        if not status.ended:
            line += f"; next check in {interval_s:.3g} s"
        self._say(line)

    def _say(self, text: str) -> None:
        if self._show:
            write_line(f"{self._label}: {text}")

    def _warning(self, note: str) -> None:
        if note not in self.stats.warnings:
            self.stats.warnings.append(note)
        if self._warn_to is not None:
            self._warn_to(note)
        else:
            write_line(f"warning: {note}")


_TAKEN_OVER = (
    "another run took this batch submission over as interrupted before it was recorded; "
    "run again to send it"
)


def _interrupted_note(job: BatchJob) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(job.created_at))
    return (
        f"a batch submission of {job.n_requests:,} requests ({when}) was interrupted "
        "before the provider answered; they are submitted again (if the first one "
        "reached the provider, cancel it in the provider's console)"
    )


def _no_result_reason(job: BatchJob, status: BatchStatus | None) -> str:
    if status is None:
        return f"batch {job.batch_id} is unknown to the provider; rerun to submit it again"
    if status.problem is not None:
        return status.problem
    return f"batch {job.batch_id} ended ({status.label}) without an answer to this request"


def _clock(seconds: float) -> str:
    whole = max(0, int(seconds + 0.5))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"
