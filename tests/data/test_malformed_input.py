"""A malformed table fails in one line that names the file, the line and what went wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from valuelens._errors import ValuelensError
from valuelens.data import load_choices, load_stated, load_via

HEADER = "country,topic,value,choice\n"
GOOD = "India,Politics,Honest,negative\n"


def _write(tmp_path: Path, text: str, name: str = "choices.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_an_unclosed_quote_names_the_line_it_opens_on(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + GOOD + '"United States,Politics,{bad,Honest,positive\n' + GOOD)
    with pytest.raises(ValuelensError) as caught:
        load_choices(path)
    message = str(caught.value)
    assert str(path) in message and "line 3" in message and "quote" in message
    assert "\n" not in message


def test_a_row_with_too_many_cells_names_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + GOOD + 'India,Politics,{"a": 1, "b": 2},negative\n')
    with pytest.raises(ValuelensError) as caught:
        load_stated(path)
    message = str(caught.value)
    assert str(path) in message and "line 3" in message
    assert "4" in message and "5" in message and "comma" in message


@pytest.mark.parametrize(("separator", "word"), [(";", "';'"), ("\t", "tab")])
def test_a_file_with_another_delimiter_says_so(tmp_path: Path, separator: str, word: str) -> None:
    text = (HEADER + GOOD).replace(",", separator)
    path = _write(tmp_path, text)
    for loader in (load_choices, load_via):
        with pytest.raises(ValuelensError) as caught:
            loader(path)
        message = str(caught.value)
        assert str(path) in message and "line 1" in message and word in message, message
        assert "comma" in message


def test_a_missing_choice_column_names_every_accepted_column(tmp_path: Path) -> None:
    path = _write(tmp_path, "country,topic,value,answer\n" + GOOD)
    with pytest.raises(ValuelensError, match="t2_chosen_polarity") as caught:
        load_choices(path)
    assert str(path) in str(caught.value) and "evaluation_0" in str(caught.value)


def test_the_line_counts_lines_of_the_file_not_records(tmp_path: Path) -> None:
    # The first data row's quoted cell spans lines 2-3, so the broken row is on line 4.
    multi = HEADER + '"India\nX",Politics,Honest,negative\n'
    for broken in (
        '"India,Politics,Honest,negative\n',
        'India,Politics,{"a": 1, "b": 2},negative\n',
    ):
        path = _write(tmp_path, multi + broken)
        with pytest.raises(ValuelensError, match="line 4: "):
            load_choices(path)
