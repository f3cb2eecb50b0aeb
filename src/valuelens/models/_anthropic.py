"""Anthropic's Messages API through the official async `anthropic` client."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from valuelens.models._base import (
    BackendError,
    Capabilities,
    FinishReason,
    Request,
    Response,
    Usage,
)
from valuelens.models._common import (
    connection_error,
    endpoint_identity,
    error_detail,
    redact,
    status_error,
)

if TYPE_CHECKING:
    import anthropic
    from anthropic.types import Message

ANTHROPIC_URL = "https://api.anthropic.com"
_STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
}


_EFFORTS = ("low", "medium", "high", "xhigh", "max")
"""The `output_config.effort` levels the Messages API knows."""


class AnthropicBackend:
    """Claude models. No log-probabilities; JSON-schema output through `output_config`.

    The SDK no longer lists `temperature`; it is sent as an extra field, and dropped for good
    if the API rejects it. A request's `extra` fields are mapped to the Messages API: `stop`
    becomes `stop_sequences`, `reasoning_effort` becomes `output_config.effort` (low, medium,
    high, xhigh, max); any other field is sent as given, in the body (`top_p`, `top_k`,
    `thinking`).

    Example:
        >>> backend = AnthropicBackend("claude-sonnet-4-20250514")  # key from ANTHROPIC_API_KEY
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key_env: str = "ANTHROPIC_API_KEY",
        timeout_s: float = 600.0,
    ) -> None:
        """Describe the endpoint; nothing is contacted until the first request.

        Args:
            model: the Claude model name.
            base_url: the API root; Anthropic's when None.
            api_key_env: the environment variable that holds the key.
            timeout_s: the HTTP client's own timeout.
        """
        self._model = model
        self._base_url = (base_url or ANTHROPIC_URL).rstrip("/")
        self._api_key_env = api_key_env
        self._timeout_s = timeout_s
        self._client: anthropic.AsyncAnthropic | None = None
        self._api_key: str | None = None
        self._send_temperature = True
        self._loop: asyncio.AbstractEventLoop | None = None
        self._identity = endpoint_identity("anthropic", model, self._base_url)

    @property
    def identity(self) -> dict[str, str]:
        """Backend kind, model and endpoint (never the key)."""
        return dict(self._identity)

    @property
    def capabilities(self) -> Capabilities:
        """JSON-schema output; no log-probabilities."""
        return Capabilities(json_schema=True, logprobs=False, max_top_logprobs=0)

    def _get_client(self) -> anthropic.AsyncAnthropic:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # Pooled connections belong to the loop that opened them (an earlier asyncio.run).
            self._client, self._loop = None, loop
        if self._client is None:
            import anthropic

            key = os.environ.get(self._api_key_env) or None
            if key is None:
                raise BackendError(f"{self._api_key_env} is not set; export it", fatal=True)
            self._api_key = key
            self._client = anthropic.AsyncAnthropic(
                api_key=key, base_url=self._base_url, max_retries=0, timeout=self._timeout_s
            )
        return self._client

    async def complete(self, request: Request) -> Response:
        """Send one message request.

        Raises:
            BackendError: classified for the runner (see `BackendError`).
        """
        try:
            return await self._send(request)
        except BackendError as error:
            if not (self._send_temperature and error.status == 400 and "temperature" in str(error)):
                raise
        self._send_temperature = False
        return await self._send(request)

    def message_params(self, request: Request) -> dict[str, Any]:
        """The Messages API parameters this backend sends for `request` (SDK names).

        `extra_body` holds the fields the SDK does not name (the request's own extras, and
        `temperature`, which the SDK no longer lists).

        Raises:
            BackendError: (fatal) an `extra` field the Messages API cannot take as given.
        """
        options, extra = _mapped_extra(request.extra)
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        if system:
            options["system"] = system
        if request.json_schema is not None:
            output = options.setdefault("output_config", {})
            output["format"] = {"type": "json_schema", "schema": request.json_schema}
        if self._send_temperature:
            extra["temperature"] = request.temperature
        turns = [
            {"role": m.role, "content": m.content} for m in request.messages if m.role != "system"
        ]
        params = {"model": self._model, "max_tokens": request.max_tokens, "messages": turns}
        return {**params, **options, "extra_body": extra or None}

    async def _send(self, request: Request) -> Response:
        import anthropic

        client = self._get_client()
        params = self.message_params(request)
        started = time.perf_counter()
        try:
            message = await client.messages.create(**params)
        except anthropic.APIStatusError as error:
            detail, _ = error_detail(error.body)
            headers = error.response.headers
            raise status_error(error.status_code, str(detail), headers, [self._api_key]) from None
        except anthropic.APIConnectionError as error:
            raise connection_error(error, [self._api_key], url=self._base_url) from None
        except (anthropic.APIResponseValidationError, ValueError) as error:
            message = f"invalid response body: {type(error).__name__}: {error}"
            raise BackendError(redact(message), retryable=True) from None
        return response_from_message(message, time.perf_counter() - started)

    async def aclose(self) -> None:
        """Close the HTTP connections (those of a finished event loop are just dropped)."""
        client, self._client = self._client, None
        if client is not None and self._loop is asyncio.get_running_loop():
            await client.close()


def response_from_message(message: Message, latency_s: float = 0.0) -> Response:
    """A `Response` from an SDK `Message` (a direct answer or one line of a batch)."""
    text = "".join(getattr(block, "text", "") for block in message.content)
    return Response(
        text=text,
        usage=Usage(message.usage.input_tokens, message.usage.output_tokens),
        latency_s=latency_s,
        finish_reason=_STOP_REASONS.get(str(message.stop_reason), "unknown"),
        raw=message.model_dump(mode="json"),
    )


def _mapped_extra(fields: Mapping[str, object]) -> tuple[dict[str, Any], dict[str, object]]:
    """A request's `extra` fields as the Messages API names them: (SDK arguments, extra body).

    Raises:
        BackendError: (fatal) a `reasoning_effort` the API does not know.
    """
    options: dict[str, Any] = {}
    extra: dict[str, object] = {}
    for name, value in fields.items():
        if name == "stop":
            options["stop_sequences"] = [value] if isinstance(value, str) else value
        elif name == "reasoning_effort":
            if value not in _EFFORTS:
                known = ", ".join(_EFFORTS)
                message = f"reasoning_effort={value}: Anthropic's efforts are {known}"
                raise BackendError(message, fatal=True)
            options["output_config"] = {"effort": value}
        else:
            extra[name] = value
    return options, extra
