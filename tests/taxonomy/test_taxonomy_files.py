"""A user's taxonomy file: extensions that work, and bad files that fail in one line.

Every bad file must raise `ValuelensError` (never TypeError, ValueError or RecursionError) with a
one-line message that names the file and, where there is one, the offending entry.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from valuelens._errors import ValuelensError
from valuelens.taxonomy import load_taxonomy

BUILTIN = load_taxonomy()


def _write(tmp_path: Path, text: str | bytes, name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path) -> str:
    with pytest.raises(ValuelensError) as caught:
        load_taxonomy(path)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 400, message
    assert str(path) in message
    return message


def test_an_extension_adds_names_in_either_syntax(tmp_path: Path) -> None:
    yaml_file = _write(
        tmp_path,
        "version: 2\ncountries: [Atlantis, {name: El Dorado, label: ELD}]\n"
        "values:\n  - {name: Curiosity, type: Openness, definition: 'wanting to know'}\n",
    )
    json_file = _write(
        tmp_path,
        json.dumps({"countries": ["Atlantis", {"name": "El Dorado", "label": "ELD"}]}),
        "mine.json",
    )
    from_yaml, from_json = load_taxonomy(yaml_file), load_taxonomy(json_file)
    for tax in (from_yaml, from_json):
        assert tax.country_names == [*BUILTIN.country_names, "Atlantis", "El Dorado"]
        assert tax.label("country", "El Dorado") == "ELD"
    assert from_yaml.version == "2"
    assert from_yaml.value_type("Curiosity") == "Openness"
    assert from_json.version == f"{BUILTIN.version}+custom"


def test_replace_substitutes_only_the_axes_given(tmp_path: Path) -> None:
    tax = load_taxonomy(_write(tmp_path, "topics: [Tides, Space]\n"), replace=True)
    assert tax.topic_names == ["Tides", "Space"]
    assert tax.country_names == BUILTIN.country_names


def test_replacing_an_axis_by_nothing_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "topics: []\n")
    with pytest.raises(ValuelensError, match=r"topics: .*at least 1 item"):
        load_taxonomy(path, replace=True)


def test_a_name_already_present_is_skipped_when_adding(tmp_path: Path) -> None:
    tax = load_taxonomy(_write(tmp_path, "countries: ['United  States', Atlantis]\n"))
    assert tax.country_names == [*BUILTIN.country_names, "Atlantis"]


def test_a_bom_is_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path, b'\xef\xbb\xbf{"countries": ["Atlantis"]}', "bom.json")
    assert load_taxonomy(path).country_names[-1] == "Atlantis"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"countries": [null]}', r"countries\[0\]: expected a name or a mapping .*found None"),
        ("values: [[Honest, Wealth]]\n", r"values\[0\]: expected a name or a mapping .*a list"),
        ("countries: [{name: [a, b]}]\n", r"countries\[0\]\.name: expected text"),
        ("countries: [{name: X, labl: y}]\n", r"countries\[0\]\.labl: unknown key"),
        ("countries: Atlantis\n", r"countries: expected a list \(found 'Atlantis'\)"),
        ("value: [Atlantis]\n", r"value: unknown key"),
        ("countries: ['  ']\n", r"countries\[0\]: a name is empty"),
        ("countries: [Atlantis, Atlantis]\n", r"duplicate country names: Atlantis"),
        ("countries: [" + "x" * 300 + "]\n", r"countries\[0\]\.name: .*at most 200"),
        ("version: [1]\ncountries: [A]\n", r"version: expected text"),
        ("- a\n- b\n", r"must hold a mapping .*not a list"),
        ("", r"must hold a mapping .*not None"),
        ("countries: [a\n", r"not valid YAML: .*line"),
        ("values:\n\t- Honest\n", r"not valid YAML: .*'\\t'"),
        ("a: 2024-13-45\n", r"holds a value that cannot be read"),
        ("x: !!python/object/apply:os.system ['true']\n", r"not valid YAML"),
        ("values: " + "[" * 5000 + "]" * 5000 + "\n", r"nested too deeply"),
        ("values: " + "[" * 40 + "]" * 40 + "\n", r"nested more than 32 levels"),
    ],
)
def test_bad_files_fail_in_one_line(tmp_path: Path, text: str, expected: str) -> None:
    message = _error(_write(tmp_path, text))
    assert re.search(expected, message), message


def test_deep_json_fails_in_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"topics": ' + "[" * 100_000 + "]" * 100_000 + "}", "deep.json")
    assert "nested too deeply" in _error(path)


def test_a_yaml_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    levels = ["l0: &l0 [" + ", ".join(["x"] * 9) + "]"]
    levels += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 9)]
    path = _write(tmp_path, "\n".join(levels) + "\ncountries: *l8\n")
    assert "more than 200,000 entries" in _error(path)


def test_unreadable_files_fail_in_one_line(tmp_path: Path) -> None:
    assert "not UTF-8" in _error(_write(tmp_path, "countries: [Zürich]".encode("latin-1")))
    assert "cannot read" in _error(tmp_path)
    assert "cannot read" in _error(tmp_path / "missing.yaml")


def test_an_unknown_name_is_shown_cut_short() -> None:
    with pytest.raises(ValuelensError) as caught:
        BUILTIN.resolve_country("Atlantis" * 10_000)
    assert len(str(caught.value)) < 120
    with pytest.raises(ValuelensError, match="did you mean 'Canada'"):
        BUILTIN.resolve_country("Canda")


def test_extended_validates_a_mapping_given_in_code() -> None:
    with pytest.raises(ValuelensError, match=r"countries\[1\]: expected a name"):
        BUILTIN.extended({"countries": ["Atlantis", 3]})
    assert BUILTIN.extended({"countries": ["Atlantis"]}).country_names[-1] == "Atlantis"
