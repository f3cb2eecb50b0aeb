"""Cache keys: a hash of everything that determines a model's answer, and nothing else."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from valuelens.models import Request

# Bump when the canonical form changes, so old and new keys can never collide.
KEY_VERSION = 1


def canonical_request(request: Request, identity: Mapping[str, str]) -> str:
    """The request as canonical JSON: backend identity, messages, sampling settings, schema, seed.

    The request's `extra` fields are included only when there are any, so the keys of requests
    without them are those of earlier versions. Metadata, timeouts, retries and concurrency are
    left out: they do not change the answer.
    """
    document = {
        "v": KEY_VERSION,
        "backend": dict(identity),
        "messages": [[message.role, message.content] for message in request.messages],
        "temperature": float(request.temperature),
        "max_tokens": int(request.max_tokens),
        "json_schema": request.json_schema,
        "top_logprobs": request.top_logprobs,
        "seed": request.seed,
    }
    if request.extra:
        document["extra"] = request.extra
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_key(request: Request, identity: Mapping[str, str]) -> str:
    """The store key of `request` sent to the backend described by `identity`.

    Args:
        request: the request.
        identity: the backend's `identity` (kind, model, endpoint).

    Returns:
        A SHA-256 hex digest.

    Example:
        >>> key = request_key(request, backend.identity)
    """
    return _digest(canonical_request(request, identity))


def _digest(canonical: str) -> str:
    return hashlib.sha256(canonical.encode()).hexdigest()
