"""One session per command: the backend, its cache and the runner, opened and closed together.

Every command that sends requests (`evaluate`, `generate`, `compass run`, `predict run`) gets its
backend, store and runner here from one `SessionSettings`, so they are built the same way
everywhere and both the backend and the store are closed on every exit path (success, error,
Ctrl-C).

The store is shared: one SQLite file in the user's cache folder (`default_store()`), so the
same request is never paid for twice, whatever `--out` says. A run directory records which
store answered it and the keys of its requests in `requests.json` (see `RunLedger`); a run
directory from an older version that holds its own `cache.sqlite` keeps using that.

Example:
    >>> settings = SessionSettings("openai:gpt-4o-mini", concurrency=4)
    >>> async with open_session(settings, run_dir=out) as session:  # doctest: +SKIP
    ...     results = await session.runner.run(requests)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypedDict, Unpack

from pydantic import BaseModel, ValidationError

from valuelens._errors import ValuelensError
from valuelens._paths import cache_dir
from valuelens._rundir import write_text_atomic
from valuelens.models import Backend, Request, load_backend
from valuelens.models._args import ModelArgs, with_model_args
from valuelens.models._base import JsonObject
from valuelens.runner import BatchRunner, Estimate, Runner, RunResult, RunStats, Store

CACHE_NAME = "cache.sqlite"
"""The file name of a store: the shared one, and a run directory's own in older versions."""
OLDER_CACHE_NAMES = (CACHE_NAME, "store.sqlite")
"""Names earlier versions gave a run directory's own cache (`compass run` used `store.sqlite`)."""
LEDGER_NAME = "requests.json"
"""The file in a run directory that names its store and the keys of its requests."""
DEFAULT_TIMEOUT_S = 120.0
"""Seconds one attempt at a request may take unless told otherwise."""


def default_store() -> Path:
    """The shared store every command uses unless told otherwise (`--store`)."""
    return cache_dir() / CACHE_NAME


def run_cache(run_dir: Path) -> Path:
    """The store a run directory uses by default.

    A run directory written by an older version holds its own cache (`cache.sqlite`, or
    `store.sqlite` from `compass run`); that file is used, so rerunning the run resumes from
    the answers it holds rather than sending every request again. Any other run directory
    uses the shared store (`default_store()`).
    """
    for name in OLDER_CACHE_NAMES:
        if (run_dir / name).is_file():
            return run_dir / name
    return default_store()


def output_cache(output: Path) -> Path:
    """The store of a command that writes one table rather than a run directory.

    Older versions kept it next to the table (`actions.csv` -> `actions.cache.sqlite`); such a
    file is still used, otherwise the shared store is.
    """
    older = output.with_name(f"{output.stem}.{CACHE_NAME}")
    return older if older.is_file() else default_store()


class ConnectionOptions(TypedDict, total=False):
    """`SessionSettings` fields other than the model, as keyword arguments.

    The pipelines still take them one by one, as they did before `SessionSettings`; a new
    caller passes one `SessionSettings` instead.
    """

    base_urls: Sequence[str]
    concurrency: int
    requests_per_minute: float | None
    timeout_s: float | None
    progress: bool
    store: Path | None
    model_args: ModelArgs
    batch: bool


class SessionOptions(ConnectionOptions, total=False):
    """Every `SessionSettings` field as a keyword argument."""

    model: str


class _HasSessionFields(Protocol):
    """Anything with the session's fields, such as `EvaluateConfig`."""

    @property
    def model(self) -> str: ...
    @property
    def base_urls(self) -> tuple[str, ...]: ...
    @property
    def concurrency(self) -> int: ...
    @property
    def requests_per_minute(self) -> float | None: ...
    @property
    def timeout_s(self) -> float | None: ...
    @property
    def progress(self) -> bool: ...
    @property
    def store(self) -> Path | None: ...


