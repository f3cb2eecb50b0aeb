"""Fixtures for backend tests: the real bundled model, loaded once per session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from valuelens.models import EmbeddedBackend, default_model_path


@pytest.fixture(scope="session")
def embedded() -> Iterator[EmbeddedBackend]:
    """The bundled SmolLM2 model in-process (small slots keep memory low)."""
    backend = EmbeddedBackend(n_parallel=2, n_ctx_per_slot=2048)
    backend.load()
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def llama_server_url() -> Iterator[str]:
    """A real llama.cpp OpenAI-compatible HTTP server on 127.0.0.1 serving the bundled model."""
    import xllamacpp

    params: Any = xllamacpp.CommonParams()
    params.model.path = str(default_model_path())
    params.n_parallel = 2
    params.n_ctx = 4096
    params.cpuparams.n_threads = 1
    params.cpuparams_batch.n_threads = 1
    params.verbosity = -1
    params.warmup = False
    server = xllamacpp.Server(params)
    address = server.listening_address
    assert address.startswith("http://127.0.0.1:")
    yield f"{address}/v1"
    del server


@pytest.fixture(autouse=True)
def _no_real_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests talk to local servers only; a developer's real key must never be sent.
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
