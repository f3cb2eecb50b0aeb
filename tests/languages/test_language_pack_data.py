"""The shipped language packs and translated templates, checked as data (no valuelens loader code).

Each pack (`src/valuelens/taxonomy/languages/<code>.yaml`) must cover the whole default taxonomy,
be written in the right script, and its templates (`prompts/templates/_lang/<code>/`) must keep
the English templates' macros, variables and control flow while rendering the pack's own answer
words. Expected names come from the English taxonomy file and templates, read here directly.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from jinja2 import meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

SRC = Path(__file__).resolve().parents[2] / "src" / "valuelens"
PACK_DIR = SRC / "taxonomy" / "languages"
TEMPLATES = SRC / "prompts" / "templates"
LANG_TEMPLATES = TEMPLATES / "_lang"
CODES = ("hi", "de", "fr", "ar", "ur", "fil")
NATIVE_FOR = {
    "hi": ["India"],
    "ur": ["Pakistan"],
    "fil": ["Philippines"],
    "de": ["Germany"],
    "ar": ["Egypt"],
    "fr": ["France"],
}
FILES = ("stated/_parts", "stated/digit", "action/_parts", "action/digit")

DEVANAGARI = [(0x0900, 0x097F), (0xA8E0, 0xA8FF)]
ARABIC = [(0x0600, 0x06FF), (0x0750, 0x077F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)]
LATIN = [(0x0041, 0x005A), (0x0061, 0x007A), (0x00C0, 0x024F)]
SCRIPT = {"hi": DEVANAGARI, "ur": ARABIC, "ar": ARABIC, "de": LATIN, "fr": LATIN, "fil": LATIN}
# Letters Urdu writes and Arabic does not (ٹ ڈ ڑ ں ہ ے ی ک گ), and their Arabic counterparts.
URDU_ONLY = set("ٹڈڑںہےیکگ")
ARABIC_NOT_URDU = set("يكة")

TAXONOMY: dict[str, Any] = yaml.safe_load((SRC / "taxonomy" / "taxonomy.yaml").read_text("utf-8"))
VALUE_NAMES = [v["name"] for v in TAXONOMY["values"]]
ENGLISH_DEFINITIONS = {v["name"]: v["definition"] for v in TAXONOMY["values"]}
VALUE_TYPES = {v["type"] for v in TAXONOMY["values"]}
COUNTRIES = [c["name"] for c in TAXONOMY["countries"]]
TOPICS = [t["name"] for t in TAXONOMY["topics"]]


def _pack(code: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((PACK_DIR / f"{code}.yaml").read_text("utf-8"))
    return loaded


def _texts(pack: dict[str, Any]) -> list[str]:
    """Every translated string of a pack."""
    answers = pack["answers"]
    return [
        *pack["countries"].values(),
        *pack["topics"].values(),
        *pack["value_types"].values(),
        *(v["name"] for v in pack["values"].values()),
        *(v["definition"] for v in pack["values"].values()),
        *answers["option_labels"],
        *answers["likert_survey"],
        *answers["likert_portrait"],
    ]


def _in_script(char: str, ranges: list[tuple[int, int]]) -> bool:
    return any(low <= ord(char) <= high for low, high in ranges)


def _letters(text: str) -> list[str]:
    return [c for c in text if unicodedata.category(c)[0] in "LM"]


def _source(code: str | None, name: str) -> str:
    folder = TEMPLATES if code is None else LANG_TEMPLATES / code
    return (folder / f"{name}.jinja").read_text("utf-8")


def _environment(code: str | None) -> ImmutableSandboxedEnvironment:
    """The built-in templates' settings, with the language folder searched first."""
    folders = [TEMPLATES] if code is None else [LANG_TEMPLATES / code, TEMPLATES]
    return ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(folders),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=jinja2.StrictUndefined,
    )


