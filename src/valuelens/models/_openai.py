"""Any OpenAI-compatible chat endpoint (OpenAI, vLLM, SGLang, Ollama, llama.cpp server).

Requests go over HTTP/1.1 keep-alive connections on asyncio protocols, framed by h11
(`_http11.py`), with a pre-serialised JSON body; the SDK's client layers, and the connection
pool under them, cost more CPU per request than everything else the runner does
(benchmarks/README.md has the figures). Where a proxy applies (`HTTPS_PROXY`, ...), the `httpx2`
client is used instead, which honours it as the SDK would.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.request
from typing import Protocol
from urllib.parse import urlsplit

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
from valuelens.models._http11 import Answer, Http11Transport

OPENAI_URL = "https://api.openai.com/v1"
_PLACEHOLDER_KEY = "no-key-needed"
_SCHEMA_REJECTED = (400, 422)


class _Transport(Protocol):
    """Posts a JSON body; raises `BackendError` (connection errors) and nothing else."""

    async def post(self, url: str, body: bytes, headers: list[tuple[str, str]]) -> Answer: ...

    async def aclose(self) -> None: ...


class _ClientTransport:
    """The `httpx2` client (proxies from the environment, as the SDK's own client)."""

    def __init__(
        self, endpoint: str, max_connections: int, timeout_s: float, secrets: list[str | None]
    ) -> None:
        import httpx2

        limits = httpx2.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._client = httpx2.AsyncClient(limits=limits, timeout=timeout_s, follow_redirects=True)
        self._errors: tuple[type[Exception], ...] = (httpx2.TransportError,)
        self._secrets = secrets
        self._endpoint = endpoint  # the API root, which connection errors name

    async def post(self, url: str, body: bytes, headers: list[tuple[str, str]]) -> Answer:
        try:
            answer = await self._client.post(url, content=body, headers=headers)
        except self._errors as error:
            raise connection_error(error, self._secrets, url=self._endpoint) from None
        lower = {name.lower(): value for name, value in answer.headers.items()}
        return Answer(answer.status_code, answer.reason_phrase, lower, answer.content)

    async def aclose(self) -> None:
        await self._client.aclose()


def uses_proxy(url: str) -> bool:
    """Whether the environment routes `url` through a proxy (`HTTPS_PROXY`, `NO_PROXY`, ...)."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(parts.hostname or "")


def _error_body(content: bytes) -> object:
    """An error body as the SDK reads it: JSON when it parses, the stripped text otherwise."""
    text = content.decode("utf-8", errors="replace").strip()
    try:
        return json.loads(text)
    except ValueError:
        return text


class OpenAIBackend:
    """Chat completions from one OpenAI-compatible endpoint, over a lean HTTP transport.

    Nothing is retried here: the runner retries, so that it can count attempts and record
    failures. The headers are the SDK's that matter: `Authorization: Bearer <key>`, and
    `OpenAI-Organization` / `OpenAI-Project` from `OPENAI_ORG_ID` / `OPENAI_PROJECT_ID` when set.
    A request's `extra` fields (`top_p`, `stop`, `reasoning_effort`, ...) go into the JSON
    body as they are.

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
            timeout_s: the HTTP timeout of each phase (connect, write, read); the runner
                applies its own as well.
            max_connections: connection pool size (over all shards).
            client_shards: independent connection pools (of this one endpoint) to spread
                requests over. A pool scans all its connections and waiting requests on each
                request, so several small pools cost less CPU than one big one at high
                concurrency.
        """
        self._model = model
        self._base_url = (base_url or OPENAI_URL).rstrip("/")
        self._api_key_env = api_key_env
        self._timeout_s = timeout_s
        self._max_connections = max_connections
        self._shards = max(1, client_shards)
        self._transports: list[_Transport] = []
        self._in_flight: list[int] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._api_key: str | None = None
        self._headers: list[tuple[str, str]] = []
        self._url = f"{self._base_url}/chat/completions"
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

    def _connect(self) -> list[_Transport]:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # Pooled connections belong to the loop that opened them (an earlier asyncio.run).
            self._transports, self._loop = [], loop
        if not self._transports:
            key = self.api_key()
            self._api_key = key
            self._headers = _request_headers(key)
            per_shard = max(1, self._max_connections // self._shards)
            kind: type[_ClientTransport | Http11Transport] = (
                _ClientTransport if uses_proxy(self._base_url) else Http11Transport
            )
            self._transports = [
                kind(self._base_url, per_shard, self._timeout_s, [key]) for _ in range(self._shards)
            ]
            self._in_flight = [0] * self._shards
        return self._transports

    def api_key(self) -> str:
        """The key from the environment; a placeholder for a custom endpoint without one.

        Raises:
            BackendError: (fatal) OpenAI's own endpoint and no key set.
        """
        key = os.environ.get(self._api_key_env) or None
        if key is not None:
            return key
        if self._base_url == OPENAI_URL:
            message = f"{self._api_key_env} is not set; export it, or pass --base-url"
            raise BackendError(message, fatal=True)
        return _PLACEHOLDER_KEY

    async def complete(self, request: Request) -> Response:
        """Send one chat completion.

        Raises:
            BackendError: classified for the runner (see `BackendError`).
        """
        body = self.request_body(request)
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

    def request_body(self, request: Request) -> dict[str, object]:
        """The chat-completion JSON body this backend sends for `request` (also a batch line's)."""
        body: dict[str, object] = {
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
        for name, value in request.extra.items():
            body.setdefault(name, value)  # the request's own fields win over extra ones
        return body

    async def _send(self, body: dict[str, object]) -> Response:
        transports = self._connect()
        in_flight = self._in_flight
        shard = in_flight.index(min(in_flight))
        in_flight[shard] += 1
        started = time.perf_counter()
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            answer = await transports[shard].post(self._url, data, self._headers)
        finally:
            in_flight[shard] -= 1
        if not 200 <= answer.status < 300:
            raise self._status_error(answer)
        try:
            payload = json.loads(answer.content)
        except ValueError as error:
            message = f"invalid JSON body: {error}"
            raise BackendError(message, retryable=True, status=answer.status) from None
        return parse_chat_completion(payload, time.perf_counter() - started)

    def _status_error(self, answer: Answer) -> BackendError:
        detail, code = error_detail(_error_body(answer.content))
        message = str(detail) if detail else answer.reason
        return status_error(answer.status, message, answer.headers, [self._api_key], code)

    async def aclose(self) -> None:
        """Close the HTTP connections (those of a finished event loop are just dropped)."""
        transports, self._transports = self._transports, []
        if self._loop is not asyncio.get_running_loop():
            return
        for transport in transports:
            await transport.aclose()


def _request_headers(key: str) -> list[tuple[str, str]]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("valuelens")
    except PackageNotFoundError:  # running from a source tree
        release = "dev"
    headers = [
        ("Authorization", f"Bearer {key}"),
        ("Content-Type", "application/json"),
        ("Accept", "application/json"),
        ("User-Agent", f"valuelens/{release}"),
    ]
    for name, variable in (
        ("OpenAI-Organization", "OPENAI_ORG_ID"),
        ("OpenAI-Project", "OPENAI_PROJECT_ID"),
    ):
        value = os.environ.get(variable)
        if value:
            headers.append((name, value))
    return headers
