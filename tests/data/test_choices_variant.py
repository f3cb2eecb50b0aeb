"""The authors' per-pair Task 2 files hold variant 5 (the only one the paper ran), not 0."""

from __future__ import annotations

from pathlib import Path

from valuelens.data import load_choices, load_stated
from valuelens.metrics import variant_scores
from valuelens.taxonomy import load_taxonomy

ROWS = "India,Politics,Honest,{}\nIndia,Politics,Wealth,{}\n"


def test_an_authors_file_gets_variant_5_and_reports_it(tmp_path: Path) -> None:
    choices = tmp_path / "t2.csv"
    choices.write_text(
        "country,topic,value,t2_chosen_polarity\n" + ROWS.format("positive", "negative"),
        encoding="utf-8",
    )
    stated = tmp_path / "t1.csv"
    stated.write_text("country,topic,value,likert\n" + ROWS.format(1, 4), encoding="utf-8")
    table = load_choices(choices)
    assert set(table["variant"]) == {5}
    scores = variant_scores(load_stated(stated), table, load_taxonomy())
    assert scores.loc[scores["task"] == "action", "variant"].astype(str).tolist() == ["5"]


def test_a_file_with_its_own_variants_keeps_them(tmp_path: Path) -> None:
    path = tmp_path / "t2.csv"
    path.write_text(
        "country,topic,value,variant,t2_chosen_polarity\n"
        "India,Politics,Honest,2,positive\nIndia,Politics,Honest,3,negative\n",
        encoding="utf-8",
    )
    assert load_choices(path)["variant"].tolist() == [2, 3]
    plain = tmp_path / "mine.csv"
    plain.write_text("country,topic,value,choice\nIndia,Politics,Honest,positive\n", "utf-8")
    assert load_choices(plain)["variant"].tolist() == [0]