@pytest.mark.parametrize("code", CODES)
def test_pack_covers_the_whole_taxonomy(code: str) -> None:
    pack = _pack(code)
    assert pack["code"] == code
    assert pack["name"] and pack["native_name"]
    assert pack["native_for"] == NATIVE_FOR[code]
    assert list(pack["countries"]) == COUNTRIES
    assert list(pack["topics"]) == TOPICS
    assert set(pack["value_types"]) == VALUE_TYPES
    assert list(pack["values"]) == VALUE_NAMES
    for entry in pack["values"].values():
        assert set(entry) == {"name", "definition"}
    assert all(isinstance(text, str) and text.strip() == text and text for text in _texts(pack))
    names = [v["name"] for v in pack["values"].values()]
    assert len(set(names)) == len(names) == 56
    assert len({name.casefold() for name in names}) == 56
    answers = pack["answers"]
    assert len(set(answers["option_labels"])) == 2 == len(answers["option_labels"])
    for scale in ("likert_survey", "likert_portrait"):
        assert len(set(answers[scale])) == 4 == len(answers[scale])
    for countries in (pack["countries"].values(), pack["topics"].values()):
        assert len(set(countries)) == len(list(countries))


@pytest.mark.parametrize("code", CODES)
def test_pack_is_translated(code: str) -> None:
    pack = _pack(code)
    for canonical, entry in pack["values"].items():
        assert entry["definition"] != ENGLISH_DEFINITIONS[canonical], canonical
    same_names = [c for c, entry in pack["values"].items() if entry["name"] == c]
    assert len(same_names) <= 3, same_names  # a cognate such as "Intelligent" may stay
    same_topics = [t for t, translated in pack["topics"].items() if translated == t]
    assert len(same_topics) <= 1, same_topics
    assert pack["answers"]["likert_survey"][0] != "strongly agree"
    assert pack["answers"]["likert_portrait"][0] != "very much like me"


@pytest.mark.parametrize("code", CODES)
def test_pack_is_written_in_its_script(code: str) -> None:
    pack = _pack(code)
    for text in _texts(pack):
        foreign = [c for c in _letters(text) if not _in_script(c, SCRIPT[code])]
        assert not foreign, (text, foreign)
    every_letter = set("".join(_texts(pack)))
    if code == "ur":
        assert len(every_letter & URDU_ONLY) >= 6
        assert not every_letter & set("يكه")  # Arabic yeh, kaf, heh where Urdu writes ی ک ہ
    if code == "ar":
        assert not every_letter & URDU_ONLY
        assert every_letter & ARABIC_NOT_URDU == ARABIC_NOT_URDU


def _macros(source: str) -> dict[str, list[str]]:
    tree = jinja2.Environment().parse(source)
    return {m.name: [arg.name for arg in m.args] for m in tree.find_all(nodes.Macro)}


def _structure(source: str) -> list[str]:
    """The control flow and imports of a template, in order, as comparable text."""
    tree = jinja2.Environment().parse(source)
    shape = []
    for node in tree.find_all((nodes.If, nodes.For, nodes.Import, nodes.Macro)):
        if isinstance(node, nodes.If):
            shape.append(f"if {node.test!r}")
        elif isinstance(node, nodes.For):
            shape.append(f"for {node.target!r} in {node.iter!r}")
        elif isinstance(node, nodes.Import):
            shape.append(f"import {node.template!r} as {node.target}")
        else:
            shape.append(f"macro {node.name}")
    return shape


def _prose_lines(source: str) -> set[str]:
    """The lines of literal text of a template (no Jinja tags, comments or expressions)."""
    tree = jinja2.Environment().parse(source)
    lines = set()
    for data in tree.find_all(nodes.TemplateData):
        lines.update(line.strip() for line in data.data.splitlines() if len(line.strip()) >= 12)
    return lines


@pytest.mark.parametrize(("code", "name"), list(itertools.product(CODES, FILES)))
def test_template_keeps_the_english_interface(code: str, name: str) -> None:
    english, translated = _source(None, name), _source(code, name)
    assert _macros(translated) == _macros(english)
    parser = jinja2.Environment()
    assert meta.find_undeclared_variables(parser.parse(translated)) == (
        meta.find_undeclared_variables(parser.parse(english))
    )
    assert _structure(translated) == _structure(english)
    assert _prose_lines(english).isdisjoint(_prose_lines(translated))
    assert _prose_lines(translated)
    assert translated.lstrip().startswith("{#")


SAMPLE_VALUES = ("Honest", "Wealth", "Preserving my Public Image")


