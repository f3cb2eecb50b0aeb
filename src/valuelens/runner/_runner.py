"""The runner: send many requests concurrently, skip finished ones, retry, and store every outcome."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from os import PathLike
from typing import TYPE_CHECKING, Any, cast

from valuelens._errors import ValuelensError
from valuelens.models import Backend, BackendError, Request, Response
from valuelens.models._args import sent_form
from valuelens.models._base import JsonObject, NoteSource
from valuelens.models._common import redact
from valuelens.runner._keys import _digest, canonical_request, request_key
from valuelens.runner._prices import Estimate, PriceTable, build_estimate, estimate_prompt_tokens
from valuelens.runner._progress import ProgressDisplay
from valuelens.runner._store import Row, Store, response_to_json

if TYPE_CHECKING:
    from aiolimiter import AsyncLimiter

# Beyond this a server's Retry-After is treated as "not today": the request is recorded as failed.
MAX_RETRY_AFTER_S = 600.0
_PROGRESS_INTERVAL_S = 0.25
# A retry after "cannot connect" waits at least this long, even when backoff is set shorter.
_UNREACHABLE_RETRY_S = 0.5
# Stored answers are read (and handed on) this many at a time.
_CACHED_CHUNK = 500


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of one request.

    Attributes:
        key: the store key (see `request_key`).
        request: the request, as given.
        response: the answer, or None if the request failed.
        error: why it failed (after retries), or None.
        cached: the answer came from the store; nothing was sent.
        attempts: calls made in this run (0 when cached).
    """

    key: str
    request: Request
    response: Response | None
    error: str | None
    cached: bool
    attempts: int

    @property
    def ok(self) -> bool:
        """Whether there is a response."""
        return self.response is not None


