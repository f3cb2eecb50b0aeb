"""Property tests: no model answer, however broken, makes a parser raise."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from valuelens.tasks import ActionPair, action_task, generate_task, stated_task

PAIR = ActionPair(
    "India",
    "Environment",
    "Wealth",
    positive="I invest my savings wisely.",
    negative="I give my savings away.",
)
STATED = stated_task()
STATED_LOGPROB = stated_task(scoring="logprob")
ACTION = action_task(variants="all")
ACTION_LOGPROB = action_task(scoring="logprob", variants="all")
GENERATE = generate_task()
STATED_REQUEST = STATED.build_requests("India", "Environment", "Wealth,Honest,Clean")[3]
STATED_LOGPROB_REQUEST = STATED_LOGPROB.build_requests("India", "Environment", "Wealth")[0]
ACTION_REQUESTS = ACTION.build_requests([PAIR])
ACTION_LOGPROB_REQUEST = ACTION_LOGPROB.build_requests([PAIR])[3]
GENERATE_REQUEST = GENERATE.build_requests("India", "Environment", "Wealth")[1]

STATUSES = {"ok", "repaired", "partial", "failed"}
GENERATION_STATUSES = {"ok", "repaired", "refusal", "failed"}

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "Wealth",
                    "Honest",
                    "action",
                    "explanation",
                    "Human Action",
                    "Feature Attributions",
                    "x",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)
answers = st.one_of(
    st.text(max_size=300),
    json_like.map(repr),
    json_like.map(str).map(lambda s: "```json\n" + s + "\n```"),
    st.text(alphabet='{}[]":,12345 \n`', max_size=200),
)
token_text = st.sampled_from(["1", "2", " 3", "4", "\u25811", "\u01202", "x", "", "{"]) | st.text(
    max_size=3
)
logprob = st.floats(allow_nan=True, allow_infinity=True) | st.floats(-30, 0)
positions = st.lists(
    st.tuples(token_text, logprob, st.dictionaries(token_text, logprob, max_size=6)),
    max_size=4,
)


def _relaxed():
    return settings(
        max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )


@_relaxed()
@given(text=answers)
def test_text_parsers_never_raise(answer, text):
    for record in STATED.parse(answer(STATED_REQUEST, text)):
        assert record.parse_status in STATUSES and record.raw == text
        assert record.likert is None or record.likert in (1.0, 2.0, 3.0, 4.0)
        assert (record.likert is None) == (record.parse_status == "failed")
    for request in ACTION_REQUESTS:
        record = ACTION.parse(answer(request, text))
        assert record.parse_status in STATUSES
        assert (record.choice is None) == (record.parse_status == "failed")
    generated = GENERATE.parse(answer(GENERATE_REQUEST, text))
    assert generated.parse_status in GENERATION_STATUSES and generated.raw == text
    assert generated.valid is False or generated.action is not None


@_relaxed()
@given(text=st.text(max_size=20), tokens=positions)
def test_logprob_parsers_never_raise(answer, text, tokens):
    top = [{token: value, **alternatives} for token, value, alternatives in tokens]
    (stated,) = STATED_LOGPROB.parse(answer(STATED_LOGPROB_REQUEST, text, top=top or None))
    assert stated.parse_status in STATUSES
    if stated.probs is not None:
        assert math.isclose(sum(stated.probs), 1.0, rel_tol=1e-9)
        assert stated.likert is not None and 1.0 <= stated.likert <= 4.0
    action = ACTION_LOGPROB.parse(answer(ACTION_LOGPROB_REQUEST, text, top=top or None))
    assert action.parse_status in STATUSES
    assert action.p_negative is None or 0.0 <= action.p_negative <= 1.0
