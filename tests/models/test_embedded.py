"""The embedded backend on the real bundled model (SmolLM2-135M-Instruct, llama.cpp in-process)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from valuelens import ValuelensError
from valuelens.models import BackendError, EmbeddedBackend, Message, Request, load_backend
from valuelens.models._embedded import DEFAULT_MODEL_SHA256, verify_model_file
from valuelens.runner import Runner, Store

VALUES = ["Honesty", "Loyalty", "Wealth", "Freedom"]
LIKERT = "1 = strongly agree, 2 = agree, 3 = disagree, 4 = strongly disagree"


async def test_task1_style_prompt_gives_schema_valid_json(embedded: EmbeddedBackend) -> None:
    schema = {
        "type": "object",
        "properties": {value: {"type": "integer", "enum": [1, 2, 3, 4]} for value in VALUES},
        "required": VALUES,
        "additionalProperties": False,
    }
    request = Request(
        messages=(
            Message("system", "You are a survey respondent. Answer only with JSON."),
            Message(
                "user",
                "Scenario: in Nigeria, a colleague asks you to cover for a mistake at work.\n"
                f"How much do you agree that each value should guide you? ({LIKERT})\n"
                f"Values: {', '.join(VALUES)}.",
            ),
        ),
        max_tokens=80,
        json_schema=schema,
        seed=0,
    )

    response = await embedded.complete(request)

    answer = json.loads(response.text)
    assert set(answer) == set(VALUES)
    assert all(answer[value] in (1, 2, 3, 4) for value in VALUES)
    assert response.finish_reason == "stop"
    assert response.usage.prompt_tokens > 50 and response.usage.completion_tokens > 0


async def test_likert_option_probabilities_from_top_logprobs(embedded: EmbeddedBackend) -> None:
    request = Request(
        messages=(
            Message(
                "user",
                "Statement: honesty matters more than loyalty.\n"
                f"How much do you agree? Answer with one digit ({LIKERT}).",
            ),
        ),
        temperature=0.0,
        max_tokens=1,
        json_schema={"type": "integer", "enum": [1, 2, 3, 4]},
        top_logprobs=20,
    )

    response = await embedded.complete(request)

    assert response.logprobs is not None and len(response.logprobs) == 1
    top = response.logprobs[0].top
    assert set("1234") <= set(top), top
    mass = {option: math.exp(top[option]) for option in "1234"}
    probabilities = {option: p / sum(mass.values()) for option, p in mass.items()}
    assert all(0 < p < 1 for p in probabilities.values())
    assert math.isclose(sum(probabilities.values()), 1.0)
    # Greedy decoding under the grammar picks the likeliest allowed option.
    assert response.text == max(probabilities, key=probabilities.__getitem__)


async def test_shared_prefix_reuses_the_kv_cache(embedded: EmbeddedBackend) -> None:
    system = "You are a careful survey respondent. " * 20

    def ask(question: str) -> Request:
        return Request(
            messages=(Message("system", system), Message("user", question)), max_tokens=2
        )

    await embedded.complete(ask("Is honesty important?"))
    second = await embedded.complete(ask("Is loyalty important?"))

    assert second.raw is not None
    cached = second.raw["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert cached >= 100, second.raw["usage"]


async def test_runs_through_the_runner_and_replays(
    embedded: EmbeddedBackend, tmp_path: Path
) -> None:
    requests = [
        Request(messages=(Message("user", f"Name a colour. ({n})"),), max_tokens=3)
        for n in range(3)
    ]
    with Store(tmp_path / "store.sqlite") as store:
        first = await Runner(embedded, store, concurrency=2, progress=False).run(requests)
        second = await Runner(embedded, store, concurrency=2, progress=False).run(requests)

    assert all(r.ok and not r.cached for r in first)
    assert all(r.cached for r in second)
    assert [r.response for r in second] == [r.response for r in first]


async def test_prompt_longer_than_a_slot_is_a_recorded_failure(
    embedded: EmbeddedBackend, tmp_path: Path
) -> None:
    request = Request(messages=(Message("user", "word " * 3000),), max_tokens=2)
    with pytest.raises(BackendError, match="context") as caught:
        await embedded.complete(request)
    assert not caught.value.retryable

    with Store(tmp_path / "store.sqlite") as store:
        results = await Runner(embedded, store, progress=False).run([request])
    assert not results[0].ok and "context" in (results[0].error or "")


def test_identity_names_the_checked_model_without_paths() -> None:
    backend = load_backend("embedded")
    assert isinstance(backend, EmbeddedBackend)
    assert backend.identity == {
        "kind": "embedded",
        "model": f"SmolLM2-135M-Instruct.Q4_1.gguf@{DEFAULT_MODEL_SHA256[:12]}",
        "endpoint": "in-process",
    }
    custom = load_backend(f"embedded:{backend.model_path}")
    size = backend.model_path.stat().st_size
    assert custom.identity["model"] == f"SmolLM2-135M-Instruct.Q4_1.gguf:{size}"


def test_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValuelensError, match="model file not found"):
        load_backend(f"embedded:{tmp_path / 'nope.gguf'}")


def test_checksum_is_verified_once_then_trusted_while_unchanged(
    tmp_path: Path, private_cache_dir: Path
) -> None:
    import hashlib

    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF" + bytes(1000))
    digest = hashlib.sha256(model.read_bytes()).hexdigest()

    verify_model_file(model, digest)
    # kept beside the shared store ($VALUELENS_CACHE_DIR, here the test's own folder)
    assert (private_cache_dir / "verified-models.json").is_file()

    # Same size and modification time: trusted without re-reading.
    stat = model.stat()
    model.write_bytes(b"GGUF" + bytes(999) + b"x")
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    verify_model_file(model, digest)

    # A new modification time forces a real check, which now fails.
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.raises(ValuelensError, match="SHA-256 mismatch"):
        verify_model_file(model, digest)
