from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import pytest

from valuelens._errors import ValuelensError
from valuelens.prompts import (
    ACTION_VARIANTS,
    GENERATE_VARIANTS,
    N_VARIANTS,
    REQUIRED_TEMPLATES,
    STATED_VARIANTS,
    load_templates,
    select_variants,
    variant_template,
)

VALUES = [
    {"name": "Honest", "type": "Benevolence", "definition": "genuine, sincere"},
    {"name": "Wealth", "type": "Power", "definition": "material possessions, money"},
]
SURVEY_SCALE = "4 = strongly disagree"
PORTRAIT_SCALE = "4 = not like me at all"
NEGATIVE = "I keep the extra change the cashier gave me by mistake."
POSITIVE = "I hand back the extra change the cashier gave me by mistake."


@pytest.fixture(scope="module")
def templates():
    return load_templates()


def _stated(templates, variant: int, template: str | None = None) -> str:
    return templates.render(
        "stated",
        template or variant_template(variant),
        {
            "country": "Nigeria",
            "topic": "Religion",
            "values": VALUES,
            "value_names": [v["name"] for v in VALUES],
            "value": VALUES[0],
            "variant": STATED_VARIANTS[variant].as_context(),
        },
    )


def _action(templates, variant: int, template: str | None = None) -> str:
    return templates.render(
        "action",
        template or variant_template(variant),
        {
            "country": "Nigeria",
            "topic": "Religion",
            "value": VALUES[0],
            "option1": "FIRST OPTION TEXT",
            "option2": "SECOND OPTION TEXT",
            "variant": ACTION_VARIANTS[variant].as_context(),
        },
    )


def _generate(templates, variant: int, polarity: str = "positive") -> str:
    return templates.render(
        "generate",
        variant_template(variant),
        {
            "country": "Nigeria",
            "topic": "Religion",
            "value": VALUES[0],
            "polarity": polarity,
            "max_words": 37,
            "variant": GENERATE_VARIANTS[variant].as_context(),
        },
    )


def test_every_stated_variant_renders_its_design(templates):
    texts = [_stated(templates, v) for v in range(N_VARIANTS)]
    assert len(set(texts)) == N_VARIANTS
    for variant, text in zip(STATED_VARIANTS, texts, strict=True):
        assert "Nigeria" in text and "Religion" in text
        assert all(v["name"] in text for v in VALUES)
        scale = SURVEY_SCALE if variant.framing == "survey" else PORTRAIT_SCALE
        other = PORTRAIT_SCALE if variant.framing == "survey" else SURVEY_SCALE
        assert scale in text and other not in text
        scale_at, values_at = text.index(scale), text.index("Wealth")
        assert (values_at < scale_at) == (variant.order == "values_first")
        assert text.rstrip().endswith("The answer is:") == (variant.ending == "completion")
        assert '"<value name>"' in text  # asks for one JSON object keyed by value name


def test_completion_variants_add_only_the_ending(templates):
    for chat in range(4):
        chat_text = _stated(templates, chat)
        completion_text = _stated(templates, chat + 4)
        assert completion_text.startswith(chat_text)
        assert completion_text[len(chat_text) :].strip() == "The answer is:"


def test_stated_digit_template_follows_each_variant(templates):
    texts = [_stated(templates, v, "digit") for v in range(N_VARIANTS)]
    assert len(set(texts)) == N_VARIANTS
    for variant, text in zip(STATED_VARIANTS, texts, strict=True):
        assert "Honest" in text and "Wealth" not in text
        assert (SURVEY_SCALE in text) == (variant.framing == "survey")
        assert text.rstrip().endswith("The answer is:") == (variant.ending == "completion")
        assert "single digit" in text


def test_action_variants_differ_in_wording_and_explanation(templates):
    texts = [_action(templates, v) for v in range(N_VARIANTS)]
    for variant, text in zip(ACTION_VARIANTS, texts, strict=True):
        assert text.index("FIRST OPTION TEXT") < text.index("SECOND OPTION TEXT")
        assert ('"explanation"' in text) == variant.explanation
        assert "Honest" in text and "Nigeria" in text
    # Same wording and explanation flag -> same template; the option order comes from code.
    assert texts[0] == texts[2] and texts[5] == texts[7]
    assert len({texts[0], texts[1], texts[4], texts[5]}) == 4


def test_option_order_is_counterbalanced():
    firsts = [v.option1_polarity for v in ACTION_VARIANTS]
    assert firsts.count("negative") == firsts.count("positive") == 4
    for explained in (True, False):
        subset = [v.option1_polarity for v in ACTION_VARIANTS if v.explanation == explained]
        assert subset.count("negative") == subset.count("positive")
    for wording in (0, 1):
        subset = [v.option1_polarity for v in ACTION_VARIANTS if v.wording == wording]
        assert subset.count("negative") == subset.count("positive")
    # The authors' layout: negative first in 0, 1, 4, 5; odd variants explain.
    assert [v.id for v in ACTION_VARIANTS if v.option1_polarity == "negative"] == [0, 1, 4, 5]
    assert [v.id for v in ACTION_VARIANTS if v.explanation] == [1, 3, 5, 7]


