from __future__ import annotations

import email.utils
import errno
import itertools
import socket
import ssl
import time
from typing import Any

import pytest

from valuelens.models import BackendError
from valuelens.models._common import (
    connection_error,
    is_strict_schema,
    parse_chat_completion,
    parse_retry_after,
    redact,
    status_error,
)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after-ms": "soon", "retry-after": "2"}, 2.0),
        ({"retry-after": "-1"}, None),
        ({"retry-after": "whenever"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_retry_after(headers: dict[str, str] | None, expected: float | None) -> None:
    assert parse_retry_after(headers) == expected


def test_retry_after_as_http_date() -> None:
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    delay = parse_retry_after({"retry-after": later})
    assert delay is not None and 25 <= delay <= 31


@pytest.mark.parametrize(
    ("status", "retryable", "fatal"),
    [(429, True, False), (500, True, False), (503, True, False), (408, True, False),
     (400, False, False), (404, False, False), (401, False, True), (403, False, True)],
)  # fmt: skip
def test_status_classification(status: int, retryable: bool, fatal: bool) -> None:
    error = status_error(status, "nope", {"retry-after": "2"})
    assert (error.retryable, error.fatal, error.status) == (retryable, fatal, status)
    assert error.retry_after_s == (2.0 if status == 429 else None)


def test_exhausted_quota_is_fatal_not_retried() -> None:
    error = status_error(429, "You exceeded your current quota", {}, code="insufficient_quota")
    assert error.fatal


def test_redact_removes_given_secrets_and_key_shapes() -> None:
    text = "Incorrect API key provided: sk-proj-abcdefgh12345678. Also mysecretvalue."
    cleaned = redact(text, ["mysecretvalue", None, ""])
    assert "abcdefgh12345678" not in cleaned and "mysecretvalue" not in cleaned
    assert cleaned.count("[redacted]") == 2
    assert len(redact("x" * 5000)) == 500


@pytest.mark.parametrize(
    ("schema", "strict"),
    [
        ({"type": "object", "properties": {"a": {}}, "required": ["a"],
          "additionalProperties": False}, True),
        ({"type": "object", "properties": {"a": {}}, "required": ["a"]}, False),
        ({"type": "object", "properties": {"a": {}, "b": {}}, "required": ["a"],
          "additionalProperties": False}, False),
        ({"type": "integer", "enum": [1, 2, 3, 4]}, True),
        ({"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {}},
          "required": ["b"]}}, "required": ["a"], "additionalProperties": False}, False),
        ({"type": "object", "properties": {"a": {"type": "string", "maxLength": 9}},
          "required": ["a"], "additionalProperties": False}, False),
    ],
)  # fmt: skip
def test_strict_schema_detection(schema: dict[str, Any], strict: bool) -> None:
    assert is_strict_schema(schema) is strict


@pytest.mark.parametrize(
    "payload",
    [{"error": {"message": "overloaded"}}, {"choices": []}, {"choices": [{"text": "x"}]}, [], None],
)
def test_bodies_that_are_not_completions_are_retryable_errors(payload: Any) -> None:
    with pytest.raises(BackendError) as caught:
        parse_chat_completion(payload, 0.1)
    assert caught.value.retryable


def test_completion_with_logprobs_keeps_raw_without_duplicating_them() -> None:
    payload = {
        "choices": [
            {
                "message": {"content": "1"},
                "finish_reason": "length",
                "logprobs": {
                    "content": [
                        {
                            "token": "1",
                            "logprob": -0.1,
                            "top_logprobs": [
                                {"token": "1", "logprob": -0.1},
                                {"token": "2", "logprob": -2.5},
                                {"token": "2", "logprob": -9.0},
                            ],
                        }
                    ]
                },
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 1},
    }
    response = parse_chat_completion(payload, 0.2)
    assert response.text == "1" and response.finish_reason == "length"
    assert response.logprobs is not None
    assert response.logprobs[0].top == {"1": -0.1, "2": -2.5}
    assert response.raw is not None and "logprobs" not in response.raw["choices"][0]
    assert "logprobs" in payload["choices"][0]  # the caller's payload is untouched


def _chained(*errors: Exception) -> Exception:
    """`errors[0]` raised while handling `errors[1]`, and so on, like a client's wrapping."""
    for outer, inner in itertools.pairwise(errors):
        outer.__cause__ = inner
    return errors[0]


class ConnectError(Exception):
    """Named like httpx's, which the classifier recognises by name."""


@pytest.mark.parametrize(
    ("cause", "reason"),
    [
        (ConnectionRefusedError(111, "Connect call failed"), "connection refused"),
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "host name not found"),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), "TLS handshake failed"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "no route to host"),
        (ConnectError("All connection attempts failed"), "cannot connect"),
    ],
)
def test_connection_failures_are_unreachable_and_name_the_endpoint(
    cause: Exception, reason: str
) -> None:
    wrapped = _chained(RuntimeError("Connection error."), OSError("attempts failed"), cause)
    secret = "sk-live-0123456789abcdef"

    error = connection_error(
        wrapped,
        [secret],
        url=f"https://me:{secret}@gpu1.example:8000/v1/?token=x",
    )

    assert error.unreachable and error.retryable and not error.fatal
    assert str(error).startswith(f"cannot reach https://gpu1.example:8000/v1: {reason}")
    assert secret not in str(error)


@pytest.mark.parametrize(
    "cause",
    [ConnectionResetError(104, "Connection reset by peer"), ValueError("bad"), TimeoutError()],
)
def test_errors_after_connecting_are_not_unreachable(cause: Exception) -> None:
    error = connection_error(_chained(RuntimeError("Connection error."), cause), url="http://h/v1")
    assert error.retryable and not error.unreachable
    detail = f" ({type(cause).__name__}: {cause})" if str(cause) else ""  # how it broke
    assert str(error) == f"RuntimeError: Connection error.{detail}"


def test_without_a_url_nothing_is_marked_unreachable() -> None:
    error = connection_error(_chained(RuntimeError("x"), ConnectionRefusedError()))
    assert not error.unreachable
