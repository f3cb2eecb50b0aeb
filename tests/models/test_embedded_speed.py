"""The embedded backend's thread layout and extra request fields, on the real bundled model.

Speed itself is measured in benchmarks/bench_embedded.py; these tests check what the faster
layout must not change (the answers) and that model arguments reach llama.cpp.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from valuelens.models import EmbeddedBackend, Message, Request
from valuelens.models._embedded import _import_xllamacpp, request_payload
from valuelens.tasks import stated_task


@pytest.fixture(scope="module")
def one_and_two_threads() -> Iterator[tuple[EmbeddedBackend, EmbeddedBackend]]:
    """Two single-slot backends that differ only in the threads reading prompts."""
    pair = (
        EmbeddedBackend(n_parallel=1, n_ctx_per_slot=1024, n_threads=1, n_threads_batch=1),
        EmbeddedBackend(n_parallel=1, n_ctx_per_slot=1024, n_threads=1, n_threads_batch=2),
    )
    for backend in pair:
        backend.load()
    yield pair
    for backend in pair:
        backend.close()


async def test_two_prompt_threads_give_the_same_logprobs_as_one(
    one_and_two_threads: tuple[EmbeddedBackend, EmbeddedBackend],
) -> None:
    # Sent one at a time in the same order, so both slots reuse the same cached prefixes.
    requests = stated_task(scoring="logprob", variants="0,4").build_requests(
        "Canada", "Environment", ["Honest", "Wealth"]
    )
    answers = []
    for backend in one_and_two_threads:
        answers.append([(await backend.complete(r)).logprobs for r in requests])

    one, two = answers
    assert all(tokens for tokens in one)
    assert one == two  # bit for bit: each result is computed by one thread


async def test_stop_from_extra_ends_the_answer(embedded: EmbeddedBackend) -> None:
    prompt = Message("user", "Count from 1 to 30, separated by commas.")
    free = await embedded.complete(Request(messages=(prompt,), max_tokens=24, temperature=0))
    cut = free.text.find("\n", 1)
    assert cut > 0, free.text  # the unconstrained answer goes on past its first line
    stop = free.text[cut : cut + 2]

    stopped = await embedded.complete(
        Request(messages=(prompt,), max_tokens=24, temperature=0, extra={"stop": [stop]})
    )

    assert stopped.text == free.text[:cut]
    assert stopped.finish_reason == "stop"


def test_payload_takes_extra_fields_but_keeps_the_request_own() -> None:
    request = Request(
        messages=(Message("user", "hi"),),
        temperature=0.3,
        max_tokens=5,
        extra={"top_p": 0.5, "top_k": 7, "temperature": 1.5, "max_tokens": 99},
    )

    payload = request_payload(request)

    assert (payload["top_p"], payload["top_k"]) == (0.5, 7)
    assert (payload["temperature"], payload["max_tokens"]) == (0.3, 5)


def test_wait_policy_is_not_left_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)

    module = _import_xllamacpp()

    assert hasattr(module, "Server")
    assert "OMP_WAIT_POLICY" not in os.environ
