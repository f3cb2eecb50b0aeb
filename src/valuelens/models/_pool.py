"""One backend over several endpoints of the same model (replicas behind different URLs)."""

from __future__ import annotations

from collections.abc import Sequence

from valuelens.models._base import Backend, Capabilities, Request, Response


class PooledBackend:
    """Sends each request to the endpoint with the fewest requests outstanding.

    Replicas serve the same model, so the identity (and the cache key) names the whole set of
    endpoints rather than the one that happened to answer.
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
        """Send `request` to the least busy endpoint (ties rotate)."""
        count = len(self._backends)
        start = self._next
        self._next = (start + 1) % count
        index = min(range(count), key=lambda i: (self._outstanding[i], (i - start) % count))
        self._outstanding[index] += 1
        try:
            return await self._backends[index].complete(request)
        finally:
            self._outstanding[index] -= 1

    async def aclose(self) -> None:
        """Close every endpoint."""
        for backend in self._backends:
            await backend.aclose()
