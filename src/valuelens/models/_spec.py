"""Turn a model spec from the command line (`openai:gpt-4o-mini`) into a backend."""

from __future__ import annotations

from collections.abc import Sequence

from valuelens._errors import ValuelensError
from valuelens.models._base import Backend
from valuelens.models._pool import PooledBackend
from valuelens.models._registry import BackendRegistration, find_backend


def load_backend(spec: str, *, base_urls: Sequence[str] = (), **options: object) -> Backend:
    """Build the backend a model spec names.

    The part before the first colon is the backend's kind, looked up in the registry
    (`register_backend`); the rest names the model and may itself contain colons.

    Args:
        spec: `embedded` (the bundled small model), `embedded:/path/model.gguf`,
            `openai:MODEL`, `anthropic:MODEL`, or `KIND:MODEL` for a registered kind.
        base_urls: API roots for kinds that take one (`openai`, `anthropic`); several spread
            requests over replicas (least outstanding requests first).
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
    registration = find_backend(kind.lower(), spec)
    if not name and registration.model_required:
        raise ValuelensError(f"model spec {spec!r} names no model; e.g. {registration.kind}:MODEL")
    urls: list[str | None] = [*dict.fromkeys(base_urls)]
    _check_base_urls(registration, urls)
    factory = registration.load_factory()
    model = name or None
    if not registration.base_url:
        backend: Backend = factory(model, **options)
        return backend
    backends: list[Backend] = [factory(model, base_url=url, **options) for url in urls or [None]]
    return backends[0] if len(backends) == 1 else PooledBackend(backends)


def _check_base_urls(registration: BackendRegistration, urls: Sequence[str | None]) -> None:
    if urls and not registration.base_url:
        raise ValuelensError(f"--base-url does not apply to the {registration.kind} model")
    if len(urls) > 1 and not registration.pool:
        raise ValuelensError(f"{registration.kind} models take one --base-url, not {len(urls)}")
