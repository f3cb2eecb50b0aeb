"""Any OpenAI-compatible chat endpoint (OpenAI, vLLM, SGLang, Ollama, llama.cpp server) via `openai`."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import TYPE_CHECKING, Any

from valuelens.models._base import BackendError, Capabilities, Request, Response
from valuelens.models._common import (
    chat_messages,
    connection_error,
    endpoint_identity,
    error_detail,
    json_schema_format,
    parse_chat_completion,
    status_error,
)

if TYPE_CHECKING:
    import openai

OPENAI_URL = "https://api.openai.com/v1"
_PLACEHOLDER_KEY = "no-key-needed"
_SCHEMA_REJECTED = (400, 422)


class OpenAIBackend:
    """Chat completions from one OpenAI-compatible endpoint, through the official async client.

    The client's own retries are off: the runner retries, so that it can count attempts and
    record failures. Requests go through the client's generic `post` with a plain JSON body
    and the JSON answer is read directly; this skips the SDK's per-call type transforms, which
    cost more CPU than everything else the runner does per request.

    Example:
        >>> backend = OpenAIBackend("gpt-4o-mini")  # key from OPENAI_API_KEY
        >>> local = OpenAIBackend("qwen2.5-7b", base_url="http://127.0.0.1:8000/v1")
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout_s: float = 600.0,
        max_connections: int = 1000,
        client_shards: int = 8,
    ) -> None:
        """Describe the endpoint; nothing is contacted until the first request.

        Args:
            model: the model name the endpoint serves.
            base_url: the API root (ending in `/v1` for most servers); OpenAI's when None.
            api_key_env: the environment variable that holds the key. With a custom
                `base_url` and no key set, a placeholder key is sent (local servers need none).
            timeout_s: the HTTP client's own timeout (the runner applies its own as well).
            max_connections: connection pool size (over all shards).
            client_shards: independent clients to spread requests over. The HTTP pool checks
                every idle connection on each request, so several small pools cost less CPU
                than one big one at high concurrency.
        """
        self._model = model
        self._base_url = (base_url or OPENAI_URL).rstrip("/")
        self._api_key_env = api_key_env
        self._timeout_s = timeout_s
        self._max_connections = max_connections
        self._shards = max(1, client_shards)
        self._clients: list[openai.AsyncOpenAI] = []
        self._in_flight: list[int] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._api_key: str | None = None
        self._schema_supported = True
        # OpenAI's newer models accept only `max_completion_tokens`; other servers know `max_tokens`.
        self._max_tokens_field = (
            "max_completion_tokens" if self._base_url == OPENAI_URL else "max_tokens"
        )
        self._identity = endpoint_identity("openai", model, self._base_url)

    @property
    def identity(self) -> dict[str, str]:
        """Backend kind, model and endpoint (never the key)."""
        return dict(self._identity)

    @property
    def capabilities(self) -> Capabilities:
        """JSON-schema output (when the server accepts it) and top log-probabilities."""
        return Capabilities(json_schema=self._schema_supported, logprobs=True, max_top_logprobs=20)

    def _connect(self) -> list[openai.AsyncOpenAI]:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # Pooled connections belong to the loop that opened them (an earlier asyncio.run).
            self._clients, self._loop = [], loop
        if not self._clients:
            import httpx2
            import openai

            key = os.environ.get(self._api_key_env) or None
            if key is None:
                if self._base_url == OPENAI_URL:
                    message = f"{self._api_key_env} is not set; export it, or pass --base-url"
                    raise BackendError(message, fatal=True)
                key = _PLACEHOLDER_KEY
            self._api_key = key
            per_shard = max(1, self._max_connections // self._shards)
            limits = httpx2.Limits(max_connections=per_shard, max_keepalive_connections=per_shard)
            self._clients = [
                openai.AsyncOpenAI(
                    api_key=key,
                    base_url=self._base_url,
                    max_retries=0,
                    timeout=self._timeout_s,
                    http_client=openai.DefaultAsyncHttpxClient(limits=limits),
                )
                for _ in range(self._shards)
            ]
            self._in_flight = [0] * self._shards
        return self._clients

    async def complete(self, request: Request) -> Response:
        """Send one chat completion.

        Raises:
            BackendError: classified for the runner (see `BackendError`).
        """
        body = self._body(request)
        try:
            return await self._send(body)
        except BackendError as error:
            if not ("response_format" in body and error.status in _SCHEMA_REJECTED):
                raise
        # The server refused structured output: ask for plain text, and if that works,
        # stop offering the schema to this endpoint.
        del body["response_format"]
        response = await self._send(body)
        self._schema_supported = False
        return response

    def _body(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self._model,
            "messages": chat_messages(request),
            "temperature": request.temperature,
            self._max_tokens_field: request.max_tokens,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.json_schema is not None and self._schema_supported:
            body["response_format"] = json_schema_format(request.json_schema)
        if request.top_logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = request.top_logprobs
        return body

    async def _send(self, body: dict[str, Any]) -> Response:
        import httpx2
        import openai

        clients = self._connect()
        in_flight = self._in_flight
        shard = in_flight.index(min(in_flight))
        in_flight[shard] += 1
        started = time.perf_counter()
        try:
            http_response = await clients[shard].post(
                "/chat/completions", cast_to=httpx2.Response, body=body
            )
            payload = json.loads(http_response.content)
        except openai.APIStatusError as error:
            raise self._status_error(error) from None
        except openai.APIConnectionError as error:
            raise connection_error(error, [self._api_key], url=self._base_url) from None
        except ValueError as error:
            message = f"invalid JSON body: {error}"
            raise BackendError(message, retryable=True, status=200) from None
        finally:
            in_flight[shard] -= 1
        return parse_chat_completion(payload, time.perf_counter() - started)

    def _status_error(self, error: openai.APIStatusError) -> BackendError:
        detail, code = error_detail(error.body)
        message = str(detail) if detail else error.response.reason_phrase
        headers = error.response.headers
        return status_error(error.status_code, message, headers, [self._api_key], code)

    async def aclose(self) -> None:
        """Close the HTTP connections (those of a finished event loop are just dropped)."""
        clients, self._clients = self._clients, []
        if self._loop is not asyncio.get_running_loop():
            return
        for client in clients:
            await client.close()
