"""The tasks against the real embedded model (SmolLM2-135M in llama.cpp, in-process).

What a 135M model says is not the point; these check that what the tasks send (JSON schemas,
one-token logprob questions) works on a real backend and that its answers parse.
"""

from __future__ import annotations

import pytest

from valuelens.models import EmbeddedBackend, Request
from valuelens.tasks import ActionPair, action_task, stated_task

pytestmark = pytest.mark.slow

VALUES = "Honest,Wealth,Clean,Social Power"
PAIR = ActionPair(
    "Canada",
    "Environment",
    "Clean",
    positive="I pick up the litter I see on my walk through the park.",
    negative="I leave my picnic rubbish on the grass when I go home.",
)


@pytest.fixture(scope="module")
def backend():
    model = EmbeddedBackend(n_parallel=2, n_ctx_per_slot=2048)
    model.load()
    yield model
    model.close()


async def _results(backend, requests: list[Request], answer):
    return [answer(request, response=await backend.complete(request)) for request in requests]


async def test_stated_json_schema_gives_every_value(backend, answer):
    task = stated_task(variants="0,6")
    requests = task.build_requests("Canada", "Environment", VALUES)
    records = task.parse_many(await _results(backend, requests, answer))
    assert len(records) == 2 * 4
    assert all(r.parse_status == "ok" and r.likert in (1.0, 2.0, 3.0, 4.0) for r in records)


async def test_stated_logprobs_give_a_distribution(backend, answer):
    task = stated_task(scoring="logprob", variants="1,4")
    task.check_backend(backend.capabilities)
    requests = task.build_requests("Canada", "Environment", "Honest")
    records = task.parse_many(await _results(backend, requests, answer))
    for record in records:
        assert record.probs is not None and sum(record.probs) == pytest.approx(1.0)
        assert record.likert is not None and 1.0 <= record.likert <= 4.0
        assert record.mass is not None and 0.0 < record.mass <= 1.0


async def test_action_choices_in_both_scorings(backend, answer):
    for scoring in ("generate", "logprob"):
        task = action_task(scoring=scoring, variants="0,2")
        records = task.parse_many(await _results(backend, task.build_requests([PAIR]), answer))
        assert [r.option1_polarity for r in records] == ["negative", "positive"]
        assert all(r.choice in ("positive", "negative") for r in records), scoring
        if scoring == "logprob":
            assert all(r.p_negative is not None for r in records)
        else:
            assert all(r.parse_status == "ok" for r in records)
