"""Names match ignoring case and spacing, wherever a user types them or a file gives them.

The canonical spelling (the taxonomy's) is what comes back, and so what a run records.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from valuelens._errors import ValuelensError
from valuelens.data import load_choices, load_via
from valuelens.taxonomy import load_taxonomy

TAX = load_taxonomy()


@pytest.mark.parametrize(
    ("axis", "typed", "canonical"),
    [
        ("country", "india", "India"),
        ("country", "  UNITED   states ", "United States"),
        ("topic", "politics", "Politics"),
        ("value", "protecting THE environment", "Protecting the Environment"),
        ("value", "self-respect", "Self-Respect"),
    ],
)
def test_a_name_in_any_case_resolves_to_its_canonical_spelling(
    axis: str, typed: str, canonical: str
) -> None:
    assert TAX.resolve(axis, typed) == canonical  # type: ignore[arg-type]


def test_a_comma_list_in_any_case_resolves() -> None:
    assert TAX.resolve_many("country", "india, united states") == ["India", "United States"]


def test_an_unknown_name_still_fails_with_a_hint() -> None:
    with pytest.raises(ValuelensError, match="did you mean 'India'"):
        TAX.resolve_country("Indai")


def test_a_taxonomy_refuses_names_that_differ_only_in_case(tmp_path: Path) -> None:
    path = tmp_path / "tax.yaml"
    path.write_text("countries: [Atlantis, atlantis]\n", encoding="utf-8")
    with pytest.raises(ValuelensError, match="duplicate country names"):
        load_taxonomy(path, replace=True)


def test_an_extension_skips_a_name_present_in_another_case(tmp_path: Path) -> None:
    path = tmp_path / "tax.yaml"
    path.write_text("countries: [india, Atlantis]\n", encoding="utf-8")
    tax = load_taxonomy(path)
    assert tax.country_names[-1] == "Atlantis"
    assert "india" not in tax.country_names and tax.country_names.count("India") == 1


def test_files_with_lowercase_names_load_with_the_canonical_spelling(tmp_path: Path) -> None:
    choices = tmp_path / "choices.csv"
    choices.write_text(
        "country,topic,value,choice\nindia,POLITICS,honest,positive\n", encoding="utf-8"
    )
    table = load_choices(choices)
    assert table[["country", "topic", "value"]].iloc[0].tolist() == ["India", "Politics", "Honest"]
    via = tmp_path / "via.csv"
    via.write_text(
        "country,topic,value,polarity,action\n"
        "nigeria,religion,HONEST,positive,I tell the truth.\n"
        "Nigeria,Religion,Honest,negative,I lie.\n",
        encoding="utf-8",
    )
    actions = load_via(via)
    assert set(actions["country"]) == {"Nigeria"} and set(actions["value"]) == {"Honest"}
