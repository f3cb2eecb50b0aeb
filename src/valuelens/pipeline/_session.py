"""One session per command: the backend, its cache and the runner, opened and closed together.

Every command that sends requests (`evaluate`, `generate`, `compass run`, `predict run`) gets its
backend, store and runner here, so they are built the same way everywhere and both the backend
and the store are closed on every exit path (success, error, Ctrl-C).

Example:
    >>> async with open_session("openai:gpt-4o-mini", store=run_cache(out)) as session:  # doctest: +SKIP
    ...     results = await session.runner.run(requests)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from valuelens.models import Backend, Request, load_backend
from valuelens.runner import Estimate, Runner, RunResult, RunStats, Store

CACHE_NAME = "cache.sqlite"
"""The cache of a run directory."""
OLDER_CACHE_NAMES = ("store.sqlite",)
"""Names earlier versions gave a run directory's cache (`compass run` used `store.sqlite`)."""
DEFAULT_TIMEOUT_S = 120.0
"""Seconds one attempt at a request may take unless told otherwise."""


def run_cache(run_dir: Path) -> Path:
    """The cache of the run directory `run_dir`: `run_dir/cache.sqlite`.

    Earlier versions of `compass run` kept their cache in `store.sqlite`. When a run directory
    has such a file and no `cache.sqlite`, that file is used instead, so rerunning an older run
    still resumes from the answers it holds rather than sending every request again.
    """
    current = run_dir / CACHE_NAME
    if current.exists():
        return current
    for name in OLDER_CACHE_NAMES:
        if (run_dir / name).is_file():
            return run_dir / name
    return current


def output_cache(output: Path) -> Path:
    """The cache of a command that writes one table rather than a run directory.

    It sits next to the table and takes its name: `actions.csv` -> `actions.cache.sqlite`.
    """
    return output.with_name(f"{output.stem}.{CACHE_NAME}")


@dataclass(frozen=True)
class Session:
    """An open backend, its store and the runner that sends requests through both.

    Attributes:
        backend: the model.
        store: the SQLite cache of requests and answers.
        runner: sends requests to `backend`, answering finished ones from `store`.
    """

    backend: Backend
    store: Store
    runner: Runner


@asynccontextmanager
async def open_session(
    model: str,
    *,
    store: Path,
    base_urls: Sequence[str] = (),
    concurrency: int = 8,
    requests_per_minute: float | None = None,
    timeout_s: float | None = None,
    progress: bool = True,
) -> AsyncIterator[Session]:
    """Open the backend `model` names, the store at `store` and a runner over both.

    The store is closed, and then the backend, however the block ends (normally, by an error
    or by cancellation); when the store or the runner cannot be built, the backend is closed
    before the error propagates.

    Args:
        model: model spec (`embedded`, `embedded:PATH`, `openai:NAME`, `anthropic:NAME`).
        store: the SQLite cache (`run_cache(out)` for a run directory, `output_cache(path)`
            for a single output table, or the user's `--store`).
        base_urls: API roots for `openai`/`anthropic` models; several spread the load.
        concurrency: requests in flight at once.
        requests_per_minute: optional rate limit.
        timeout_s: seconds one attempt may take; None means the default (120 s). In-process
            backends (the embedded model) get no limit: the runner knows their work cannot be
            cancelled.
        progress: show progress on stderr.

    Yields:
        The open session.
    """
    backend = load_backend(model, base_urls=base_urls)
    try:
        with Store(store) as opened:
            runner = Runner(
                backend,
                opened,
                concurrency=concurrency,
                requests_per_minute=requests_per_minute,
                timeout_s=DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s,
                progress=progress,
            )
            yield Session(backend, opened, runner)
    finally:
        await backend.aclose()


@dataclass(frozen=True)
class Answers:
    """The results of one batch of requests, with what the session knew when it ended.

    Attributes:
        results: one result per request, in order.
        totals: the runner's totals (sent, cached, failed, tokens, cost).
        identity: the backend's identity (kind, model, endpoint).
    """

    results: list[RunResult]
    totals: RunStats
    identity: dict[str, str]


def run_requests(
    session: AbstractAsyncContextManager[Session],
    requests: Sequence[Request],
    *,
    dry_run: bool = False,
) -> Answers | Estimate:
    """Open `session` (an `open_session(...)`), answer `requests` in it and close it.

    For code without an event loop. With `dry_run`, nothing is sent: the estimate of what
    would be comes back instead.
    """

    async def answer() -> Answers | Estimate:
        async with session as opened:
            if dry_run:
                return opened.runner.estimate(requests)
            results = await opened.runner.run(requests)
            return Answers(results, opened.runner.totals, dict(opened.backend.identity))

    return asyncio.run(answer())
