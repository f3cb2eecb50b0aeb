"""Turn a model spec from the command line (`openai:gpt-4o-mini`) into a backend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from valuelens._errors import ValuelensError
from valuelens.models._anthropic import AnthropicBackend
from valuelens.models._base import Backend
from valuelens.models._embedded import EmbeddedBackend
from valuelens.models._openai import OpenAIBackend
from valuelens.models._pool import PooledBackend

SPEC_HELP = (
    "use embedded, embedded:/path/model.gguf, openai:MODEL [--base-url URL] or anthropic:MODEL"
)


def load_backend(spec: str, *, base_urls: Sequence[str] = (), **options: Any) -> Backend:
    """Build the backend a model spec names.

    Args:
        spec: `embedded` (the bundled small model), `embedded:/path/model.gguf`,
            `openai:MODEL` or `anthropic:MODEL`.
        base_urls: API roots for `openai`/`anthropic`; several spread requests over replicas
            (least outstanding requests first).
        **options: passed to the backend's constructor (e.g. `timeout_s`, `api_key_env`,
            `n_parallel`).

    Returns:
        A backend; nothing is loaded or contacted yet.

    Raises:
        ValuelensError: for an unknown or incomplete spec.

    Example:
        >>> backend = load_backend("openai:qwen2.5-7b", base_urls=["http://gpu1:8000/v1"])
    """
    kind, _, name = spec.strip().partition(":")
    kind = kind.lower()
    if kind == "embedded":
        if base_urls:
            raise ValuelensError("--base-url does not apply to the embedded model")
        return EmbeddedBackend(name or None, **options)
    if kind not in ("openai", "anthropic"):
        raise ValuelensError(f"unknown model spec {spec!r}; {SPEC_HELP}")
    if not name:
        raise ValuelensError(f"model spec {spec!r} names no model; e.g. {kind}:MODEL")
    factory = OpenAIBackend if kind == "openai" else AnthropicBackend
    urls: list[str | None] = [*dict.fromkeys(base_urls)] or [None]
    backends: list[Backend] = [factory(name, base_url=url, **options) for url in urls]
    return backends[0] if len(backends) == 1 else PooledBackend(backends)
