from __future__ import annotations

import pytest

from valuelens import ValuelensError
from valuelens.models import (
    AnthropicBackend,
    Backend,
    EmbeddedBackend,
    OpenAIBackend,
    PooledBackend,
    load_backend,
)


def test_specs_build_the_named_backends() -> None:
    assert isinstance(load_backend("embedded"), EmbeddedBackend)
    openai = load_backend("openai:gpt-4o-mini")
    assert isinstance(openai, OpenAIBackend)
    assert openai.identity == {
        "kind": "openai",
        "model": "gpt-4o-mini",
        "endpoint": "https://api.openai.com/v1",
    }
    claude = load_backend("anthropic:claude-sonnet-4-20250514")
    assert isinstance(claude, AnthropicBackend)
    assert claude.identity["model"] == "claude-sonnet-4-20250514"
    assert all(isinstance(b, Backend) for b in (openai, claude))


def test_model_names_may_contain_colons_and_slashes() -> None:
    backend = load_backend("openai:meta-llama/Llama-3.1-8B:free", base_urls=["http://h:8000/v1/"])
    assert backend.identity == {
        "kind": "openai",
        "model": "meta-llama/Llama-3.1-8B:free",
        "endpoint": "http://h:8000/v1",
    }


def test_several_base_urls_make_one_pooled_backend() -> None:
    urls = ["http://b:8000/v1", "http://a:8000/v1", "http://b:8000/v1"]
    backend = load_backend("openai:qwen", base_urls=urls)
    assert isinstance(backend, PooledBackend)
    assert backend.outstanding == (0, 0)  # duplicates dropped
    assert backend.identity["endpoint"] == "http://a:8000/v1 http://b:8000/v1"


def test_credentials_in_a_base_url_stay_out_of_the_identity() -> None:
    backend = load_backend(
        "openai:m", base_urls=["https://user:s3cret-token@host.example:8443/v1?key=abc"]
    )
    assert backend.identity["endpoint"] == "https://host.example:8443/v1"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gpt-4o", "unknown model spec 'gpt-4o'; use embedded"),
        ("vllm:llama", "unknown model spec"),
        ("openai:", "names no model"),
        ("anthropic", "names no model"),
    ],
)
def test_bad_specs_are_one_clear_line(spec: str, message: str) -> None:
    with pytest.raises(ValuelensError, match=message) as caught:
        load_backend(spec)
    assert "\n" not in str(caught.value)


def test_base_url_with_embedded_is_refused() -> None:
    with pytest.raises(ValuelensError, match="does not apply"):
        load_backend("embedded", base_urls=["http://x/v1"])
