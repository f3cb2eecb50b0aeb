"""The built-in taxonomy loads every value with its full definition.

The file uses YAML flow mappings (`{name: ..., definition: ...}`), where an unquoted comma ends
a scalar: `definition: genuine, sincere` once loaded as "genuine" plus a stray key `sincere`.
These tests read the file a second way (a line regex, no YAML) and compare.
"""

from __future__ import annotations

import re
from importlib import resources

import pytest
import yaml

from valuelens.taxonomy import load_taxonomy

RAW = resources.files("valuelens.taxonomy").joinpath("taxonomy.yaml").read_text("utf-8")
TAX = load_taxonomy()

# One value per line: {name: N, type: T, definition: "D"} (single quotes when D holds a '"').
_VALUE_LINE = re.compile(
    r"^  - \{name: (?P<name>[^,{}]+), type: (?P<type>[^,{}]+), "
    r"definition: (?P<q>[\"'])(?P<definition>.*)(?P=q)\}\s*$"
)
_ITEM_LINE = re.compile(r"^  - \{name: (?P<name>[^,{}]+), label: (?P<label>[^,{}]+)\}\s*$")


def _section(name: str) -> list[str]:
    """The `  - {...}` lines under a top-level key, as written in the file."""
    lines = RAW.splitlines()
    start = lines.index(f"{name}:") + 1
    items = []
    for line in lines[start:]:
        if not line.startswith("  - "):
            break
        items.append(line)
    return items


def _raw_values() -> dict[str, tuple[str, str]]:
    found = {}
    for line in _section("values"):
        match = _VALUE_LINE.match(line)
        assert match, f"value line is not `{{name, type, definition: quoted}}`: {line!r}"
        found[match["name"]] = (match["type"], match["definition"])
    return found


def test_the_grid_has_56_values_12_countries_11_topics() -> None:
    assert (len(TAX.values), len(TAX.countries), len(TAX.topics)) == (56, 12, 11)
    assert len(_section("values")) == 56
    assert len(_section("countries")) == 12
    assert len(_section("topics")) == 11


def test_every_definition_is_quoted_in_the_file() -> None:
    assert len(_raw_values()) == 56


def test_loaded_definitions_equal_the_text_of_the_file() -> None:
    raw = _raw_values()
    assert [v.name for v in TAX.values] == list(raw)
    for value in TAX.values:
        assert (value.type, value.definition) == raw[value.name], value.name


def test_countries_and_topics_keep_their_labels() -> None:
    for axis, items in (("countries", TAX.countries), ("topics", TAX.topics)):
        raw = [_ITEM_LINE.match(line) for line in _section(axis)]
        assert all(raw), axis
        assert [(m["name"], m["label"]) for m in raw if m] == [(i.name, i.label) for i in items]


def test_no_mapping_in_the_file_has_stray_keys() -> None:
    # A comma cut off by the flow syntax turns into an extra key with a null value.
    data = yaml.safe_load(RAW)
    for value in data["values"]:
        assert set(value) == {"name", "type", "definition"}, value
        assert isinstance(value["definition"], str) and value["definition"].strip(), value
    for item in data["countries"] + data["topics"]:
        assert set(item) == {"name", "label"}, item


@pytest.mark.parametrize(
    ("name", "definition"),
    [
        ("Honest", "genuine, sincere"),
        ("Social Power", "control over others, dominance"),
        ("Wealth", "material possessions, money"),
        ("Capable", "competent, effective, efficient"),
        ("Enjoying Life", "enjoying food, sex, leisure and the like"),
        ("A Spiritual Life", "emphasis on spiritual, not material, matters"),
        ("Clean", "neat, tidy"),
        ("Preserving my Public Image", 'protecting my "face"'),
        ("Self-Respect", "belief in one's own worth"),
        ("Accepting my Portion in Life", "submitting to life's circumstances"),
    ],
)
def test_known_definitions_are_whole(name: str, definition: str) -> None:
    assert next(v.definition for v in TAX.values if v.name == name) == definition


def test_definitions_with_commas_are_the_ones_in_the_file() -> None:
    # Independent of the YAML parser and of quoting: each "definition: ..." up to the line's "}".
    in_file = [
        re.sub(r"^([\"'])(.*)\1$", r"\2", d)
        for d in re.findall(r"definition: (.*)\}\s*$", RAW, flags=re.MULTILINE)
    ]
    assert len(in_file) == 56
    with_commas = sorted(d for d in in_file if "," in d)
    assert len(with_commas) == 20
    assert with_commas == sorted(v.definition for v in TAX.values if "," in v.definition)
