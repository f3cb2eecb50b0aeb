"""Model arguments (`-M KEY=VALUE`): parsing, the cache key, and what reaches the servers.

The request bodies are read on the real local fake server (OpenAI- and Anthropic-shaped), so
the test sees the JSON the backends actually send.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.fake_server import FakeServer, FaultConfig
from valuelens._errors import ValuelensError
from valuelens.models import AnthropicBackend, BackendError, Message, OpenAIBackend, Request
from valuelens.models._args import ArgsBackend, ModelArgs, with_model_args
from valuelens.pipeline._session import SessionSettings, open_session
from valuelens.runner import request_key

IDENTITY = {"kind": "openai", "model": "m", "endpoint": "http://127.0.0.1:1/v1"}
HI = Request(messages=(Message("user", "Hi"),), temperature=0.2, max_tokens=8, seed=0)
# The canonical JSON of HI for IDENTITY, written out by hand (keys sorted, no spaces).
HI_CANONICAL = (
    '{"backend":{"endpoint":"http://127.0.0.1:1/v1","kind":"openai","model":"m"},'
    '"json_schema":null,"max_tokens":8,"messages":[["user","Hi"]],"seed":0,'
    '"temperature":0.2,"top_logprobs":null,"v":1}'
)
# sha256 of HI_CANONICAL, as computed when this test was written (and as earlier versions keyed).
HI_KEY = "a9a0cc067eca7ccc3c68c2756c39ef2983a11460fe7b0bd30886d09fc49af1c3"


class _Fixed:
    """A backend that answers nothing; only its identity matters here."""

    @property
    def identity(self) -> dict[str, str]:
        return dict(IDENTITY)


# ---- parsing ---------------------------------------------------------------------------------


def test_values_are_json_when_they_parse_and_text_otherwise() -> None:
    args = ModelArgs.parse(
        [
            "max_tokens=64",
            "top_p=0.9",
            "reasoning_effort=low",
            "stop=END",
            'stop=["a,b", "\\n\\n"]',
            "timeout=2.5",
            "top_k=40",
            'thinking={"type": "enabled", "budget_tokens": 2048}',
            'user="42"',
            "tag=hello world",
        ]
    )
    assert (args.max_tokens, args.top_p, args.reasoning_effort) == (64, 0.9, "low")
    assert args.stop == ("END", "a,b", "\n\n")  # a comma is part of a stop sequence
    assert args.timeout_s == 2.5
    assert args.extra == {
        "top_k": 40,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "user": "42",
        "tag": "hello world",
    }


def test_a_later_key_replaces_an_earlier_and_dashes_read_as_underscores() -> None:
    args = ModelArgs.parse(["max-tokens=10", "max_tokens=20", "top_k=1", "top_k=2"])
    assert (args.max_tokens, args.extra) == (20, {"top_k": 2})


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("foo", "-M/--model-arg 'foo': expected KEY=VALUE (e.g. max_tokens=64)"),
        ("=3", "-M/--model-arg '=3': expected KEY=VALUE"),
        ("max_tokens=abc", "max_tokens: expected a whole number of at least 1, got 'abc'"),
        ("max_tokens=0", "max_tokens: expected a whole number of at least 1, got 0"),
        ("max_tokens=1.5", "max_tokens: expected a whole number of at least 1, got 1.5"),
        ("max_tokens=true", "max_tokens: expected a whole number of at least 1, got True"),
        ("top_p=2", "top_p: expected a number from 0 to 1, got 2"),
        ("top_p=high", "top_p: expected a number from 0 to 1, got 'high'"),
        ("timeout=0", "timeout: expected seconds (a number above 0), got 0"),
        ("stop=[]", "stop: expected a text or a JSON list of texts"),
        ("stop=[1]", "stop: expected a text or a JSON list of texts"),
        ("reasoning_effort=", "reasoning_effort: expected a word such as low"),
        ("temperature=0.7", "temperature: not a model argument; use --temperature"),
        ("seed=3", "seed: not a model argument; use --seed"),
        ("model=gpt-4o", "model: not a model argument; use --model"),
        ("response_format={}", "response_format: not a model argument"),
    ],
)
def test_bad_items_fail_in_one_line(item: str, expected: str) -> None:
    with pytest.raises(ValuelensError) as caught:
        ModelArgs.parse([item])
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("key", ["api_key", "API-KEY", "apikey", "access_token", "x_secret"])
def test_credentials_are_refused_and_not_repeated(key: str) -> None:
    with pytest.raises(ValuelensError) as caught:
        ModelArgs.parse([f"{key}=sk-live-0123456789"])
    message = str(caught.value)
    assert "environment variable" in message and "OPENAI_API_KEY" in message
    assert "sk-live" not in message


def test_keys_that_merely_contain_key_or_token_words_are_fields() -> None:
    assert ModelArgs.parse(["top_k=3", "monkey=1"]).extra == {"top_k": 3, "monkey": 1}


def test_a_mapping_reads_like_the_command_line() -> None:
    mapping = {"max_tokens": 64, "stop": ["END"], "top_k": 5, "timeout": 9}
    args = ModelArgs.from_mapping(mapping)
    assert args == ModelArgs.parse(["max_tokens=64", "stop=END", "top_k=5", "timeout=9"])
    with pytest.raises(ValuelensError, match="args max_tokens: expected a whole number"):
        ModelArgs.from_mapping({"max_tokens": "lots"})


def test_merged_lets_the_second_win_and_keeps_the_rest() -> None:
    shared = ModelArgs.parse(["max_tokens=64", "top_k=1", "timeout=5"])
    own = ModelArgs.parse(["max_tokens=8", "top_p=0.5", "top_k=2"])
    merged = shared.merged(own)
    assert merged.recorded() == {"max_tokens": 8, "top_p": 0.5, "top_k": 2, "timeout": 5.0}


def test_recorded_holds_every_argument_by_its_key() -> None:
    args = ModelArgs.parse(["stop=END", "timeout=3", "top_k=4", "reasoning_effort=high"])
    assert args.recorded() == {
        "stop": ["END"],
        "reasoning_effort": "high",
        "top_k": 4,
        "timeout": 3.0,
    }
    assert ModelArgs().is_empty and ModelArgs().recorded() == {}


# ---- the cache key ---------------------------------------------------------------------------


def test_a_request_without_extra_keys_as_before() -> None:
    # Pinned from the hand-written canonical form: runs without -M keep their cache.
    assert hashlib.sha256(HI_CANONICAL.encode()).hexdigest() == HI_KEY
    assert request_key(HI, IDENTITY) == HI_KEY


def test_request_extra_is_part_of_the_key_only_when_given() -> None:
    with_extra = Request(messages=HI.messages, max_tokens=8, extra={"top_p": 0.5})
    expected = HI_CANONICAL.replace('"json_schema"', '"extra":{"top_p":0.5},"json_schema"')
    assert request_key(with_extra, IDENTITY) == hashlib.sha256(expected.encode()).hexdigest()


def test_answer_changing_args_enter_the_identity_and_the_timeout_does_not() -> None:
    base = _Fixed()
    assert with_model_args(base, ModelArgs()) is base  # type: ignore[arg-type]
    assert with_model_args(base, ModelArgs.parse(["timeout=5"])) is base  # type: ignore[arg-type]
    wrapped = with_model_args(base, ModelArgs.parse(["max_tokens=64"]))  # type: ignore[arg-type]
    assert wrapped.identity == {**IDENTITY, "args": '{"max_tokens":64}'}
    expected = HI_CANONICAL.replace('"endpoint"', '"args":"{\\"max_tokens\\":64}","endpoint"')
    assert request_key(HI, wrapped.identity) == hashlib.sha256(expected.encode()).hexdigest()


def test_different_arguments_give_different_keys() -> None:
    keys = {
        request_key(HI, with_model_args(_Fixed(), ModelArgs.parse(items)).identity)  # type: ignore[arg-type]
        for items in (
            [],
            ["timeout=9"],
            ["max_tokens=64"],
            ["max_tokens=65"],
            ["top_p=0.9"],
            ["stop=END"],
            ["reasoning_effort=low"],
            ["top_k=40"],
            ["top_k=40", "timeout=3"],
        )
    }
    # [] and timeout-only share a key, as do top_k with and without a timeout: 7 distinct.
    assert len(keys) == 7


def test_apply_replaces_the_budget_and_adds_the_fields() -> None:
    args = ModelArgs.parse(["max_tokens=64", "top_p=0.9", "stop=END", "top_k=3", "timeout=4"])
    request = Request(messages=HI.messages, max_tokens=8, extra={"logit_bias": {}})
    applied = args.apply(request)
    assert applied.max_tokens == 64
    assert applied.extra == {"logit_bias": {}, "top_p": 0.9, "stop": ["END"], "top_k": 3}
    assert applied.messages == request.messages and applied.temperature == request.temperature
    assert ModelArgs.parse(["timeout=4"]).apply(request) is request


# ---- on the wire -----------------------------------------------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    started = await FakeServer(FaultConfig(retry_after="0", hang_s=60.0)).start()
    started.stats.keep_bodies = True
    yield started
    await started.close()


ARGS = [
    "max_tokens=64",
    "top_p=0.9",
    'stop=["END", "\\n\\n"]',
    "reasoning_effort=low",
    "top_k=40",
    'logit_bias={"50256": -100}',
]


async def test_openai_body_carries_the_arguments(server: FakeServer) -> None:
    inner = OpenAIBackend("m", base_url=server.base_url)
    backend = with_model_args(inner, ModelArgs.parse(ARGS))
    assert isinstance(backend, ArgsBackend)
    response = await backend.complete(HI)
    await backend.aclose()
    body = server.stats.bodies[0]
    assert body["max_tokens"] == 64  # the task asked for 8
    assert body["top_p"] == 0.9
    assert body["stop"] == ["END", "\n\n"]
    assert body["reasoning_effort"] == "low"
    assert body["top_k"] == 40 and body["logit_bias"] == {"50256": -100}
    assert body["temperature"] == 0.2 and body["seed"] == 0 and body["model"] == "m"
    assert response.text


async def test_openai_body_without_arguments_is_unchanged(server: FakeServer) -> None:
    backend = OpenAIBackend("m", base_url=server.base_url)
    await backend.complete(HI)
    await backend.aclose()
    assert set(server.stats.bodies[0]) == {"model", "messages", "temperature", "max_tokens", "seed"}


async def test_anthropic_maps_the_arguments(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    inner = AnthropicBackend("claude-test", base_url=f"http://127.0.0.1:{server.port}")
    backend = with_model_args(inner, ModelArgs.parse(ARGS))
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    request = Request(messages=HI.messages, max_tokens=8, json_schema=schema)
    await backend.complete(request)
    await backend.aclose()
    body = server.stats.bodies[0]
    assert body["max_tokens"] == 64
    assert body["stop_sequences"] == ["END", "\n\n"] and "stop" not in body
    assert body["top_p"] == 0.9 and body["top_k"] == 40
    assert body["logit_bias"] == {"50256": -100}
    assert body["output_config"] == {
        "effort": "low",
        "format": {"type": "json_schema", "schema": schema},
    }
    assert body["temperature"] == 0.2 and "reasoning_effort" not in body


async def test_anthropic_refuses_an_effort_it_does_not_know(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    inner = AnthropicBackend("claude-test", base_url=f"http://127.0.0.1:{server.port}")
    backend = with_model_args(inner, ModelArgs.parse(["reasoning_effort=minimal"]))
    with pytest.raises(BackendError) as caught:
        await backend.complete(HI)
    await backend.aclose()
    assert caught.value.fatal
    assert "low, medium, high, xhigh, max" in str(caught.value)
    assert server.stats.bodies == []


async def test_the_timeout_argument_limits_each_attempt(server: FakeServer, tmp_path: Path) -> None:
    # The first attempt hangs (for 60 s); -M timeout=0.5 gives up on it and the retry answers.
    hanging = Request(messages=(Message("user", "<<faults:hang>> hi"),), max_tokens=8)
    settings = SessionSettings(
        "openai:m",
        base_urls=(server.base_url,),
        progress=False,
        store=tmp_path / "s.sqlite",
        model_args=ModelArgs.parse(["timeout=0.5"]),
    )
    started = time.perf_counter()
    async with open_session(settings) as session:
        assert session.backend.identity == OpenAIBackend("m", base_url=server.base_url).identity
        [result] = await session.runner.run([hanging])
    assert result.response is not None and result.error is None
    assert time.perf_counter() - started < 20
    assert len(server.stats.bodies) == 2


async def test_a_session_sends_its_arguments_and_keys_them(
    server: FakeServer, tmp_path: Path
) -> None:
    store = tmp_path / "s.sqlite"
    plain = SessionSettings("openai:m", base_urls=(server.base_url,), progress=False, store=store)
    shaped = SessionSettings(
        "openai:m",
        base_urls=(server.base_url,),
        progress=False,
        store=store,
        model_args=ModelArgs.parse(["max_tokens=5", "top_p=0.5"]),
    )
    keys = []
    for settings in (plain, shaped, plain):
        async with open_session(settings) as session:
            [result] = await session.runner.run([HI])
            keys.append(session.runner.key(HI))
            assert result.response is not None
    # The plain rerun is answered from the store; the shaped run was sent on its own.
    assert keys[0] == keys[2] != keys[1]
    assert [b.get("top_p") for b in server.stats.bodies] == [None, 0.5]
    assert [b["max_tokens"] for b in server.stats.bodies] == [8, 5]
    assert "args" not in session.backend.identity


@pytest.mark.parametrize(
    "item",
    [
        'extra_headers={"Authorization": "Bearer sk-hidden-1"}',
        'metadata={"owner": {"api_key": "sk-hidden-2"}}',
        'extra_headers=[{"X-Auth-Token": "sk-hidden-3"}]',
    ],
)
def test_a_credential_inside_an_object_is_refused_without_echoing_it(item: str) -> None:
    with pytest.raises(ValuelensError) as refused:
        ModelArgs.parse([item])
    assert "refused" in str(refused.value) and "sk-hidden" not in str(refused.value)


def test_prompt_cache_key_is_an_ordinary_field() -> None:
    # OpenAI's `prompt_cache_key` routes requests to a cache; it is not a credential.
    args = ModelArgs.parse(["prompt_cache_key=valuelens-run"])
    assert args.recorded() == {"prompt_cache_key": "valuelens-run"}