def test_action_digit_template_asks_for_one_digit(templates):
    text = _action(templates, 6, "digit")
    assert "single digit" in text and '"action"' not in text
    assert text.index("FIRST OPTION TEXT") < text.index("SECOND OPTION TEXT")


def test_generation_variants(templates):
    texts = [_generate(templates, v) for v in range(N_VARIANTS)]
    assert len(set(texts)) == N_VARIANTS
    for variant, text in zip(GENERATE_VARIANTS, texts, strict=True):
        for key in ("Human Action", "Feature Attributions", "Natural Language Explanation"):
            assert f'"{key}"' in text
        assert "37 words" in text and "first person" in text
        format_at, task_at = text.index('"Human Action"'), text.index("Nigeria")
        assert (task_at < format_at) == (variant.order == "task_first")
        assert text.rstrip().endswith("The answer is:") == (variant.ending == "completion")
    assert _generate(templates, 0, "negative") != texts[0]
    assert "against" in _generate(templates, 0, "negative")


def test_rendered_text_has_no_stray_blank_lines(templates):
    for v in range(N_VARIANTS):
        for text in (_stated(templates, v), _action(templates, v), _generate(templates, v)):
            assert "\n\n\n" not in text and text == text.strip()
            assert all(line == line.rstrip() for line in text.splitlines())


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("all", tuple(range(8))),
        ("ALL", tuple(range(8))),
        ("5", (5,)),
        (5, (5,)),
        ("7, 0,7", (0, 7)),
        ([3, 1], (1, 3)),
        (None, (5,)),
    ],
)
def test_select_variants(spec, expected):
    assert select_variants(spec, "action") == expected


def test_select_variants_defaults_per_task():
    assert select_variants(None, "stated") == tuple(range(8))
    assert select_variants(None, "generate") == (0,)


@pytest.mark.parametrize("spec", ["8", "-1", "x", "", "1.5", [True], [9]])
def test_select_variants_rejects_bad_ids(spec):
    with pytest.raises(ValuelensError, match="variant"):
        select_variants(spec, "stated")


def _copy_builtin(target: Path) -> Path:
    source = resources.files("valuelens.prompts").joinpath("templates")
    with resources.as_file(source) as folder:
        shutil.copytree(folder, target)
    return target


def test_user_folder_replaces_the_wording(tmp_path):
    folder = _copy_builtin(tmp_path / "mine")
    (folder / "stated" / "variant_2.jinja").write_text(
        "Wie sehr ähnelt dir jemand aus {{ country }}? {{ value_names | join(', ') }}\n",
        encoding="utf-8",
    )
    loaded = load_templates(folder)
    assert loaded.source == str(folder)
    assert _stated(loaded, 2) == "Wie sehr ähnelt dir jemand aus Nigeria? Honest, Wealth"
    assert _stated(loaded, 0) == _stated(load_templates(), 0)


def test_missing_files_are_listed_in_one_line(tmp_path):
    folder = _copy_builtin(tmp_path / "partial")
    (folder / "stated" / "digit.jinja").unlink()
    (folder / "action" / "variant_6.jinja").unlink()
    with pytest.raises(ValuelensError) as caught:
        load_templates(folder)
    message = str(caught.value)
    assert "\n" not in message
    assert "missing 2 file(s)" in message
    assert "stated/digit.jinja" in message and "action/variant_6.jinja" in message


def test_only_the_chosen_tasks_are_required(tmp_path):
    folder = tmp_path / "only_stated"
    shutil.copytree(_copy_builtin(tmp_path / "all") / "stated", folder / "stated")
    loaded = load_templates(folder, tasks=["stated"])
    assert loaded.tasks == ("stated",)
    with pytest.raises(ValuelensError, match="do not cover the action task"):
        loaded.render("action", "variant_0", {})
    with pytest.raises(ValuelensError, match="missing 17 file"):
        load_templates(folder)


def test_missing_folder(tmp_path):
    with pytest.raises(ValuelensError, match="template folder not found"):
        load_templates(tmp_path / "nope")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{{ country }", "action/variant_3.jinja line 1"),
        ("{{ county }}", "'county' is undefined"),
        ("{% if false %}x{% endif %}", "renders to empty text"),
        ("{{ country.__class__.__mro__ }}", "action/variant_3.jinja"),
    ],
)
def test_broken_user_template_fails_at_load(tmp_path, content, expected):
    folder = _copy_builtin(tmp_path / "broken")
    (folder / "action" / "variant_3.jinja").write_text(content, encoding="utf-8")
    with pytest.raises(ValuelensError, match=expected):
        load_templates(folder)


def test_required_templates_cover_all_variants():
    for task, names in REQUIRED_TEMPLATES.items():
        assert [n for n in names if n.startswith("variant_")] == [
            f"variant_{i}" for i in range(N_VARIANTS)
        ]
        assert ("digit" in names) == (task != "generate")
