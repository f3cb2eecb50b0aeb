"""The OpenAI Batch API for an `OpenAIBackend`: one JSONL file in, one batch, results out.

Each line is the exact chat-completion body the backend would send (`OpenAIBackend.request_body`),
posted to `/v1/chat/completions` with the store key as `custom_id`. The file is uploaded with
`purpose=batch`, the batch created with a 24-hour window, and the output and error files read
line by line; each answer is parsed by the same function that parses a direct answer.

This module also holds what every batch provider hands the runner (`BatchStatus`,
`LineResult`, `BatchProvider`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from valuelens.models._base import BackendError, Request, Response
from valuelens.models._common import (
    connection_error,
    error_detail,
    parse_chat_completion,
    public_url,
    redact,
    status_error,
)
from valuelens.models._openai import OpenAIBackend

if TYPE_CHECKING:
    import openai

_ENDPOINT: Final = "/v1/chat/completions"
_RUNNING = {"validating", "in_progress", "finalizing", "cancelling"}


@dataclass(frozen=True)
class BatchStatus:
    """Where a submitted batch stands.

    Attributes:
        ended: results can be read (the batch completed, expired, was cancelled or failed).
        label: the provider's word for the state (`validating`, `in_progress`, `ended`, ...).
        done: lines finished so far (answered or failed).
        failed: lines that failed so far.
        total: lines in the batch.
        problem: why the batch as a whole failed (e.g. its file was refused), if it did.
    """

    ended: bool
    label: str
    done: int
    failed: int
    total: int
    problem: str | None = None


@dataclass(frozen=True)
class LineResult:
    """The outcome of one line of a batch: a response, or why there is none."""

    key: str
    response: Response | None
    error: str | None


class BatchProvider(Protocol):
    """A provider's batch interface, as the batch runner uses it."""

    name: str
    max_lines: int
    max_bytes: int

    @property
    def endpoint(self) -> str:
        """The API root, without credentials."""
        ...

    def line(self, key: str, request: Request) -> bytes:
        """One request of a batch as it goes into the batch (JSON, no newline)."""
        ...

    async def submit(self, lines: Sequence[bytes]) -> str:
        """Create a batch of `lines`; its id."""
        ...

    async def status(self, batch_id: str) -> BatchStatus:
        """Where batch `batch_id` stands."""
        ...

    def results(self, batch_id: str) -> AsyncIterator[LineResult]:
        """The outcome of each line of an ended batch."""
        ...

    async def aclose(self) -> None:
        """Close the HTTP client."""
        ...


class OpenAIBatches:
    """Batches for one `OpenAIBackend` (its model, endpoint and key variable).

    Example:
        >>> batches = OpenAIBatches(OpenAIBackend("gpt-4o-mini"))
        >>> batch_id = await batches.submit([batches.line(key, request)])
    """

    name = "openai"
    max_lines = 50_000
    max_bytes = 200 * 1024 * 1024

    def __init__(self, backend: OpenAIBackend, *, timeout_s: float = 120.0) -> None:
        """Use `backend`'s endpoint and key (the key is read from the environment only)."""
        self._backend = backend
        self._base_url = backend._base_url
        self._timeout_s = timeout_s
        self._client: openai.AsyncOpenAI | None = None
        self._key: str | None = None

    @property
    def endpoint(self) -> str:
        """The API root, without credentials."""
        return public_url(self._base_url)

    def _get_client(self) -> openai.AsyncOpenAI:
        if self._client is None:
            import openai

            key = self._backend.api_key()
            self._key = key
            # Reads are retried by the client; creating a batch is not (see `submit`).
            self._client = openai.AsyncOpenAI(
                api_key=key, base_url=self._base_url, timeout=self._timeout_s, max_retries=3
            )
        return self._client

    def line(self, key: str, request: Request) -> bytes:
        """The request as one line of the batch file."""
        line = {
            "custom_id": key,
            "method": "POST",
            "url": _ENDPOINT,
            "body": self._backend.request_body(request),
        }
        return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode()

    async def submit(self, lines: Sequence[bytes]) -> str:
        """Upload `lines` as a batch file and create the batch; its id.

        Raises:
            BackendError: classified as the backend classifies errors.
        """
        import openai

        client = self._get_client()
        content = b"".join(line + b"\n" for line in lines)
        try:
            uploaded = await client.files.create(
                file=("valuelens-batch.jsonl", content, "application/jsonl"), purpose="batch"
            )
            # Not retried: a retry after a lost answer would create (and bill) a second batch.
            batch = await client.with_options(max_retries=0).batches.create(
                input_file_id=uploaded.id, endpoint=_ENDPOINT, completion_window="24h"
            )
        except openai.APIError as error:
            raise self._error(error) from None
        return batch.id

    async def status(self, batch_id: str) -> BatchStatus:
        """Where the batch stands (`BackendError` with status 404 when it is unknown)."""
        import openai

        try:
            # One try: the runner checks again at its own pace (and counts failed checks).
            batch = await self._get_client().with_options(max_retries=0).batches.retrieve(batch_id)
        except openai.APIError as error:
            raise self._error(error) from None
        counts = batch.request_counts
        completed, failed = (counts.completed, counts.failed) if counts else (0, 0)
        problem = None
        if batch.status == "failed":
            messages = (
                [e.message or e.code or "?" for e in (batch.errors.data or [])]
                if (batch.errors)
                else []
            )
            problem = "the batch failed: " + ("; ".join(messages) or "no reason given")
        return BatchStatus(
            ended=batch.status not in _RUNNING,
            label=batch.status,
            done=completed + failed,
            failed=failed,
            total=counts.total if counts else 0,
            problem=problem,
        )

    async def results(self, batch_id: str) -> AsyncIterator[LineResult]:
        """Each line of the output file, then of the error file."""
        import openai

        client = self._get_client()
        try:
            batch = await client.batches.retrieve(batch_id)
            for file_id in (batch.output_file_id, batch.error_file_id):
                if file_id is None:
                    continue
                async with client.files.with_streaming_response.content(file_id) as answer:
                    async for text in answer.iter_lines():
                        if text.strip():
                            yield _line_result(text)
        except openai.APIError as error:
            raise self._error(error) from None

    def _error(self, error: Exception) -> BackendError:
        import openai

        if isinstance(error, openai.APIStatusError):
            detail, code = error_detail(error.body)
            message = str(detail) if detail else str(error)
            headers = error.response.headers
            return status_error(error.status_code, message, headers, [self._key], code)
        return connection_error(error, [self._key], url=self._base_url)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()


def _line_result(text: str) -> LineResult:
    """Read one line of an output or error file."""
    try:
        line = json.loads(text)
        key = str(line["custom_id"])
    except (ValueError, KeyError, TypeError):
        return LineResult("", None, f"unreadable result line: {text[:200]}")
    answer = line.get("response") or {}
    error = line.get("error")
    if error:
        detail, code = error_detail({"error": error})
        return LineResult(key, None, redact(f"{code or 'error'}: {detail}"))
    status = answer.get("status_code")
    body = answer.get("body")
    if status != 200:
        detail, _ = error_detail(body)
        return LineResult(key, None, redact(f"HTTP {status}: {detail}"))
    try:
        return LineResult(key, parse_chat_completion(body, 0.0), None)
    except BackendError as problem:
        return LineResult(key, None, str(problem))