@dataclass
class RunStats:
    """Totals of the last run (tokens and cost count only requests sent in that run).

    Attributes:
        n_requests: requests asked for, duplicates included.
        n_unique: distinct requests among them (duplicates are sent once).
        n_cached: distinct requests answered from the store.
        n_sent: distinct requests sent in this run (answered or failed).
        n_failed: distinct requests that failed for good in this run (after their retries,
            or at once for errors that retrying cannot fix). They are stored as failures,
            which the store does not count as finished: the next run sends them again.
        attempts: calls made, retries included.
        prompt_tokens: prompt tokens of the answers received.
        completion_tokens: completion tokens of the answers received.
        cost_usd: their cost; None when the model's price is unknown.
        elapsed_s: wall time.
        failure_reasons: why requests failed, counted (the error without its attempt count).
        failed_attempts: how many attempts the failed requests took, counted.
        warnings: things the user was told during the run (e.g. an unreachable endpoint of
            a pool whose requests went to the others), each once.
    """

    n_requests: int = 0
    n_unique: int = 0
    n_cached: int = 0
    n_sent: int = 0
    n_failed: int = 0
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0
    elapsed_s: float = 0.0
    failure_reasons: Counter[str] = field(default_factory=Counter)
    failed_attempts: Counter[int] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether every request has an answer (none failed for good)."""
        return self.n_failed == 0

    @property
    def most_common_failure(self) -> tuple[str, int] | None:
        """The most frequent failure reason and its count, or None when nothing failed."""
        common = self.failure_reasons.most_common(1)
        return common[0] if common else None

    @property
    def failure_line(self) -> str | None:
        """One line for the user when requests failed for good; None when the run is complete.

        Example: "64 of 440 requests failed after 7 attempts (most often: HTTP 500: internal
        error, 60 times); rerun to retry them".
        """
        if self.complete:
            return None
        tries = sorted(self.failed_attempts)
        if not tries:
            after = ""
        elif len(tries) == 1:
            after = f" after {tries[0]} attempt{'s' if tries[0] != 1 else ''}"
        else:
            after = f" after {tries[0]}-{tries[-1]} attempts"
        total = max(self.n_unique, self.n_failed)
        line = f"{self.n_failed} of {total} requests failed{after}"
        common = self.most_common_failure
        if common is not None:
            reason, count = common
            times = "once" if count == 1 else f"{count} times"
            line += f" (most often: {reason}, {times})"
        return line + "; rerun to retry them"

    def as_dict(self) -> JsonObject:
        """The totals as JSON-ready values (the ten most common failure reasons)."""
        return {
            "n_requests": self.n_requests,
            "n_unique": self.n_unique,
            "n_cached": self.n_cached,
            "n_sent": self.n_sent,
            "n_failed": self.n_failed,
            "attempts": self.attempts,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": self.cost_usd,
            "elapsed_s": self.elapsed_s,
            "complete": self.complete,
            "failure_reasons": dict(self.failure_reasons.most_common(10)),
            "failed_attempts": {str(n): c for n, c in sorted(self.failed_attempts.items())},
            "warnings": list(self.warnings),
        }

    def __add__(self, other: RunStats) -> RunStats:
        """Totals of two runs (cost stays unknown once either is unknown)."""
        cost = (
            None
            if self.cost_usd is None or other.cost_usd is None
            else self.cost_usd + other.cost_usd
        )
        return RunStats(
            n_requests=self.n_requests + other.n_requests,
            n_unique=self.n_unique + other.n_unique,
            n_cached=self.n_cached + other.n_cached,
            n_sent=self.n_sent + other.n_sent,
            n_failed=self.n_failed + other.n_failed,
            attempts=self.attempts + other.attempts,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost_usd=cost,
            elapsed_s=self.elapsed_s + other.elapsed_s,
            failure_reasons=self.failure_reasons + other.failure_reasons,
            failed_attempts=self.failed_attempts + other.failed_attempts,
            warnings=[*self.warnings, *(w for w in other.warnings if w not in self.warnings)],
        )


class _Fatal(Exception):
    """A backend error that no request can get past (e.g. a rejected API key)."""


class _Reachability:
    """Whether the backend's endpoint answers at all, so that a dead one stops the run soon.

    Any answer counts, even an HTTP error: the server is there. Only attempts that could not
    connect (`BackendError.unreachable`) count against it. An endpoint never reached gets a
    short grace (a server that is just starting can still make it); one that answered before
    and then went away gets a longer one.
    """

    def __init__(self, startup_grace_s: float, outage_grace_s: float) -> None:
        self.reached = False
        self._startup_grace_s = startup_grace_s
        self._outage_grace_s = outage_grace_s
        self._down_since: float | None = None
        self._failures = 0

    def answered(self) -> None:
        """Note that the endpoint answered."""
        if self._down_since is not None or not self.reached:
            self.reached, self._down_since, self._failures = True, None, 0

    def stop_reason(self, error: BackendError) -> str | None:
        """Note an attempt that could not connect; the reason to stop the run, if it is time."""
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
        self._failures += 1
        waited = now - self._down_since
        grace = self._outage_grace_s if self.reached else self._startup_grace_s
        if self._failures < 2 or waited < grace:
            return None
        if not self.reached:
            return str(error)
        return (
            f"{error} (no connection for {waited:.0f} s after it had answered); "
            "finished requests are kept, rerun to resume"
        )


@dataclass(frozen=True, slots=True)
class _Outcome:
    response: Response | None
    error: str | None
    attempts: int
    reason: str | None = None  # the error without the attempt count, for counting failures

    def result(self, key: str, request: Request) -> RunResult:
        response = None if self.response is None else _lean(self.response)
        return RunResult(key, request, response, self.error, False, self.attempts)


@dataclass(frozen=True)
class _Limiter:
    """A leaky bucket counting requests, or estimated tokens per request."""

    bucket: AsyncLimiter  # imported only when limits are set
    by_tokens: bool

    async def acquire(self, request: Request) -> None:
        amount: float = 1
        if self.by_tokens:
            amount = min(estimate_prompt_tokens(request) + request.max_tokens, self.bucket.max_rate)
        await self.bucket.acquire(amount)


class _StoreWriter:
    """Batches rows finished in the same event-loop turn into one commit.

    `add` returns a future that resolves once the row is committed. Workers wait for it before
    taking their next request, so at any moment at most `concurrency` requests have been sent
    without their result being on disk: that is all a SIGKILL can lose.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._rows: list[Row] = []
        self._committed: asyncio.Future[None] | None = None

    def add(self, row: Row) -> asyncio.Future[None]:
        self._rows.append(row)
        if self._committed is None:
            loop = asyncio.get_running_loop()
            self._committed = loop.create_future()
            loop.call_soon(self.flush)
        return self._committed

    def flush(self) -> None:
        rows, committed = self._rows, self._committed
        self._rows, self._committed = [], None
        try:
            if rows:
                self._store.write_rows(rows)
        except Exception as error:
            if committed is not None and not committed.done():
                committed.set_exception(ValuelensError(f"cannot write to the store: {error}"))
            return
        if committed is not None and not committed.done():
            committed.set_result(None)


