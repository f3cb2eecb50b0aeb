"""Helpers for the task tests: results shaped like the runner's, built from a request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from valuelens.models import Request, Response, TokenLogprob


@dataclass(frozen=True)
class FakeResult:
    """The three attributes tasks read from a runner result."""

    request: Request
    response: Response | None
    error: str | None = None


def _answer(
    request: Request,
    text: str | None = None,
    *,
    top: list[dict[str, float]] | None = None,
    error: str | None = None,
    response: Response | None = None,
) -> FakeResult:
    if error is not None:
        return FakeResult(request, None, error)
    if response is not None:
        return FakeResult(request, response)
    logprobs = None
    if top is not None:
        logprobs = tuple(
            TokenLogprob(
                token=max(alternatives, key=alternatives.__getitem__),
                logprob=max(alternatives.values()),
                top=alternatives,
            )
            for alternatives in top
        )
    return FakeResult(request, Response(text=text or "", logprobs=logprobs))


@pytest.fixture
def answer() -> Callable[..., FakeResult]:
    """answer(request, text, top=[{token: logprob}, ...] | error=... | response=...) -> result."""
    return _answer