@dataclass(frozen=True)
class SessionSettings:
    """How to reach a model: what every command that sends requests needs, in one value.

    Attributes:
        model: model spec (`embedded`, `embedded:PATH`, `openai:NAME`, `anthropic:NAME`).
        base_urls: API roots for `openai`/`anthropic` models; several spread the load.
        concurrency: requests in flight at once.
        requests_per_minute: optional rate limit.
        timeout_s: seconds one attempt may take; None means the default (120 s). In-process
            backends (the embedded model) get no limit: the runner knows their work cannot be
            cancelled.
        progress: show progress on stderr.
        store: the SQLite cache; None: the run directory's older cache if it has one, else
            the shared store (see `run_cache`).
        batch: send the requests missing from the store as provider batches (OpenAI Batch
            API, Anthropic Message Batches) at half price instead of one by one; a rerun
            collects a submitted batch instead of submitting it again.
        model_args: arguments sent with every request (`-M`: max_tokens, top_p, stop, ...;
            see `valuelens.models._args`). Those that change answers are part of the cache
            keys; their `timeout`, when given, replaces `timeout_s`.
    """

    model: str = "embedded"
    base_urls: tuple[str, ...] = ()
    concurrency: int = 8
    requests_per_minute: float | None = None
    timeout_s: float | None = None
    progress: bool = True
    store: Path | None = None
    model_args: ModelArgs = field(default_factory=ModelArgs)
    batch: bool = False

    @classmethod
    def of(cls, source: _HasSessionFields) -> SessionSettings:
        """The settings held by `source` (e.g. an `EvaluateConfig`), field by field.

        A source without `model_args` (written before they existed) gets none.
        """
        names = [f.name for f in dataclasses.fields(cls)]
        return cls(**{name: getattr(source, name) for name in names if hasattr(source, name)})

    def updated(self, options: ConnectionOptions, *, model: str | None = None) -> SessionSettings:
        """These settings with `model` and the fields `options` gives replaced."""
        return SessionSettings(
            model=model or self.model,
            base_urls=tuple(options.get("base_urls", self.base_urls)),
            concurrency=options.get("concurrency", self.concurrency),
            requests_per_minute=options.get("requests_per_minute", self.requests_per_minute),
            timeout_s=options.get("timeout_s", self.timeout_s),
            progress=options.get("progress", self.progress),
            store=options.get("store", self.store),
            model_args=options.get("model_args", self.model_args),
            batch=options.get("batch", self.batch),
        )

    @property
    def effective_timeout_s(self) -> float:
        """Seconds one attempt may take: `-M timeout`, else `timeout_s`, else the default."""
        for seconds in (self.model_args.timeout_s, self.timeout_s):
            if seconds is not None:
                return seconds
        return DEFAULT_TIMEOUT_S

    def recorded_args(self, key: str = "model_args") -> JsonObject:
        """`{key: the model arguments}` for a run's summary; empty without any."""
        return {} if self.model_args.is_empty else {key: self.model_args.recorded()}

    def store_for(self, run_dir: Path | None) -> Path:
        """The store to open: `store` when set, else the default for `run_dir`."""
        if self.store is not None:
            return self.store
        return run_cache(run_dir) if run_dir is not None else default_store()


def session_settings(
    session: SessionSettings | str | None, options: ConnectionOptions | SessionOptions
) -> SessionSettings:
    """One `SessionSettings` from a pipeline's arguments: settings or a model spec, and options.

    Args:
        session: the settings, a model spec (the other fields default), or None (defaults).
        options: fields given one by one (the older keyword arguments); they win.
    """
    if isinstance(session, str):
        session = SessionSettings(model=session)
    model = options.get("model")  # only a SessionOptions holds it
    model = model if isinstance(model, str) else None
    return (session or SessionSettings()).updated(options, model=model)


class RunLedger(BaseModel):
    """`requests.json`: the store that answered a run and the keys of the requests it asked.

    With it a run can be audited or exported (`valuelens cache export --run DIR`) although its
    answers live in the shared store.
    """

    store: str
    n_requests: int
    keys: list[str]


def write_ledger(run_dir: Path, store: Store) -> None:
    """Record in `run_dir` which store `store` is and which keys the run asked it for."""
    keys = store.used_keys()
    ledger = RunLedger(store=str(store.path.resolve()), n_requests=len(keys), keys=keys)
    text = ledger.model_dump_json(indent=1) + "\n"
    path = run_dir / LEDGER_NAME
    with contextlib.suppress(OSError, UnicodeDecodeError):
        if path.read_text(encoding="utf-8") == text:
            return  # a rerun that asked the same: the file stays as it is
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text)
    except OSError:
        pass  # an unwritable run directory is reported when the run itself is written


def read_ledger(run_dir: Path) -> RunLedger | None:
    """The `requests.json` of `run_dir`; None when it has none (runs from older versions).

    Raises:
        ValuelensError: when the file exists but is not a ledger.
    """
    path = run_dir / LEDGER_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ValuelensError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        return RunLedger.model_validate(json.loads(text))
    except (ValueError, ValidationError):
        raise ValuelensError(
            f"{path} is not a valuelens request ledger (expected store, n_requests, keys)"
        ) from None


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
    settings: SessionSettings | str,
    *,
    run_dir: Path | None = None,
    **options: Unpack[SessionOptions],
) -> AsyncIterator[Session]:
    """Open the backend, the store and a runner over both, as `settings` describe them.

    The store is closed, and then the backend, however the block ends (normally, by an error
    or by cancellation); when the store or the runner cannot be built, the backend is closed
    before the error propagates. A store that did not exist is created only when the first
    answer arrives, so a dry run leaves no file behind.

    Args:
        settings: the model and how to reach it (or just a model spec).
        run_dir: the run directory the session works for: its default store (see
            `run_cache`), and where `requests.json` is written when the session closes.
        **options: single fields that replace those of `settings` (the older signature).

    Yields:
        The open session.
    """
    settings = session_settings(settings, options)
    loaded = load_backend(settings.model, base_urls=settings.base_urls)
    backend = with_model_args(loaded, settings.model_args)
    try:
        with Store(settings.store_for(run_dir)) as opened:
            runner = _runner(settings, backend, opened)
            try:
                yield Session(backend, opened, runner)
            finally:
                if run_dir is not None and runner.totals.n_requests:  # not after a dry run
                    write_ledger(run_dir, opened)
    finally:
        await backend.aclose()


def _runner(settings: SessionSettings, backend: Backend, store: Store) -> Runner:
    """The session's runner: one request at a time, or (`batch`) the provider's batch API."""
    if settings.batch:
        return BatchRunner(backend, store, progress=settings.progress)
    return Runner(
        backend,
        store,
        concurrency=settings.concurrency,
        requests_per_minute=settings.requests_per_minute,
        timeout_s=settings.effective_timeout_s,
        progress=settings.progress,
    )


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
