"""Anthropic's Message Batches for an `AnthropicBackend`: one batch of requests, results out.

Each request carries the store key as `custom_id` and the parameters the backend sends for a
direct message (model, max_tokens, messages, system, output_config, temperature). Results are
read with the SDK's JSONL decoder and each message is converted as a direct answer is.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, cast

from valuelens.models._anthropic import AnthropicBackend, response_from_message
from valuelens.models._base import BackendError, JsonObject, Request
from valuelens.models._batch_openai import BatchStatus, LineResult
from valuelens.models._common import (
    connection_error,
    error_detail,
    public_url,
    redact,
    status_error,
)

if TYPE_CHECKING:
    import anthropic
    from anthropic.types.messages import MessageBatchIndividualResponse


class AnthropicBatches:
    """Message batches for one `AnthropicBackend` (its model, endpoint and key variable).

    Example:
        >>> batches = AnthropicBatches(AnthropicBackend("claude-sonnet-4-20250514"))
        >>> batch_id = await batches.submit([batches.line(key, request)])
    """

    name = "anthropic"
    max_lines = 100_000
    max_bytes = 256 * 1024 * 1024

    def __init__(self, backend: AnthropicBackend, *, timeout_s: float = 120.0) -> None:
        """Use `backend`'s model, endpoint and key (read from the environment only)."""
        self._backend = backend
        self._base_url = backend._base_url
        self._api_key_env = backend._api_key_env
        self._timeout_s = timeout_s
        self._client: anthropic.AsyncAnthropic | None = None
        self._key: str | None = None

    @property
    def endpoint(self) -> str:
        """The API root, without credentials."""
        return public_url(self._base_url)

    def _get_client(self) -> anthropic.AsyncAnthropic:
        if self._client is None:
            import anthropic

            key = os.environ.get(self._api_key_env) or None
            if key is None:
                raise BackendError(f"{self._api_key_env} is not set; export it", fatal=True)
            self._key = key
            # Reads are retried by the client; creating a batch is not (see `submit`).
            self._client = anthropic.AsyncAnthropic(
                api_key=key, base_url=self._base_url, timeout=self._timeout_s, max_retries=3
            )
        return self._client

    def line(self, key: str, request: Request) -> bytes:
        """The request as one entry of the batch (`custom_id` and `params`)."""
        entry = {"custom_id": key, "params": message_params(self._backend, request)}
        return json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode()

    async def submit(self, lines: Sequence[bytes]) -> str:
        """Create a batch of `lines`; its id.

        Raises:
            BackendError: classified as the backend classifies errors.
        """
        import anthropic

        client = self._get_client()
        entries = [json.loads(line) for line in lines]
        try:
            # Not retried: a retry after a lost answer would create (and bill) a second batch.
            batch = await client.with_options(max_retries=0).messages.batches.create(
                requests=entries
            )
        except anthropic.APIError as error:
            raise self._error(error) from None
        return batch.id

    async def status(self, batch_id: str) -> BatchStatus:
        """Where the batch stands (`BackendError` with status 404 when it is unknown)."""
        import anthropic

        try:
            # One try: the runner checks again at its own pace (and counts failed checks).
            batch = (
                await self._get_client()
                .with_options(max_retries=0)
                .messages.batches.retrieve(batch_id)
            )
        except anthropic.APIError as error:
            raise self._error(error) from None
        counts = batch.request_counts
        failed = counts.errored + counts.canceled + counts.expired
        total = counts.processing + counts.succeeded + failed
        return BatchStatus(
            ended=batch.processing_status == "ended",
            label=batch.processing_status,
            done=total - counts.processing,
            failed=failed,
            total=total,
        )

    async def results(self, batch_id: str) -> AsyncIterator[LineResult]:
        """Each line of the batch's results."""
        import anthropic

        try:
            lines = await self._get_client().messages.batches.results(batch_id)
            async for line in lines:
                yield _line_result(line)
        except anthropic.APIError as error:
            raise self._error(error) from None

    def _error(self, error: Exception) -> BackendError:
        import anthropic

        if isinstance(error, anthropic.APIStatusError):
            detail, _ = error_detail(error.body)
            return status_error(error.status_code, str(detail), error.response.headers, [self._key])
        if isinstance(error, anthropic.APIConnectionError):
            return connection_error(error, [self._key], url=self._base_url)
        return BackendError(redact(f"{type(error).__name__}: {error}", [self._key]))

    async def aclose(self) -> None:
        """Close the HTTP client."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()


def message_params(backend: AnthropicBackend, request: Request) -> JsonObject:
    """The parameters `backend` sends for `request` as a direct message, as one JSON object.

    The SDK merges `extra_body` over the named arguments; so does this.

    Raises:
        BackendError: (fatal) an `extra` field the Messages API cannot take as given.
    """
    params = backend.message_params(request)
    extra = params.pop("extra_body") or {}
    return cast(JsonObject, {**params, **extra})


def _line_result(line: MessageBatchIndividualResponse) -> LineResult:
    result = line.result
    if result.type == "succeeded":
        return LineResult(line.custom_id, response_from_message(result.message), None)
    if result.type == "errored":
        error = result.error.error
        return LineResult(line.custom_id, None, redact(f"{error.type}: {error.message}"))
    if result.type == "expired":
        return LineResult(line.custom_id, None, "expired: the batch ended before this request ran")
    return LineResult(line.custom_id, None, "canceled: the batch was canceled")
