"""The variant layouts against the authors' code, written out here one id at a time."""

from __future__ import annotations

import inspect

from typer.testing import CliRunner

from valuelens.cli import app
from valuelens.pipeline import generate_actions
from valuelens.prompts import (
    ACTION_VARIANTS,
    DEFAULT_VARIANTS,
    GENERATE_VARIANTS,
    STATED_VARIANTS,
)
from valuelens.tasks import generate_task

E, A = "explanation_first", "attribution_first"
# Generation, as the authors' ActionPrompting.generate_prompt: action_prompt(0|1), then the
# explanation and attribution requests in one order or the other, then the chat (0-3) or
# completion (4-7) requirement.
AUTHORS_GENERATE = [
    (0, 0, E, "chat"),
    (1, 1, E, "chat"),
    (2, 0, A, "chat"),
    (3, 1, A, "chat"),
    (4, 0, E, "completion"),
    (5, 1, E, "completion"),
    (6, 0, A, "completion"),
    (7, 1, A, "completion"),
]
# Task 1, as the authors' StatementPrompting: claim (survey) or portrait values, with the value
# list or the options first.
AUTHORS_STATED = [
    (0, "survey", "values_first", "chat"),
    (1, "survey", "options_first", "chat"),
    (2, "portrait", "values_first", "chat"),
    (3, "portrait", "options_first", "chat"),
    (4, "survey", "values_first", "completion"),
    (5, "survey", "options_first", "completion"),
    (6, "portrait", "values_first", "completion"),
    (7, "portrait", "options_first", "completion"),
]
# Task 2, as the authors' cases list (version, order, format): the reversed order puts the
# positive action first; the second format asks for an explanation.
AUTHORS_ACTION = [
    (0, 0, "negative", False),
    (1, 0, "negative", True),
    (2, 0, "positive", False),
    (3, 0, "positive", True),
    (4, 1, "negative", False),
    (5, 1, "negative", True),
    (6, 1, "positive", False),
    (7, 1, "positive", True),
]


def test_generation_layout_is_the_authors():
    assert [(v.id, v.wording, v.order, v.ending) for v in GENERATE_VARIANTS] == AUTHORS_GENERATE


def test_stated_layout_is_the_authors():
    assert [(v.id, v.framing, v.order, v.ending) for v in STATED_VARIANTS] == AUTHORS_STATED


def test_action_layout_is_the_authors():
    got = [(v.id, v.wording, v.option1_polarity, v.explanation) for v in ACTION_VARIANTS]
    assert got == AUTHORS_ACTION


def test_each_generation_factor_is_balanced():
    for pick in (
        lambda v: v.wording,
        lambda v: v.order,
        lambda v: v.ending,
    ):
        counts: dict[object, int] = {}
        for variant in GENERATE_VARIANTS:
            counts[pick(variant)] = counts.get(pick(variant), 0) + 1
        assert sorted(counts.values()) == [4, 4]


def test_generation_defaults_to_variant_five_everywhere():
    assert DEFAULT_VARIANTS["generate"] == (5,)
    assert generate_task().variants == (5,)
    assert inspect.signature(generate_actions).parameters["variants"].default == "5"
    help_text = CliRunner().invoke(app, ["generate", "--help"], terminal_width=200).output
    assert "[default: 5]" in " ".join(help_text.split())
