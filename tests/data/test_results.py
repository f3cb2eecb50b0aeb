import pandas as pd
import pytest

from valuelens._errors import UnknownNameError, ValuelensError
from valuelens.data import load_choices, load_stated


def _write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_raw_stated_one_row_per_value_and_variant(tmp_path):
    frame = pd.DataFrame(
        {
            "country": ["Germany", "Germany"],
            "topic": ["Religion", "Religion"],
            "response": ['```json\n{"Devout": "4", "Honest": "strongly agree"}\n```', "no idea"],
            "prompt_index": [0, 1],
        }
    )
    path = tmp_path / "t1.csv"
    frame.to_csv(path, index=False)
    long = load_stated(path)
    assert len(long) == 2 * 56
    first = long[long["variant"] == 0].set_index("value")
    assert first.loc["Devout", "likert"] == 4.0 and first.loc["Honest", "likert"] == 1.0
    assert first["likert"].isna().sum() == 54
    assert set(long[long["variant"] == 1]["parse_status"]) == {"failed"}
    # paper mode reads the same fenced JSON but does not translate "strongly agree" to... it does
    paper = load_stated(path, paper_compat=True).set_index(["variant", "value"])
    assert paper.loc[(0, "Honest"), "likert"] == 1.0


def test_tidy_stated_and_choices_with_alias_column(tmp_path):
    stated = _write(tmp_path, "s.csv", "country,topic,value,likert\nGermany,Religion,Devout,2\n")
    assert load_stated(stated)["likert"].tolist() == [2.0]
    choices = _write(
        tmp_path,
        "c.csv",
        "country,topic,value,t2_chosen_polarity\nGermany,Religion,Devout,Negative\n"
        "Germany,Religion,Honest,\n",
    )
    assert load_choices(choices)["choice"].tolist() == ["negative", None]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        ("country,topic\n", "has no rows"),
        ("country,topic,val,choice\nGermany,Religion,Devout,positive\n", "lacks column(s) value"),
        ("country,topic,value,choice\nGermany,Religion,Devout,maybe\n", "'maybe' is not"),
        (
            "country,topic,value,choice\nNigeira,Religion,Devout,positive\n",
            "did you mean 'Nigeria'",
        ),
        (
            "country,topic,value,choice\nGermany,Religion,Devotion,positive\n",
            "unknown value 'Devotion'",
        ),
    ],
)
def test_bad_choice_files_give_one_line_errors(tmp_path, content, message):
    path = _write(tmp_path, "c.csv", content)
    with pytest.raises(ValuelensError) as info:
        load_choices(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_non_utf8_and_missing_file(tmp_path):
    path = _write(
        tmp_path,
        "latin.csv",
        "country,topic,value,choice\nG\xe9rmany,Religion,Devout,positive\n",
        encoding="latin-1",
    )
    with pytest.raises(ValuelensError, match="not UTF-8"):
        load_choices(path)
    with pytest.raises(ValuelensError, match="no such file"):
        load_stated(tmp_path / "nope.csv")


def test_unknown_country_in_raw_stated(tmp_path):
    path = _write(tmp_path, "t1.csv", 'country,topic,response\nAtlantis,Religion,"{}"\n')
    with pytest.raises(UnknownNameError, match="unknown country 'Atlantis'"):
        load_stated(path)


def test_robustness_layout_maps_options_per_variant(tmp_path):
    # The authors' layout: option1 is the negative action; variants 2, 3, 6 and 7 show the
    # options in reverse order, so there "Option 1" is the positive action.
    answers = {
        "evaluation_0": "{'action': 'Option 1'}",
        "evaluation_1": "{'explanation': 'I pick Option 2 because...', 'action': 'Option 1'}",
        "evaluation_2": "{'action': 'Option 1'}",
        "evaluation_3": '{"action": "Option 2", "explanation": "..."}',
        "evaluation_4": "Option 2",
        "evaluation_5": "",
        "evaluation_6": "I would rather not choose.",
        "evaluation_7": "{'action': 'option 2'}",
    }
    frame = pd.DataFrame(
        [{"country": "Canada", "topic": "Religion", "value": "Devout", "option1": "n",
          "option2": "p", **answers}]
    )  # fmt: skip
    path = tmp_path / "task2_results_model.csv"
    frame.to_csv(path, index=False)
    choices = load_choices(path).set_index("variant")["choice"]
    assert choices.to_dict() == {
        0: "negative",
        1: "negative",
        2: "positive",
        3: "negative",
        4: "positive",
        5: None,
        6: None,
        7: "negative",
    }


def test_authors_robustness_file(reference_dir):
    path = reference_dir / "src" / "outputs" / "task2_results_gpt_4o_mini.csv"
    choices = load_choices(path)
    assert len(choices) == 50 * 8
    assert sorted(choices["variant"].unique()) == list(range(8))
    first = choices[
        (choices["country"] == "Australia") & (choices["value"] == "Accepting my Portion in Life")
    ]
    # evaluation_0 says Option 1 (the negative action, shown first); evaluation_2 says Option 2,
    # which in that reversed variant is again the negative action.
    assert first.set_index("variant").loc[[0, 2], "choice"].tolist() == ["negative", "negative"]
