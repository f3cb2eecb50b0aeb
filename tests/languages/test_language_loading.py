"""Language packs: loading by code or name, validation in one line, and native resolution."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from language_fixture import CODE, NAME, pack_data, translated, write_languages_dir

from valuelens._errors import ValuelensError
from valuelens.taxonomy import (
    available_languages,
    language_plan,
    load_language,
    load_taxonomy,
    parse_languages,
)


@pytest.fixture
def languages_dir(tmp_path: Path) -> Path:
    return write_languages_dir(tmp_path / "langs")


@pytest.mark.parametrize("spelling", ["xx", "XX", " Testish ", "TESTISH", "testisch"])
def test_a_pack_loads_by_code_or_name_in_any_case(languages_dir: Path, spelling: str) -> None:
    pack = load_language(spelling, languages_dir)
    assert pack.code == CODE and pack.name == NAME
    assert pack.country("India") == "XX:India"
    assert pack.value_aliases["XX:Honest"] == "Honest"
    assert pack.value_context("Honest", "Benevolence") == {
        "name": "XX:Honest",
        "definition": "XXDEF genuine, sincere",
        "type": "XX:Benevolence",
    }


def test_available_languages_lists_english_first_and_the_users_packs(languages_dir: Path) -> None:
    found = available_languages(languages_dir)
    assert next(iter(found)) == "en" and found["en"] == "English"
    assert found[CODE] == NAME


def test_the_built_in_packs_load_and_cover_the_taxonomy() -> None:
    tax = load_taxonomy()
    codes = [code for code in available_languages() if code != "en"]
    if not codes:
        pytest.skip("no built-in language pack yet")
    for code in codes:
        pack = load_language(code)
        pack.check_covers(tax, tax.country_names)
        assert len(pack.answers.option_labels) == 2


def test_an_unknown_language_lists_the_choices(languages_dir: Path) -> None:
    with pytest.raises(ValuelensError, match=r"unknown prompt language 'klingon'.*xx \(Testish\)"):
        load_language("klingon", languages_dir)


def _write(folder: Path, data: dict[str, object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{CODE}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return folder


def test_a_pack_without_answers_fails_in_one_line_naming_file_and_key(tmp_path: Path) -> None:
    data = pack_data()
    del data["answers"]
    folder = _write(tmp_path / "langs", data)
    with pytest.raises(ValuelensError) as caught:
        load_language(CODE, folder)
    message = str(caught.value)
    assert "\n" not in message and f"{folder / 'xx.yaml'}" in message and "answers" in message


def test_a_pack_with_three_option_labels_is_refused(tmp_path: Path) -> None:
    data = pack_data()
    data["answers"]["option_labels"] = ["A", "B", "C"]
    with pytest.raises(ValuelensError, match="option_labels"):
        load_language(CODE, _write(tmp_path / "langs", data))


def test_two_values_with_one_translated_name_are_refused(tmp_path: Path) -> None:
    data = pack_data()
    data["values"]["Wealth"]["name"] = translated("Honest")
    with pytest.raises(ValuelensError, match="share the name 'XX:Honest'"):
        load_language(CODE, _write(tmp_path / "langs", data))


def test_a_pack_whose_code_differs_from_its_file_name_is_refused(tmp_path: Path) -> None:
    data = {**pack_data(), "code": "yy"}
    with pytest.raises(ValuelensError, match="code: yy"):
        load_language(CODE, _write(tmp_path / "langs", data))


def test_a_pack_missing_a_value_names_it(tmp_path: Path) -> None:
    data = pack_data()
    del data["values"]["Devout"]
    pack = load_language(CODE, _write(tmp_path / "langs", data))
    with pytest.raises(ValuelensError, match="no translation of 'Devout'"):
        pack.check_covers(load_taxonomy())


def test_a_pack_with_an_unknown_value_names_it(tmp_path: Path) -> None:
    data = pack_data()
    data["values"]["Honesty"] = {"name": "XX:Honesty", "definition": ""}
    pack = load_language(CODE, _write(tmp_path / "langs", data))
    with pytest.raises(ValuelensError, match=r"unknown value.*'Honesty'"):
        pack.check_covers(load_taxonomy())


def test_native_asks_each_country_in_its_packs_language(languages_dir: Path) -> None:
    countries = ["United States", "India"]
    plan = language_plan("native", countries, languages_dir)
    # The fixture pack is native for India; the United States has no pack of its own here
    # unless a built-in pack claims it (none does: the US is asked in English).
    assert plan[CODE] == ["India"]
    assert plan["en"] == ["United States"]


def test_en_and_native_ask_english_once_per_country(languages_dir: Path) -> None:
    plan = language_plan("en,native", ["United States", "India"], languages_dir)
    assert plan == {"en": ["United States", "India"], CODE: ["India"]}


def test_language_entries_accept_names_and_drop_repeats(languages_dir: Path) -> None:
    choice = parse_languages("English, testish ,EN,xx", languages_dir)
    assert choice.entries == ("en", CODE)
    with pytest.raises(ValuelensError, match="--language needs"):
        parse_languages(" , ", languages_dir)


def test_an_unknown_language_on_the_command_line_is_one_line_and_exit_2(tmp_path: Path) -> None:
    args = ["evaluate", "--language", "en,klingon", "--dry-run", "--out", str(tmp_path / "r")]
    proc = subprocess.run(
        [sys.executable, "-m", "valuelens", *args], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "unknown prompt language 'klingon'" in lines[0]