def _context(pack: dict[str, Any], variant: dict[str, object]) -> dict[str, object]:
    values = [pack["values"][name] for name in SAMPLE_VALUES]
    return {
        "country": pack["countries"]["India"],
        "topic": pack["topics"]["Religion"],
        "values": values,
        "value": values[0],
        "variant": variant,
        "option1": "FIRST-ACTION-TEXT",
        "option2": "SECOND-ACTION-TEXT",
    }


STATED_VARIANTS = [
    {"framing": f, "order": o, "ending": e}
    for f, o, e in itertools.product(
        ("survey", "portrait"), ("values_first", "options_first"), ("chat", "completion")
    )
]
ACTION_VARIANTS = [
    {"wording": w, "option1_polarity": p, "explanation": x}
    for w, p, x in itertools.product((0, 1), ("negative", "positive"), (False, True))
]


def _assert_mostly_in_script(code: str, text: str) -> None:
    letters = _letters(text.replace("JSON", "").replace("action", "").replace("explanation", ""))
    native = [c for c in letters if _in_script(c, SCRIPT[code])]
    assert len(native) >= 0.97 * len(letters), text


def _stated_framing(template: str, variant: dict[str, object]) -> object:
    """The framing a Task 1 template shows: the variant's for `digit`, else fixed by its id."""
    if template == "digit":
        return variant["framing"]
    return ("survey", "portrait")[(int(template[-1]) % 4) // 2]


@pytest.mark.parametrize("code", CODES)
def test_stated_templates_render_with_the_pack_words(code: str) -> None:
    pack, environment, english = _pack(code), _environment(code), _environment(None)
    names = [pack["values"][name]["name"] for name in SAMPLE_VALUES]
    templates = ("digit", *(f"variant_{n}" for n in range(8)))
    for variant, template in itertools.product(STATED_VARIANTS, templates):
        context = _context(pack, variant)
        text = environment.get_template(f"stated/{template}.jinja").render(**context)
        framing = _stated_framing(template, variant)
        for point, word in enumerate(pack["answers"][f"likert_{framing}"], start=1):
            assert f"{point} = {word}" in text, (template, variant)
        assert str(context["country"]) in text and str(context["topic"]) in text
        assert all(name in text for name in (names if template != "digit" else names[:1]))
        if template != "digit":
            assert '"<' in text and re.search(r"1\D{1,6}2\D{1,6}3\D{1,6}4", text)
        assert "agree" not in text and "like me" not in text and "The answer is" not in text
        english_text = english.get_template(f"stated/{template}.jinja").render(**context)
        assert text != english_text
        _assert_mostly_in_script(code, text)


@pytest.mark.parametrize("code", CODES)
def test_action_templates_render_with_the_option_labels(code: str) -> None:
    pack, environment = _pack(code), _environment(code)
    first, second = pack["answers"]["option_labels"]
    templates = ("digit", *(f"variant_{n}" for n in range(8)))
    for variant, template in itertools.product(ACTION_VARIANTS, templates):
        context = _context(pack, variant)
        text = environment.get_template(f"action/{template}.jinja").render(**context)
        for label, shown in ((first, "FIRST-ACTION-TEXT"), (second, "SECOND-ACTION-TEXT")):
            assert re.search(rf"^{re.escape(label)}\s?: {shown}$", text, re.MULTILINE), text
        assert pack["values"]["Honest"]["name"] in text
        assert str(context["country"]) in text and str(context["topic"]) in text
        number = int(template[-1]) if template != "digit" else None
        if number is not None and number % 2 == 0:
            assert f'{{"action": "{first}"}}' in text and f'{{"action": "{second}"}}' in text
        if number is not None and number % 2 == 1:
            assert '"explanation"' in text and '"action"' in text
            assert f'"{first}"' in text and f'"{second}"' in text
        if number is None:
            assert "1" in text and "2" in text and "{" not in text
        if first != "Option 1":
            assert "Option 1" not in text
        assert "Reply with" not in text and "Answer with" not in text
        _assert_mostly_in_script(
            code, text.replace("FIRST-ACTION-TEXT", "").replace("SECOND-ACTION-TEXT", "")
        )
