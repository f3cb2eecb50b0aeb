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
    template_sources,
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


EXPLANATION_REQUEST = "Explain in one or two sentences why"
ATTRIBUTION_REQUEST = "List the short phrases"


def test_generation_variants(templates):
    texts = [_generate(templates, v) for v in range(N_VARIANTS)]
    assert len(set(texts)) == N_VARIANTS
    for variant, text in zip(GENERATE_VARIANTS, texts, strict=True):
        for key in ("Human Action", "Feature Attributions", "Natural Language Explanation"):
            assert f'"{key}"' in text
        assert "37 words" in text and "first person" in text
        assert text.index("Nigeria") < text.index(EXPLANATION_REQUEST)
        explanation_at = text.index(EXPLANATION_REQUEST)
        attribution_at = text.index(ATTRIBUTION_REQUEST)
        assert (explanation_at < attribution_at) == (variant.order == "explanation_first")
        assert ("You are someone who lives in Nigeria" in text) == (variant.wording == 1)
        assert text.rstrip().endswith("The answer is:") == (variant.ending == "completion")
    assert _generate(templates, 0, "negative") != texts[0]
    assert "against" in _generate(templates, 0, "negative")


def test_generation_orders_swap_the_two_requests_only(templates):
    for explanation_first in (0, 1, 4, 5):
        first = _generate(templates, explanation_first).splitlines()
        second = _generate(templates, explanation_first + 2).splitlines()
        assert first != second and sorted(first) == sorted(second)
        moved = [i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b]
        assert len(moved) == 2 and moved[1] == moved[0] + 1
        assert first[moved[0]].startswith(EXPLANATION_REQUEST)
        assert second[moved[0]].startswith(ATTRIBUTION_REQUEST)


def _from_the_requests(text: str) -> str:
    return text[min(text.index(EXPLANATION_REQUEST), text.index(ATTRIBUTION_REQUEST)) :]


def test_generation_wordings_differ_only_in_the_action_request(templates):
    for plain in (0, 2, 4, 6):
        text_plain, text_role = _generate(templates, plain), _generate(templates, plain + 1)
        assert _from_the_requests(text_plain) == _from_the_requests(text_role)
        assert text_plain.startswith("Write one realistic action")
        assert text_role.startswith("You are someone who lives in Nigeria")


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
    assert select_variants(None, "generate") == (5,)


@pytest.mark.parametrize("spec", ["8", "-1", "x", "", "1.5", [True], [9]])
def test_select_variants_rejects_bad_ids(spec):
    with pytest.raises(ValuelensError, match="variant"):
        select_variants(spec, "stated")


def _copy_builtin(target: Path) -> Path:
    source = resources.files("valuelens.prompts").joinpath("templates")
    with resources.as_file(source) as folder:
        shutil.copytree(folder, target)
    return target


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return folder


def test_user_folder_replaces_only_its_own_files(tmp_path):
    folder = _write(
        tmp_path / "mine",
        "stated/variant_2.jinja",
        "Wie sehr ähnelt dir jemand aus {{ country }}? {{ value_names | join(', ') }}\n",
    )
    loaded = load_templates(folder)
    assert loaded.source == str(folder)
    assert _stated(loaded, 2) == "Wie sehr ähnelt dir jemand aus Nigeria? Honest, Wealth"
    builtin = load_templates()
    for variant in (0, 1, 3, 7):
        assert _stated(loaded, variant) == _stated(builtin, variant)
    assert _action(loaded, 5) == _action(builtin, 5)
    assert loaded.sources["stated/variant_2"] == str(folder)
    assert {where for name, where in loaded.sources.items() if name != "stated/variant_2"} == {
        "built-in"
    }
    assert len(loaded.sources) == sum(len(names) for names in REQUIRED_TEMPLATES.values())


def test_template_sources_for_a_run(tmp_path):
    folder = _write(tmp_path / "mine", "action/variant_5.jinja", "{{ option1 }} or {{ option2 }}")
    loaded = load_templates(folder)
    assert template_sources(loaded, ["action"]) == {
        **{f"action/variant_{i}": "built-in" for i in range(N_VARIANTS)},
        "action/variant_5": str(folder),
        "action/digit": "built-in",
    }
    assert set(template_sources(None, ["stated", "action", "unknown"])) == {
        *(f"{task}/variant_{i}" for task in ("stated", "action") for i in range(N_VARIANTS)),
        "stated/digit",
        "action/digit",
    }
    assert set(template_sources(None, ["stated"]).values()) == {"built-in"}


def test_a_folder_with_none_of_the_templates_fails_in_one_line(tmp_path):
    folder = _write(tmp_path / "misplaced", "variant_0.jinja", "{{ country }}")
    _write(folder, "Stated/variant_0.jinja", "{{ country }}")
    with pytest.raises(ValuelensError) as caught:
        load_templates(folder)
    message = str(caught.value)
    assert "\n" not in message
    assert "holds none of the templates" in message
    assert "missing 26 file(s): generate/variant_0.jinja" in message and "and 22 more" in message


