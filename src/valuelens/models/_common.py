"""Helpers shared by backends: OpenAI-shaped payloads, `Retry-After`, and secret redaction."""

from __future__ import annotations

import email.utils
import errno
import math
import re
import socket
import ssl
import time
from collections.abc import Iterable, Mapping
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

from valuelens.models._base import (
    BackendError,
    FinishReason,
    Request,
    Response,
    TokenLogprob,
    Usage,
)

_FINISH_REASONS: dict[str, FinishReason] = {"stop": "stop", "length": "length"}
_KEY_PATTERN = re.compile(r"\b(?:sk|key|api)[-_][A-Za-z0-9_\-*]{8,}")
_MAX_ERROR_CHARS = 500
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r"<[^>]+>")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove secrets and anything shaped like an API key from `text`, and shorten it.

    Args:
        text: a message that may echo credentials (some providers quote the key they rejected).
        secrets: exact values to remove, e.g. the API key in use.

    Returns:
        The text on one line (runs of whitespace become one space), with `[redacted]` in place
        of secrets, at most 500 characters.
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    text = " ".join(_KEY_PATTERN.sub("[redacted]", text).split())
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "..."


def public_url(url: str) -> str:
    """The URL without user info, query or fragment, so it can name an endpoint in a cache key."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def endpoint_identity(kind: str, model: str, base_url: str) -> dict[str, str]:
    """A remote backend's identity: its kind, the model, and the endpoint without credentials."""
    return {"kind": kind, "model": model, "endpoint": public_url(base_url)}


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or an HTTP date).

    Returns:
        The delay in seconds, or None when the server did not say (or said nonsense).
    """
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis) / 1000.0
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 0:
            return value
    text = headers.get("retry-after")
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        parsed = email.utils.parsedate_tz(text)
        if parsed is None:
            return None
        return max(0.0, email.utils.mktime_tz(parsed) - time.time())
    return value if math.isfinite(value) and value >= 0 else None


def status_error(
    status: int,
    message: str,
    headers: Mapping[str, str] | None,
    secrets: Iterable[str | None] = (),
    code: str | None = None,
) -> BackendError:
    """Classify an HTTP error status the way every HTTP backend should.

    429, 408, 409 and 5xx are worth retrying (429 with the server's `Retry-After`); 401 and 403,
    and a 429 that reports an exhausted quota, stop the run; other statuses fail the request.
    """
    text = redact(f"HTTP {status}: {_plain_text(message)}", secrets)
    if status in (401, 403) or code == "insufficient_quota":
        return BackendError(text, status=status, fatal=True)
    retry_after = parse_retry_after(headers) if status == 429 else None
    retryable = status in (408, 409, 429) or status >= 500
    return BackendError(text, retryable=retryable, retry_after_s=retry_after, status=status)


def _plain_text(message: str) -> str:
    """An HTML error page (as proxies send) reduced to its title, or its text without tags."""
    if "<" not in message or not re.search(r"<(?:!doctype|html|body|head)", message, re.I):
        return message
    title = _HTML_TITLE.search(message)
    text = title.group(1) if title else _HTML_TAG.sub(" ", message)
    return f"{' '.join(text.split())} (an HTML page)"


def error_detail(body: object) -> tuple[Any, Any]:
    """The message and code of an SDK error body such as `{"error": {"message": ..., "code": ...}}`.

    Returns:
        (the message, or the most specific part of the body there is; the code, or None).
    """
    detail, code = body, None
    if isinstance(detail, dict):
        detail = detail.get("error", detail)
    if isinstance(detail, dict):
        code = detail.get("code")
        detail = detail.get("message", detail)
    return detail, code


def connection_error(
    error: Exception, secrets: Iterable[str | None] = (), *, url: str | None = None
) -> BackendError:
    """A retryable error for a request that never got an HTTP answer, secrets removed.

    Args:
        error: the client's exception (its causes are inspected too).
        secrets: exact values to remove from the message.
        url: the endpoint; when given and no connection could be made at all, the error is
            marked `unreachable` and its message names the endpoint, e.g. "cannot reach
            http://127.0.0.1:9/v1: connection refused (is the server running?)".

    Returns:
        The classified error.
    """
    reason = unreachable_reason(error) if url is not None else None
    if url is not None and reason is not None:
        message = redact(f"cannot reach {public_url(url)}: {reason}", secrets)
        return BackendError(message, retryable=True, unreachable=True)
    message = f"{type(error).__name__}: {error}"
    root = _causes(error)[-1]
    if root is not error and str(root) and str(root) not in message:
        message += f" ({type(root).__name__}: {root})"
    return BackendError(redact(message, secrets), retryable=True)


def unreachable_reason(error: BaseException) -> str | None:
    """Why no connection could be made, if that is what `error` (or one of its causes) says.

    Works for any client built on sockets (httpx and its forks, aiohttp): it looks for the
    operating system's errors in the exception's chain of causes, and for exceptions named
    `ConnectError` or `ConnectTimeout`.

    Returns:
        A short reason such as "connection refused (is the server running?)", or None when a
        connection was made (e.g. it was reset mid-answer) or the cause is unknown.
    """
    chain = _causes(error)
    for cause in chain:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused (is the server running?)"
        if isinstance(cause, socket.gaierror):
            return "host name not found (check the URL)"
        if isinstance(cause, ssl.SSLError):
            detail = getattr(cause, "verify_message", None) or getattr(cause, "reason", None)
            if detail == "WRONG_VERSION_NUMBER":
                detail += "; is the server plain http:// rather than https://?"
            return f"TLS handshake failed ({detail or cause})"
        if isinstance(cause, OSError) and cause.errno in _UNREACHABLE_ERRNOS:
            return _UNREACHABLE_ERRNOS[cause.errno]
    for cause in chain:
        names = {kind.__name__ for kind in type(cause).__mro__}
        if "ConnectTimeout" in names:
            return "no connection within the time limit"
        if "ConnectError" in names:
            return f"cannot connect ({cause})"
    return None


_UNREACHABLE_ERRNOS = {
    errno.EHOSTUNREACH: "no route to host",
    errno.ENETUNREACH: "network unreachable",
    errno.EADDRNOTAVAIL: "address not available",
}


def _causes(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(chain) < 20 and all(current is not c for c in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def chat_messages(request: Request) -> list[dict[str, str]]:
    """The request's messages as OpenAI-style dicts."""
    return [{"role": m.role, "content": m.content} for m in request.messages]


def json_schema_format(schema: Mapping[str, object]) -> dict[str, object]:
    """An OpenAI `response_format` asking for output that matches `schema`."""
    return {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": schema, "strict": is_strict_schema(schema)},
    }


def is_strict_schema(schema: object) -> bool:
    """Whether OpenAI's strict mode accepts `schema`.

    It takes closed objects that require every property, and no string length bounds.
    """
    if isinstance(schema, list):
        return all(is_strict_schema(item) for item in schema)
    if not isinstance(schema, Mapping):
        return True
    if "minLength" in schema or "maxLength" in schema:  # not in OpenAI's strict subset
        return False
    if schema.get("type") == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        if schema.get("additionalProperties", True) is not False:
            return False
        if set(schema.get("required", ())) != set(properties):
            return False
    return all(is_strict_schema(value) for value in schema.values())


def parse_chat_completion(payload: Any, latency_s: float) -> Response:
    """Read an OpenAI-shaped chat completion (also what llama.cpp's server returns).

    Args:
        payload: the decoded JSON body.
        latency_s: wall time of the call.

    Returns:
        The response; `raw` keeps the payload without the per-token log-probabilities, which
        are already in `logprobs`.

    Raises:
        BackendError: (retryable) when the body is not a chat completion, e.g. an error
            object sent with status 200 or a truncated document.
    """
    try:
        choice = payload["choices"][0]
        text = choice["message"].get("content") or ""
        finish = _FINISH_REASONS.get(str(choice.get("finish_reason")), "unknown")
        usage = payload.get("usage") or {}
        logprobs = _parse_logprobs(choice.get("logprobs"))
    except (KeyError, IndexError, TypeError, AttributeError) as error:
        detail = str(payload)[:200]
        message = f"invalid response body ({type(error).__name__}): {detail}"
        raise BackendError(message, retryable=True) from None
    raw = dict(payload)
    if logprobs is not None:
        raw["choices"] = [{k: v for k, v in c.items() if k != "logprobs"} for c in raw["choices"]]
    return Response(
        text=text,
        logprobs=logprobs,
        usage=Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)),
        latency_s=latency_s,
        finish_reason=finish,
        raw=raw,
    )


def _parse_logprobs(block: Any) -> tuple[TokenLogprob, ...] | None:
    if not block or not block.get("content"):
        return None
    tokens = []
    for item in cast(list[dict[str, Any]], block["content"]):
        top: dict[str, float] = {}
        for alternative in item.get("top_logprobs") or ():
            top.setdefault(alternative["token"], float(alternative["logprob"]))
        tokens.append(TokenLogprob(item["token"], float(item["logprob"]), top))
    return tuple(tokens)
