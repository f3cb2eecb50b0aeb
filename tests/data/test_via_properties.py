"""Property tests for the VIA answer parser: every way of writing the object gives the same fields."""

from __future__ import annotations

import json
import string
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from valuelens.data import parse_action_text

KEYS = ("Human Action", "Feature Attributions", "Natural Language Explanation")

# Fields as a generator would write them: stripped, non-empty. The action opens with "I always"
# so that no random draw reads as a refusal.
_stripped = st.text(min_size=1).map(str.strip).filter(bool)
_actions = _stripped.map(lambda s: f"I always {s}")
_spans = st.lists(_stripped, max_size=5)


def _answer(action: str, spans: list[str], explanation: str) -> dict[str, Any]:
    return dict(zip(KEYS, (action, spans, explanation), strict=True))


def _fields(text: str) -> tuple[str | None, list[str], str | None]:
    parsed = parse_action_text(text)
    return parsed.action, parsed.attributions, parsed.explanation


@given(_actions, _spans, _stripped, st.sampled_from(["json", "fenced", "python"]))
def test_serialisations_round_trip(
    action: str, spans: list[str], explanation: str, style: str
) -> None:
    answer = _answer(action, spans, explanation)
    text = {
        "json": json.dumps(answer, indent=2),
        "fenced": f"```json\n{json.dumps(answer, ensure_ascii=False)}\n```",
        "python": repr(answer),
    }[style]
    assert _fields(text) == (action, spans, explanation)
    assert parse_action_text(text).status == "ok"


@given(
    _actions,
    _spans,
    _stripped,
    st.text().filter(lambda s: "{" not in s),
    st.text(),
)
def test_prose_around_the_object_is_ignored(
    action: str, spans: list[str], explanation: str, before: str, after: str
) -> None:
    text = f"{before}\n{json.dumps(_answer(action, spans, explanation))}\n{after}"
    assert _fields(text) == (action, spans, explanation)


_separators = st.sampled_from([" ", "_", "-", "", "  "])


@given(_actions, _spans, _stripped, st.data())
def test_key_spelling_variants_are_recognised(
    action: str, spans: list[str], explanation: str, data: st.DataObject
) -> None:
    def respell(key: str) -> str:
        words = [
            data.draw(st.sampled_from([w, w.lower(), w.upper(), w.capitalize()]))
            for w in key.split()
        ]
        return data.draw(_separators).join(words)

    answer = {respell(k): v for k, v in _answer(action, spans, explanation).items()}
    assert _fields(json.dumps(answer)) == (action, spans, explanation)


# Words with apostrophes inside single quotes ("neighbour's"): not valid Python, so repaired.
_word = st.builds(
    lambda stem, suffix: f"{stem}'{suffix}" if suffix else stem,
    st.text(string.ascii_letters, min_size=1, max_size=8),
    st.text(string.ascii_lowercase, max_size=3),
)
_phrase = st.lists(_word, min_size=1, max_size=8).map(" ".join)


@given(_phrase, st.lists(_phrase, min_size=1, max_size=4), _phrase)
def test_unescaped_apostrophes_in_single_quotes_are_repaired(
    action: str, spans: list[str], explanation: str
) -> None:
    action = f"I always {action}"
    listed = ", ".join(f"'{s}'" for s in spans)
    text = (
        f"{{\n  'Human Action': '{action}',\n  'Feature Attributions': [{listed}],\n"
        f"  'Natural Language Explanation': '{explanation}'\n}}"
    )
    assert _fields(text) == (action, spans, explanation)
    assert parse_action_text(text).status in {"ok", "repaired"}


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.one_of(st.text(), _json_values.map(json.dumps), _json_values.map(repr)))
def test_any_text_gives_a_status_and_never_raises(text: str) -> None:
    parsed = parse_action_text(text)
    assert parsed.status in {"ok", "repaired", "refusal", "failed"}
    assert (parsed.action is None) == (parsed.status in {"refusal", "failed"})
    assert all(isinstance(span, str) and span for span in parsed.attributions)


@given(st.text(alphabet="{}[]\"':,\\` \nabcHumanAction", max_size=200))
def test_brace_soup_never_raises(text: str) -> None:
    parse_action_text(text)
