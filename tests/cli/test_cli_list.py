"""`valuelens list ...`: the taxonomy, prompt variants, backends and tasks, as tables or JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from valuelens.cli import app, main


def _json(*args: str) -> Any:
    result = CliRunner().invoke(app, ["list", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # JSON only: anything else would fail to parse


def test_countries_are_the_papers_twelve() -> None:
    names = [c["name"] for c in _json("countries")]
    assert len(names) == 12 and {"Nigeria", "United States", "India"} <= set(names)


def test_topics_are_the_papers_eleven() -> None:
    names = [t["name"] for t in _json("topics")]
    assert len(names) == 11 and {"Politics", "Religion", "Environment"} <= set(names)


def test_values_carry_type_and_higher_order_group() -> None:
    rows = {v["name"]: v for v in _json("values")}
    assert len(rows) == 56
    # Schwartz (1992): honest is benevolence (self-transcendence), wealth is power
    # (self-enhancement), devout is tradition (conservation), daring stimulation (openness).
    assert (rows["Honest"]["type"], rows["Honest"]["group"]) == (
        "Benevolence",
        "Self-Transcendence",
    )
    assert (rows["Wealth"]["type"], rows["Wealth"]["group"]) == ("Power", "Self-Enhancement")
    assert rows["Devout"]["group"] == "Conservation"
    assert rows["Daring"]["group"] == "Openness to Change"


def test_an_extended_taxonomy_is_listed(tmp_path: Path) -> None:
    extra = tmp_path / "tax.yaml"
    extra.write_text("countries: [{name: Atlantis, label: ATL}]\n", encoding="utf-8")
    rows = _json("countries", "--taxonomy", str(extra))
    assert rows[-1] == {"name": "Atlantis", "label": "ATL"} and len(rows) == 13


def test_variants_per_task_with_their_factors() -> None:
    listed = _json("variants")
    assert set(listed) == {"generate", "stated", "action"}
    assert all(len(rows) == 8 for rows in listed.values())
    # The paper ran Task 2 on variant 5 and averaged Task 1 over all eight.
    action = {row["id"]: row for row in listed["action"]}
    assert [i for i, row in action.items() if row["default"]] == [5]
    assert all(row["default"] for row in listed["stated"])
    assert {"wording", "option1_polarity", "explanation"} <= set(action[5])


def test_models_list_the_builtin_backends_and_how_to_write_them() -> None:
    rows = {r["kind"]: r for r in _json("models")}
    assert {"embedded", "openai", "anthropic"} <= set(rows)
    assert rows["openai"]["base_url"] is True and "openai:" in rows["openai"]["spec"]


def test_tasks_list_names_and_descriptions() -> None:
    rows = {r["name"]: r for r in _json("tasks")}
    assert {"generate", "stated", "action"} <= set(rows)
    assert all(r["description"] for r in rows.values())


@pytest.mark.parametrize("what", ["countries", "topics", "values", "variants", "models", "tasks"])
def test_each_listing_prints_a_table(what: str) -> None:
    result = CliRunner().invoke(app, ["list", what])
    assert result.exit_code == 0, result.output
    assert "┃" in result.output or "|" in result.output


def test_a_bad_taxonomy_is_one_error(tmp_path: Path) -> None:
    bad = tmp_path / "tax.yaml"
    bad.write_text("countries: [", encoding="utf-8")
    result = CliRunner().invoke(app, ["list", "countries", "--taxonomy", str(bad)])
    assert result.exit_code != 0


def test_languages_are_english_and_the_six_packs() -> None:
    rows = {r["code"]: r for r in _json("languages")}
    # Issue 16: the main languages of the default countries, plus English.
    assert set(rows) == {"en", "hi", "ur", "de", "fr", "ar", "fil"}
    native = {code: row["native_for"] for code, row in rows.items()}
    assert native["hi"] == "India" and native["ur"] == "Pakistan"
    assert native["fil"] == "Philippines" and native["ar"] == "Egypt"
    assert native["en"] == ""


def test_languages_refuse_a_missing_pack_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "x"
    monkeypatch.setattr(
        sys, "argv", ["valuelens", "list", "languages", "--languages-dir", str(folder)]
    )
    with pytest.raises(SystemExit) as stopped:
        main()
    output = capsys.readouterr().err
    assert stopped.value.code == 2
    assert output.count("\n") == 1 and "languages folder not found" in output