def test_only_the_chosen_tasks_are_loaded(tmp_path):
    folder = _write(tmp_path / "only_stated", "stated/variant_0.jinja", "{{ country }}")
    loaded = load_templates(folder, tasks=["stated"])
    assert loaded.tasks == ("stated",)
    assert set(loaded.sources) == {f"stated/{name}" for name in REQUIRED_TEMPLATES["stated"]}
    with pytest.raises(ValuelensError, match="do not cover the action task"):
        loaded.render("action", "variant_0", {})
    with pytest.raises(ValuelensError, match=r"none of the templates of the action task"):
        load_templates(folder, tasks=["action"])
    assert load_templates(folder).tasks == ("generate", "stated", "action")


def test_missing_folder(tmp_path):
    with pytest.raises(ValuelensError, match="template folder not found"):
        load_templates(tmp_path / "nope")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{{ country }", "action/variant_3.jinja line 1"),
        ("{{ county }}", "'county' is undefined"),
        ("{% if false %}x{% endif %}", "renders to empty text"),
        ("  \n\n", "renders to empty text"),
        ("{{ country.__class__.__mro__ }}", "action/variant_3.jinja"),
        ('{% include "action/_mine.jinja" %}', "cannot find action/_mine.jinja"),
    ],
)
def test_broken_user_template_fails_at_load(tmp_path, content, expected):
    folder = _write(tmp_path / "broken", "action/variant_3.jinja", content)
    with pytest.raises(ValuelensError, match=expected) as caught:
        load_templates(folder)
    assert "\n" not in str(caught.value) and str(folder) in str(caught.value)


# The text each template file holds, and the prompt it must give: only Jinja's own rules apply
# (one final newline dropped, a line holding only a block tag leaves nothing, CRLF -> LF).
VERBATIM = [
    ("Line one ends with a space. \nLast line", "Line one ends with a space. \nLast line"),
    (
        "  Indented start\n\n\n\nafter three blank lines  \n",
        "  Indented start\n\n\n\nafter three blank lines  ",
    ),
    ("Ends with a newline\n\n", "Ends with a newline\n"),
    ("\nStarts with a blank line\n", "\nStarts with a blank line"),
    ("Tab\there \t\nnext", "Tab\there \t\nnext"),
    ("Windows \r\nline endings\r\n", "Windows \nline endings"),
    ("\ufeffA byte-order mark", "A byte-order mark"),
    (
        "{% if true %}\n  kept indent {{ country }} \n{% endif %}\nend",
        "  kept indent Nigeria \nend",
    ),
]


@pytest.mark.parametrize(("source", "expected"), VERBATIM)
def test_user_templates_are_rendered_verbatim(tmp_path, source, expected):
    folder = _write(tmp_path / "mine", "action/variant_4.jinja", source)
    assert _action(load_templates(folder), 4) == expected


def test_user_partials_and_builtin_partials(tmp_path):
    folder = _write(
        tmp_path / "mine",
        "stated/_parts.jinja",
        "{% macro ask(country) %}How much, in {{ country }}? {% endmacro %}\n",
    )
    _write(
        folder,
        "stated/variant_1.jinja",
        '{% import "stated/_parts.jinja" as mine %}\n{{ mine.ask(country) }}\n\nThe end \n',
    )
    # A user template may import a built-in partial that the folder does not replace.
    _write(
        folder,
        "action/variant_0.jinja",
        '{% import "action/_parts.jinja" as parts %}\n{{ parts.options(option1, option2) }} \n',
    )
    loaded = load_templates(folder)
    assert _stated(loaded, 1) == "How much, in Nigeria? \n\nThe end "
    assert _action(loaded, 0) == "Option 1: FIRST OPTION TEXT\nOption 2: SECOND OPTION TEXT "
    # Built-in templates keep the built-in partials, even where the folder has one by that name.
    builtin = load_templates()
    assert _stated(loaded, 0) == _stated(builtin, 0)
    assert loaded.sources["stated/variant_0"] == "built-in"


def test_required_templates_cover_all_variants():
    for task, names in REQUIRED_TEMPLATES.items():
        assert [n for n in names if n.startswith("variant_")] == [
            f"variant_{i}" for i in range(N_VARIANTS)
        ]
        assert ("digit" in names) == (task != "generate")


def test_a_relative_folder_is_recorded_as_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "built-in", "stated/variant_0.jinja", "mine  \n")
    loaded = load_templates("built-in")
    assert loaded.sources["stated/variant_0"] == str(tmp_path / "built-in")
    assert _stated(loaded, 0) == "mine  "
