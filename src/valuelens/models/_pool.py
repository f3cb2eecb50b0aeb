"""One backend over several endpoints of the same model (replicas behind different URLs)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from valuelens.models._base import Backend, BackendError, Capabilities, Request, Response

# An endpoint that could not be reached gets no requests for this long, then one to probe it.
UNREACHABLE_COOLDOWN_S = 5.0


class PooledBackend:
    """Sends each request to the endpoint with the fewest requests outstanding.

    Replicas serve the same model, so the identity (and the cache key) names the whole set of
    endpoints rather than the one that happened to answer.

    An endpoint that cannot be reached (connection refused, unknown host) is rested for a few
    seconds while its requests go to the others, and the user is told once (`take_notes`).
    Only when no endpoint can be reached does a request fail, as `unreachable`.
    """

    def __init__(self, backends: Sequence[Backend]) -> None:
        """Pool `backends`, which must share kind and model.

        Raises:
            ValueError: if `backends` is empty or mixes models.
        """
        if not backends:
            raise ValueError("a pool needs at least one backend")
        identities = [b.identity for b in backends]
        if len({(i["kind"], i["model"]) for i in identities}) != 1:
            raise ValueError("pooled backends must serve the same model")
        self._backends = list(backends)
        self._outstanding = [0] * len(backends)
        self._down_until = [0.0] * len(backends)
        self._down_errors: dict[int, str] = {}
        self._warned: set[int] = set()
        self._notes: list[str] = []
        self._next = 0
        endpoints = sorted({i.get("endpoint", "") for i in identities})
        self._identity = {**identities[0], "endpoint": " ".join(endpoints)}

    @property
    def identity(self) -> dict[str, str]:
        """Kind, model, and all endpoints (sorted, space-separated)."""
        return dict(self._identity)

    @property
    def capabilities(self) -> Capabilities:
        """What every endpoint supports."""
        each = [b.capabilities for b in self._backends]
        return Capabilities(
            json_schema=all(c.json_schema for c in each),
            logprobs=all(c.logprobs for c in each),
            max_top_logprobs=min(c.max_top_logprobs for c in each),
            max_concurrency=None
            if any(c.max_concurrency is None for c in each)
            else sum(c.max_concurrency or 0 for c in each),
        )

    @property
    def outstanding(self) -> tuple[int, ...]:
        """Requests in flight per endpoint, in the order given."""
        return tuple(self._outstanding)

    async def complete(self, request: Request) -> Response:
        """Send `request` to the least busy endpoint that is up (ties rotate).

        Raises:
            BackendError: the endpoint's error; when no endpoint can be reached, one naming
                every endpoint (`unreachable`).
        """
        tried: set[int] = set()
        while (index := self._choose(tried)) is not None:
            self._outstanding[index] += 1
            try:
                response = await self._backends[index].complete(request)
            except BackendError as error:
                if not error.unreachable:
                    raise
                self._mark_down(index, error)
                tried.add(index)
                continue
            finally:
                self._outstanding[index] -= 1
            self._down_errors.pop(index, None)
            return response
        reasons = "; ".join(self._down_errors[i] for i in sorted(self._down_errors))
        message = f"no endpoint can be reached: {reasons}"
        raise BackendError(message, retryable=True, unreachable=True)

    def _choose(self, tried: set[int]) -> int | None:
        count = len(self._backends)
        now = time.monotonic()
        candidates = [i for i in range(count) if i not in tried and self._down_until[i] <= now]
        if not candidates:
            return None
        start = self._next
        self._next = (start + 1) % count
        return min(candidates, key=lambda i: (self._outstanding[i], (i - start) % count))

    def _mark_down(self, index: int, error: BackendError) -> None:
        self._down_until[index] = time.monotonic() + UNREACHABLE_COOLDOWN_S
        self._down_errors[index] = str(error)
        if index not in self._warned and len(self._backends) > 1:
            self._warned.add(index)
            self._notes.append(f"{error}; its requests go to the other endpoints meanwhile")

    def take_notes(self) -> list[str]:
        """What the user should know, once: endpoints found unreachable since the last call."""
        notes, self._notes = self._notes, []
        return notes

    async def aclose(self) -> None:
        """Close every endpoint."""
        for backend in self._backends:
            await backend.aclose()
