"""The one small interface every model backend implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias, runtime_checkable

from pydantic import JsonValue

JsonObject: TypeAlias = dict[str, JsonValue]
"""A JSON object (`JsonValue` is pydantic's: any value `json.loads` can return)."""
Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length", "error", "unknown"]


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: Role
    content: str


@dataclass(frozen=True)
class Request:
    """Everything that determines a model's answer (and so its cache key).

    Attributes:
        messages: the chat messages.
        temperature: sampling temperature.
        max_tokens: upper bound on generated tokens.
        json_schema: when set, ask the backend to constrain output to this JSON schema.
        top_logprobs: when set, return this many top log-probabilities per generated token.
        seed: sampling seed, where the backend honours one.
        extra: other request fields, in the OpenAI chat-completions vocabulary (`top_p`,
            `stop`, `reasoning_effort`, or any field the server knows), which backends merge
            into what they send (mapping names where their API differs). Model arguments
            (`-M`, `valuelens.models._args`) arrive here. Part of the cache key when not empty.
        metadata: caller's bookkeeping (task, variant id, item key). Not sent to the model and
            not part of the cache key.
    """

    messages: tuple[Message, ...]
    temperature: float = 0.2
    max_tokens: int = 512
    json_schema: JsonObject | None = None
    top_logprobs: int | None = None
    seed: int | None = 0
    extra: JsonObject = field(default_factory=dict, hash=False)
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token with its log-probability and the top alternatives at that position."""

    token: str
    logprob: float
    top: dict[str, float]


@dataclass(frozen=True)
class Usage:
    """Token counts reported by the backend."""

    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class Response:
    """A model's answer to one request."""

    text: str
    logprobs: tuple[TokenLogprob, ...] | None = None
    usage: Usage = Usage()
    latency_s: float = 0.0
    finish_reason: FinishReason = "unknown"
    raw: JsonObject | None = None


@dataclass(frozen=True)
class Capabilities:
    """What a backend supports, so tasks can choose a scoring mode."""

    json_schema: bool = False
    logprobs: bool = False
    max_top_logprobs: int = 0
    # Requests the backend can work on at once (e.g. llama.cpp slots); None: no limit of its own.
    max_concurrency: int | None = None
    # Runs inside this process: a timed-out call cannot be cancelled (its thread keeps
    # decoding), so the runner sets no time limit rather than retry on top of it.
    in_process: bool = False


class BackendError(Exception):
    """A failed model call, classified so the runner knows whether to try again.

    Backends translate their SDK's errors into this one type. The message must never contain
    secrets (API keys).

    Attributes:
        retryable: sending the same request again may succeed (rate limits, 5xx, timeouts,
            dropped connections, truncated or invalid bodies).
        retry_after_s: how long the server asked us to wait (`Retry-After`), if it said.
        status: the HTTP status code, if there was one.
        fatal: no request can succeed (bad credentials, exhausted quota); the run stops.
        unreachable: no connection could be made at all (connection refused, a host name
            that does not resolve, a failed TLS handshake, a connect timeout): the endpoint,
            not the request, is the problem. The message names the endpoint. The runner
            stops soon when an endpoint it never reached stays unreachable; a pool sends
            the request to another endpoint.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after_s: float | None = None,
        status: int | None = None,
        fatal: bool = False,
        unreachable: bool = False,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after_s = retry_after_s
        self.status = status
        self.fatal = fatal
        self.unreachable = unreachable


@runtime_checkable
class NoteSource(Protocol):
    """A backend with news for the user that is not an error.

    For example: one endpoint of a pool is down and its requests go to the others. The runner
    collects the notes after each request and shows each one once.
    """

    def take_notes(self) -> list[str]:
        """The notes since the last call (each note is given once)."""
        ...


@runtime_checkable
class Backend(Protocol):
    """A model that answers requests asynchronously.

    `identity` names what determines its answers (backend kind, model, endpoint) for the cache
    key; it never contains secrets.
    """

    @property
    def identity(self) -> dict[str, str]: ...

    @property
    def capabilities(self) -> Capabilities: ...

    async def complete(self, request: Request) -> Response: ...

    async def aclose(self) -> None: ...