_Delivery = tuple[int, RunResult]


@dataclass
class _Batch:
    """The requests of one run still to send, and where their results go.

    Only requests in flight hold a response: each result is handed on (to `deliveries`) once
    its row is committed, without its raw payload, and forgotten here.
    """

    requests: Sequence[Request]
    pending: _Lanes  # (index, key) of the requests still to send
    copies: Mapping[str, list[int]]  # further indices of keys asked for more than once
    writer: _StoreWriter
    deliveries: asyncio.Queue[_Delivery | None]
    display: ProgressDisplay | None = None

    def deliver(self, index: int, result: RunResult) -> None:
        self.deliveries.put_nowait((index, result))
        for copy in self.copies.get(result.key, ()):
            self.deliveries.put_nowait((copy, replace(result, request=self.requests[copy])))


class _Lanes:
    """The requests still to send, cut into contiguous lanes, one per worker.

    With one lane every worker takes the next request in order. With one lane per worker, a
    worker keeps to its own stretch of the (prefix-ordered) list, so consecutive requests of
    one backend slot share their prompt prefix; a worker whose lane is empty takes from the
    end of the longest other lane, so no worker idles while work is left.
    """

    def __init__(self, todo: Sequence[tuple[int, str]], count: int) -> None:
        size = -(-len(todo) // max(1, count))  # ceiling division
        self._lanes = [deque(todo[start : start + size]) for start in range(0, len(todo), size)]

    def take(self, lane: int) -> tuple[int, str] | None:
        lanes = self._lanes
        if lane < len(lanes) and lanes[lane]:
            return lanes[lane].popleft()
        longest = max(lanes, key=len, default=None)
        return longest.pop() if longest else None


@dataclass
class _Plan:
    """Which distinct requests a run asks for: the first index of each key, and the copies."""

    first: dict[str, int]
    copies: dict[str, list[int]]


# Every field of a response but its raw payload (a field added to `Response` is kept too).
_LEAN_FIELDS = tuple(item.name for item in fields(Response) if item.name != "raw")


def _lean(response: Response) -> Response:
    """The response without its raw payload (kept in the store; no caller reads it here)."""
    if response.raw is None:
        return response
    # Not `dataclasses.replace`, which costs three times as much, once per request.
    return Response(**{name: getattr(response, name) for name in _LEAN_FIELDS})


def _plan(requests: Sequence[Request], identity: Mapping[str, str]) -> _Plan:
    first: dict[str, int] = {}
    copies: dict[str, list[int]] = {}
    for index, request in enumerate(requests):
        key = _digest(canonical_request(request, identity))
        if first.setdefault(key, index) != index:
            copies.setdefault(key, []).append(index)
    return _Plan(first, copies)


def _prefix_order(request: Request) -> tuple[tuple[str, str], ...]:
    """Sort key that puts requests sharing a prompt prefix next to each other."""
    return tuple((message.role, message.content) for message in request.messages)


class Runner:
    """Sends requests to one backend with bounded concurrency, a store, and retries.

    Finished requests are read from the store instead of sent; every new outcome (success or
    failure after retries) is committed as it arrives. Identical requests in one call are sent
    once. Per-request failures never raise: they come back as results with an `error`, and
    `stats.failure_line` sums them up for the user. Two kinds of problem stop the run with a
    `ValuelensError` instead: errors no request can get past (a rejected key), and an
    endpoint that cannot be reached at all (connection refused, unknown host) for a few
    seconds when it has never answered (or for `outage_grace_s` when it had).
    `stats` holds the totals of the last `run`, `totals` those of every run so far.

    Example:
        >>> store = Store("runs/cache.sqlite")
        >>> runner = Runner(load_backend("embedded"), store, concurrency=4)
        >>> print(runner.estimate(requests).summary())
        >>> results = await runner.run(requests)  # or runner.run_sync(requests)
        >>> async for index, result in runner.stream(requests):  # results as they arrive
        ...     handle(index, result)
    """

    def __init__(
        self,
        backend: Backend,
        store: Store,
        *,
        concurrency: int = 8,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        max_retries: int = 6,
        timeout_s: float | None = 120.0,
        progress: bool = True,
        price_table: PriceTable | str | PathLike[str] | Mapping[str, Any] | None = None,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        description: str | None = None,
        unreachable_grace_s: float = 3.0,
        outage_grace_s: float = 30.0,
        progress_every_s: float = 10.0,
        warn: Callable[[str], None] | None = None,
        prefix_order: bool | None = None,
    ) -> None:
        """Configure a runner.

        Args:
            backend: the model.
            store: where outcomes are kept (and finished ones found).
            concurrency: requests in flight at once (capped at what the backend can work on
                at once, e.g. the embedded model's slots, so waiting in its queue never counts
                against `timeout_s`).
            requests_per_minute: optional cap on requests sent per minute (retries count).
            tokens_per_minute: optional cap on estimated prompt plus maximum completion tokens.
            max_retries: retries after the first attempt before a request is recorded as failed.
            timeout_s: limit for one attempt; None for no limit. In-process backends get
                none: their work cannot be cancelled.
            progress: show progress on stderr: a bar on a terminal, otherwise a plain line
                every `progress_every_s` seconds and one at the end (for logs and CI).
            price_table: a `PriceTable`, or a file/mapping that overrides the built-in prices.
            backoff_s: first retry delay; it doubles per retry (with jitter) up to
                `max_backoff_s`, unless the server sent `Retry-After`.
            max_backoff_s: the longest delay between retries.
            description: label of the progress bar (the model by default).
            unreachable_grace_s: how long an endpoint that has never answered may refuse
                connections (or fail to resolve) before the run stops.
            outage_grace_s: the same for an endpoint that answered earlier in this runner's
                life and then went away.
            progress_every_s: seconds between progress lines when stderr is not a terminal.
            warn: called with each warning during a run (e.g. a pooled endpoint is down);
                by default it is printed on stderr. Warnings are also in `stats.warnings`.
            prefix_order: send requests that share a prompt prefix one after another (sorted
                by their messages), so the model's prompt cache can reuse what it read;
                results keep the caller's order. None (the default) turns it on for backends
                with slots of their own (the embedded llama.cpp model, whose per-slot KV cache
                it is measured to help: benchmarks/README.md) and leaves the caller's order
                for HTTP servers.

        Raises:
            ValuelensError: for settings that cannot work (e.g. `concurrency` < 1).
        """
        if concurrency < 1:
            raise ValuelensError(f"concurrency must be at least 1, not {concurrency}")
        if max_retries < 0:
            raise ValuelensError(f"max_retries cannot be negative ({max_retries})")
        for name, limit in (("requests", requests_per_minute), ("tokens", tokens_per_minute)):
            if limit is not None and limit <= 0:
                raise ValuelensError(f"{name} per minute must be positive, not {limit}")
        self._backend = backend
        self._sent_form = sent_form(backend)
        self._store = store
        backend_limit = backend.capabilities.max_concurrency
        self._concurrency = min(concurrency, backend_limit or concurrency)
        self._rpm = requests_per_minute
        self._tpm = tokens_per_minute
        self._max_retries = max_retries
        self._timeout_s = None if backend.capabilities.in_process else timeout_s
        self._progress = progress
        self._prices = (
            price_table if isinstance(price_table, PriceTable) else PriceTable.load(price_table)
        )
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        identity = backend.identity
        self._identity = identity
        self._model = f"{identity.get('kind', '?')}:{identity.get('model', '?')}"
        self._description = description or self._model
        self._reach = _Reachability(unreachable_grace_s, outage_grace_s)
        self._progress_every_s = progress_every_s
        self._warn = warn
        self._prefix_order = backend_limit is not None if prefix_order is None else prefix_order
        self._slots = self._prefix_order and backend_limit is not None
        self._notes = backend if isinstance(backend, NoteSource) else None
        self.stats = RunStats()
        self.totals = RunStats()

    @property
    def concurrency(self) -> int:
        """Requests in flight at once (after the backend's own cap)."""
        return self._concurrency

    def key(self, request: Request) -> str:
        """The store key of `request` on this runner's backend."""
        return request_key(request, self._identity)

    def estimate(self, requests: Sequence[Request]) -> Estimate:
        """A dry run: what would be sent, its tokens and cost. Nothing is sent."""
        unique: dict[str, Request] = {}
        for request in requests:
            unique.setdefault(self.key(request), request)
        finished = self._store.finished(unique)
        to_send = (self._sent_form(r) for key, r in unique.items() if key not in finished)
        return build_estimate(
            self._model, self._identity, len(requests), to_send, len(finished), self._prices
        )

    def run_sync(
        self,
        requests: Sequence[Request],
        *,
        on_result: Callable[[int, RunResult], None] | None = None,
    ) -> list[RunResult]:
        """`run` for code without an event loop (scripts; not inside Jupyter)."""
        return asyncio.run(self.run(requests, on_result=on_result))

    async def run(
        self,
        requests: Sequence[Request],
        *,
        on_result: Callable[[int, RunResult], None] | None = None,
    ) -> list[RunResult]:
        """Answer every request, from the store where possible.

        Args:
            requests: the requests; duplicates are sent once.
            on_result: called with (index, result) as each result arrives (see `stream`).

        Returns:
            One result per request, in the same order. Responses come without `raw`
            (the store keeps it: `Store.records()`).

        Raises:
            ValuelensError: when no request can succeed (e.g. the API key is rejected) or the
                store cannot be written. Outcomes stored before that are kept.
        """
        results: list[RunResult | None] = [None] * len(requests)
        async for index, result in self.stream(requests):
            results[index] = result
            if on_result is not None:
                on_result(index, result)
        return cast(list[RunResult], results)

    async def stream(self, requests: Sequence[Request]) -> AsyncIterator[tuple[int, RunResult]]:
        """Answer every request, yielding (index in `requests`, result) as results arrive.

        Answers from the store come first (in the caller's order), then each new outcome once
        it is committed, in no particular order (requests may be sent grouped by shared prompt
        prefix, see `prefix_order`, and answers arrive as they come): use the index. The runner keeps nothing of a result once it is yielded, so memory
        does not grow with the number of requests. `stats` is final when the iteration ends.

        Example:
            >>> async for index, result in runner.stream(requests):
            ...     records.extend(task.parse(result))

        Raises:
            ValuelensError: as `run`, after the results obtained so far.
        """
        started = time.perf_counter()
        plan = _plan(requests, self._identity)
        finished = self._store.finished(plan.first)
        todo = [(index, key) for key, index in plan.first.items() if key not in finished]
        if todo and self._store.read_only:
            raise ValuelensError(
                f"{len(todo):,} of {len(plan.first):,} requests are not in the read-only store "
                f"{self._store.path}; copy the run to a writable folder to finish it"
            )
        if self._prefix_order:
            todo.sort(key=lambda item: _prefix_order(requests[item[0]]))
        self.stats = RunStats(
            n_requests=len(requests), n_unique=len(plan.first), n_cached=len(finished)
        )
        try:
            for index, result in self._cached(requests, plan, finished):
                yield index, result
            if todo:
                async for delivery in self._sent(requests, plan, todo):
                    yield delivery
        finally:  # a run that stopped early still counts (what it sent was paid for)
            self.stats.elapsed_s = time.perf_counter() - started
            self.totals += self.stats

    def _cached(
        self, requests: Sequence[Request], plan: _Plan, finished: set[str]
    ) -> Iterator[tuple[int, RunResult]]:
        keys = [key for key in plan.first if key in finished]
        for start in range(0, len(keys), _CACHED_CHUNK):
            chunk = keys[start : start + _CACHED_CHUNK]
            found = self._store.lookup(chunk, raw=False)
            for key in chunk:  # the store's own order is not the caller's
                response = found.get(key)
                if response is None:  # e.g. deleted by `valuelens cache` in another process
                    raise ValuelensError(
                        f"a stored answer vanished from {self._store.path} during the run; "
                        "rerun to send it again"
                    )
                for index in (plan.first[key], *plan.copies.get(key, ())):
                    yield index, RunResult(key, requests[index], response, None, True, 0)

    async def _sent(
        self, requests: Sequence[Request], plan: _Plan, todo: list[tuple[int, str]]
    ) -> AsyncIterator[tuple[int, RunResult]]:
        deliveries: asyncio.Queue[_Delivery | None] = asyncio.Queue()
        # A backend with slots of its own (llama.cpp) keeps a prompt cache per slot: one lane
        # per worker. A server's prefix cache is shared: one lane, in order.
        lanes = _Lanes(todo, self._concurrency if self._slots else 1)
        batch = _Batch(requests, lanes, plan.copies, _StoreWriter(self._store), deliveries)
        sender = asyncio.create_task(self._send_all(batch, len(todo)))
        sender.add_done_callback(lambda _: deliveries.put_nowait(None))
        try:
            while (delivery := await deliveries.get()) is not None:
                yield delivery
            while not deliveries.empty():  # delivered after the end mark (not expected)
                if (delivery := deliveries.get_nowait()) is not None:
                    yield delivery
            await sender  # raises what stopped the run
        finally:
            if not sender.done():
                sender.cancel()
                await asyncio.gather(sender, return_exceptions=True)

    async def _send_all(self, batch: _Batch, count: int) -> None:
        limiters = self._limiters()
        display = ProgressDisplay(
            count, self._description, enabled=self._progress, log_every_s=self._progress_every_s
        )
        batch.display = display
        workers = [
            asyncio.create_task(self._work(batch, limiters, lane))
            for lane in range(min(self._concurrency, count))
        ]
        refresher = asyncio.create_task(self._refresh(display)) if display.active else None
        display.start()
        try:
            await asyncio.gather(*workers)
        except _Fatal as error:
            raise ValuelensError(str(error)) from None
        finally:
            for task in [*workers, refresher]:
                if task is not None:
                    task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            batch.writer.flush()
            self._take_notes(batch)
            self._update_cost()
            display.update(self.stats.n_sent, self.stats.n_failed, self.stats.cost_usd)
            display.stop()

    def _limiters(self) -> list[_Limiter]:
        from aiolimiter import AsyncLimiter

        # A sixth of the minute's budget per 10 s: no burst of a whole minute's worth at once.
        limiters = []
        if self._rpm is not None:
            limiters.append(_Limiter(AsyncLimiter(self._rpm / 6, 10.0), by_tokens=False))
        if self._tpm is not None:
            limiters.append(_Limiter(AsyncLimiter(self._tpm / 6, 10.0), by_tokens=True))
        return limiters

    async def _work(self, batch: _Batch, limiters: list[_Limiter], lane: int) -> None:
        stats = self.stats
        while (item := batch.pending.take(lane)) is not None:
            index, key = item
            started_at = time.time()
            request = batch.requests[index]
            outcome = await self._attempt(request, limiters)
            stats.n_sent += 1
            stats.attempts += outcome.attempts
            if outcome.response is None:
                stats.n_failed += 1
                stats.failure_reasons[outcome.reason or outcome.error or "unknown error"] += 1
                stats.failed_attempts[outcome.attempts] += 1
            else:
                stats.prompt_tokens += outcome.response.usage.prompt_tokens
                stats.completion_tokens += outcome.response.usage.completion_tokens
            if self._notes is not None:
                self._take_notes(batch)
            await batch.writer.add(self._row(key, request, outcome, started_at))
            batch.deliver(index, outcome.result(key, request))

    def _take_notes(self, batch: _Batch) -> None:
        if self._notes is None:
            return
        for note in self._notes.take_notes():
            if note in self.stats.warnings:
                continue
            self.stats.warnings.append(note)
            if self._warn is not None:
                self._warn(note)
            elif batch.display is not None:
                batch.display.note(note)

    def _row(self, key: str, request: Request, outcome: _Outcome, started_at: float) -> Row:
        response = outcome.response
        usage = response.usage if response is not None else None
        return (
            key,
            0 if response is None else 1,
            self._model,
            # Computed again rather than kept from the key: only requests in flight hold it.
            canonical_request(request, self._identity),
            json.dumps(request.metadata, default=str) if request.metadata else None,
            None if response is None else response_to_json(response),
            outcome.error,
            outcome.attempts,
            usage.prompt_tokens if usage else 0,
            usage.completion_tokens if usage else 0,
            None if response is None else response.latency_s,
            started_at,
            time.time(),
        )

    async def _attempt(self, request: Request, limiters: list[_Limiter]) -> _Outcome:
        attempts = 0
        while True:
            attempts += 1
            for limiter in limiters:
                await limiter.acquire(self._sent_form(request))
            try:
                if self._timeout_s is None:
                    response = await self._backend.complete(request)
                else:
                    async with asyncio.timeout(self._timeout_s):
                        response = await self._backend.complete(request)
                self._reach.answered()
                return _Outcome(response, None, attempts)
            except BackendError as error:
                if error.fatal:
                    raise _Fatal(str(error)) from None
                message, delay = str(error), error.retry_after_s
                if error.unreachable:
                    stop = self._reach.stop_reason(error)
                    if stop is not None:
                        raise _Fatal(stop) from None
                    delay = max(self._backoff(attempts), _UNREACHABLE_RETRY_S)
                    if not self._reach.reached:
                        # Not the request's fault: retry until it connects or the run stops.
                        await asyncio.sleep(delay)
                        continue
                else:
                    self._reach.answered()
                    if not error.retryable:
                        return _Outcome(None, message, attempts, message)
            except TimeoutError:
                message, delay = f"no answer within {self._timeout_s:g} s", None
            except Exception as error:  # a backend bug fails its request, not the run
                message = redact(f"{type(error).__name__}: {error}")
                return _Outcome(None, message, attempts, message)
            if delay is not None and delay > MAX_RETRY_AFTER_S:
                error_text = f"{message} (server asked to wait {delay:.0f} s)"
                return _Outcome(None, error_text, attempts, message)
            if attempts > self._max_retries:
                error_text = f"{message} (gave up after {attempts} attempts)"
                return _Outcome(None, error_text, attempts, message)
            await asyncio.sleep(delay if delay is not None else self._backoff(attempts))

    def _backoff(self, attempts: int) -> float:
        ceiling = min(self._max_backoff_s, self._backoff_s * 2.0 ** (attempts - 1))
        return ceiling * random.uniform(0.5, 1.0)

    def _update_cost(self) -> None:
        stats = self.stats
        stats.cost_usd = self._prices.cost(
            self._identity, stats.prompt_tokens, stats.completion_tokens
        )

    async def _refresh(self, display: ProgressDisplay) -> None:
        while True:
            self._update_cost()
            display.update(self.stats.n_sent, self.stats.n_failed, self.stats.cost_usd)
            await asyncio.sleep(_PROGRESS_INTERVAL_S)
