import ast
import re

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from valuelens._errors import UnknownNameError, ValuelensError
from valuelens.data import load_choices, load_stated, parse_option_answer


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


ROBUSTNESS_MODELS = [
    "gpt_4o_mini",
    "gpt_4o",
    "gpt_35_turbo",
    "claude_sonnet_4",
    "deepseek-r1-distill-llama-70b",
    "gemma2",
    "llama33",
    "qwen",
]
# Counted by hand from the files (see _independent_option): the answers that name no option.
UNPARSEABLE = {"claude_sonnet_4": {"refused": 4}, "gemma2": {"both": 1}}
# The oldest parser read only "Option N"; GPT-3.5 answered with a bare digit 222 times.
BARE_DIGITS = {"gpt_35_turbo": 222, "deepseek-r1-distill-llama-70b": 13, "gpt_4o": 3}


def _independent_option(cell: str) -> int | None:
    """The option a cell names, read without the code under test: the cells are dict literals."""
    action = str(ast.literal_eval(cell)["action"]).strip()
    plain = re.fullmatch(r"(?:Option )?([12])", action)
    return int(plain.group(1)) if plain else None


@pytest.mark.parametrize("model", ROBUSTNESS_MODELS)
def test_every_answer_of_the_robustness_files_parses(reference_dir, model):
    path = reference_dir / "src" / "outputs" / f"task2_results_{model}.csv"
    raw = pd.read_csv(path)
    choices = load_choices(path)
    assert choices.attrs["layout"] == "robustness"
    assert len(choices) == 400
    bare = 0
    for variant in range(8):
        cells = raw[f"evaluation_{variant}"]
        options = [_independent_option(cell) for cell in cells]
        bare += sum(bool(re.search(r"'action': (?:'[12]'|[12])[,}]", cell)) for cell in cells)
        # option1 is the negative action; variants 2, 3, 6 and 7 showed it second.
        first = "positive" if variant % 4 >= 2 else "negative"
        second = "negative" if first == "positive" else "positive"
        expected = [None if o is None else first if o == 1 else second for o in options]
        got = choices[choices["variant"] == variant]
        assert got["choice"].notna().sum() == sum(o is not None for o in options)
        assert got["choice"].tolist() == expected
    assert bare == BARE_DIGITS.get(model, 0)
    statuses = choices["parse_status"].value_counts().to_dict()
    assert statuses == {"ok": 400 - sum(UNPARSEABLE.get(model, {}).values())} | UNPARSEABLE.get(
        model, {}
    )
    unparsed = choices[choices["parse_status"] != "ok"]
    assert unparsed["choice"].isna().all()
    assert (unparsed["raw"].str.len() > 0).all()


def test_option1_of_the_robustness_files_is_the_via_negative_action(reference_dir):
    via = pd.read_csv(
        reference_dir / "outputs" / "data_release" / "value_action_gap_full_data_generation.csv"
    )
    negative = via[via["polarity"] == "negative"].set_index(["country", "topic", "value"])
    raw = pd.read_csv(reference_dir / "src" / "outputs" / "task2_results_gpt_35_turbo.csv")
    for row in raw.itertuples():
        generation = negative.loc[(row.country, row.topic, row.value), "generation_prompt"]
        assert row.option1[:60] in generation and row.option2[:60] not in generation


@pytest.mark.parametrize(
    ("cell", "option", "status"),
    [
        ("{'action': 'Option 1'}", 1, "ok"),
        ("{'action': '2'}", 2, "ok"),
        ("{'action': 2}", 2, "ok"),
        ("{'action': 1.0}", 1, "ok"),
        ('{"action": "Option 2", "explanation": "Option 1 is worse"}', 2, "ok"),
        ("{'explanation': 'Option 2 is not for me', 'action': ' option  1 '}", 1, "ok"),
        ("{'Action': 'OPTION 2: I would ...'}", 2, "ok"),
        ("{'action': '(1)'}", 1, "ok"),
        ("Option 2", 2, "ok"),
        ('{"action": "Option 1", "explanation": "truncated', 1, "ok"),
        ("{'action': 'I would pick Option 2 here'}", 2, "repaired"),
        ("{'action': 'Both'}", None, "both"),
        ("{'action': 'Option 1 and Option 2'}", None, "both"),
        ("{'action': 'Neither - I cannot choose'}", None, "refused"),
        ("{'action': 'I cannot select an option. Option 1 is X, Option 2 is Y'}", None, "refused"),
        ("{'action': 'Option 12'}", None, "failed"),
        ("{'action': 3}", None, "failed"),
        ("{'action': True}", None, "failed"),
        ("{'explanation': 'no action key'}", None, "failed"),
        ("{'action': ''}", None, "missing"),
        ("", None, "missing"),
        (float("nan"), None, "missing"),
        (None, None, "missing"),
        ("{" * 5000, None, "failed"),
        ("{'action': " + "[" * 15_000 + "}", None, "failed"),
        ("{'action': " + "[" * 50_000 + "}", None, "failed"),
    ],
)
def test_parse_option_answer(cell, option, status):
    parsed = parse_option_answer(cell)
    assert (parsed.option, parsed.status) == (option, status)


@given(
    st.one_of(
        st.text(),
        st.builds(lambda s: "{'action': " + s + "}", st.text()),
        st.builds(lambda s: '{"action": "' + s, st.text()),
        st.integers(),
        st.floats(),
        st.none(),
    )
)
def test_parse_option_answer_never_raises(cell):
    parsed = parse_option_answer(cell)
    assert (parsed.option in (1, 2)) == (parsed.status in ("ok", "repaired"))


def test_long_choices_keep_raw_and_status(tmp_path):
    path = _write(
        tmp_path,
        "c.csv",
        "country,topic,value,choice\nGermany,Religion,Devout, Positive\nGermany,Religion,Honest,\n",
    )
    choices = load_choices(path)
    assert choices.attrs["layout"] == "long"
    assert choices[["choice", "raw", "parse_status"]].values.tolist() == [
        ["positive", "Positive", "ok"],
        [None, "", "missing"],
    ]


def test_missing_choice_column_names_the_alias(tmp_path):
    path = _write(tmp_path, "c.csv", "country,topic,value,picked\nGermany,Religion,Devout,x\n")
    with pytest.raises(ValuelensError, match="t2_chosen_polarity is also accepted"):
        load_choices(path)


# --- repeated rows -----------------------------------------------------------------------------

LONG_REPEATS = (
    "country,topic,value,variant,choice\n"
    "Germany,Religion,Devout,0,positive\n"
    "Germany,Religion,Honest,0,positive\n"
    "Germany ,Religion,  Devout,0,negative\n"  # the same pair, spaced differently, answered the other way
    "Germany,Religion,Devout,1,negative\n"
    "Germany,Religion,Devout,0,negative\n"
)


def test_repeated_choices_are_an_error_naming_count_and_first_pair(tmp_path):
    path = _write(tmp_path, "c.csv", LONG_REPEATS)
    with pytest.raises(ValuelensError) as info:
        load_choices(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert "repeats 2 row(s)" in message
    assert "value=Devout, variant=0 in data rows 1 and 3" in message


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (
            "first",
            {(0, "Devout"): "positive", (0, "Honest"): "positive", (1, "Devout"): "negative"},
        ),
        ("last", {(0, "Devout"): "negative", (0, "Honest"): "positive", (1, "Devout"): "negative"}),
        (
            "variants",
            {
                (0, "Devout"): "positive",
                (0, "Honest"): "positive",
                (1, "Devout"): "negative",
                (2, "Devout"): "negative",  # first repeat of variant 0: 0 + 1 * (1 + 1)
                (4, "Devout"): "negative",  # second repeat: 0 + 2 * 2
            },
        ),
    ],
)
def test_repeated_choices_policies(tmp_path, policy, expected):
    path = _write(tmp_path, "c.csv", LONG_REPEATS)
    choices = load_choices(path, duplicates=policy)
    got = {(v, value): c for v, value, c in choices[["variant", "value", "choice"]].values}
    assert got == expected


def test_exact_duplicates_count_too(tmp_path):
    path = _write(
        tmp_path,
        "c.csv",
        "country,topic,value,choice\nGermany,Religion,Devout,positive\n"
        "Germany,Religion,Devout,positive\n",
    )
    with pytest.raises(ValuelensError, match="repeats 1 row"):
        load_choices(path)
    assert load_choices(path, duplicates="variants")["variant"].tolist() == [0, 1]


def test_repeated_pair_in_robustness_layout(tmp_path):
    row = {"country": "Canada", "topic": "Religion", "value": "Devout", "option1": "n",
           "option2": "p", "evaluation_0": "{'action': '1'}", "evaluation_1": "{'action': '2'}"}  # fmt: skip
    frame = pd.DataFrame([row, {**row, "evaluation_0": "{'action': '2'}"}])
    path = tmp_path / "task2_results_x.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ValuelensError, match=r"\(country, topic, value\).*data rows 1 and 2"):
        load_choices(path)
    last = load_choices(path, duplicates="last").set_index("variant")["choice"]
    assert last.to_dict() == {0: "positive", 1: "positive"}
    as_variants = load_choices(path, duplicates="variants").set_index("variant")["choice"]
    assert as_variants.to_dict() == {0: "negative", 1: "positive", 8: "positive", 9: "positive"}


RAW_STATED_REPEATS = (
    "country,topic,response,prompt_index\n"
    'Germany,Religion,"{""Devout"": 1}",0\n'
    'Germany,Religion,"{""Devout"": 2}",1\n'
    'Germany,Religion,"{""Devout"": 4}",0\n'
)


def test_repeated_raw_stated_rows(tmp_path):
    path = _write(tmp_path, "t1.csv", RAW_STATED_REPEATS)
    with pytest.raises(ValuelensError) as info:
        load_stated(path)
    assert "(country, topic, prompt_index)" in str(info.value)
    assert "prompt_index=0 in data rows 1 and 3" in str(info.value)

    def devout(policy):
        long = load_stated(path, duplicates=policy)
        return long[long["value"] == "Devout"].set_index("variant")["likert"].to_dict()

    assert devout("first") == {0: 1.0, 1: 2.0}
    assert devout("last") == {1: 2.0, 0: 4.0}
    assert devout("variants") == {0: 1.0, 1: 2.0, 2: 4.0}


def test_repeated_tidy_stated_rows(tmp_path):
    path = _write(
        tmp_path,
        "s.csv",
        "country,topic,value,likert\nGermany,Religion,Devout,2\nGermany,Religion,Devout,2\n",
    )
    with pytest.raises(ValuelensError, match="repeats 1 row"):
        load_stated(path)
    assert load_stated(path, duplicates="first")["likert"].tolist() == [2.0]
    with pytest.raises(ValuelensError, match="duplicates must be one of"):
        load_stated(path, duplicates="mean")


# --- malformed cells ---------------------------------------------------------------------------


@pytest.mark.parametrize("index", ["1.5", "x", "-1", "inf", ""])
def test_prompt_index_must_be_a_whole_number(tmp_path, index):
    path = _write(
        tmp_path,
        "t1.csv",
        f'country,topic,response,prompt_index\nGermany,Religion,"{{}}",0\nGermany,Religion,"{{}}",{index}\n',
    )
    with pytest.raises(ValuelensError) as info:
        load_stated(path)
    assert f"{path} data row 2: prompt_index" in str(info.value)
    assert "is not a whole number" in str(info.value)


def test_whole_number_variants_in_other_spellings_are_accepted(tmp_path):
    path = _write(
        tmp_path,
        "c.csv",
        "country,topic,value,variant,choice\nGermany,Religion,Devout,2.0,positive\n"
        "Germany,Religion,Devout, 3 ,negative\n",
    )
    assert load_choices(path)["variant"].tolist() == [2, 3]
    bad = _write(
        tmp_path, "s.csv", "country,topic,value,variant,likert\nGermany,Religion,Devout,v1,2\n"
    )
    with pytest.raises(ValuelensError, match="data row 1: variant 'v1' is not a whole number"):
        load_stated(bad)


def test_tidy_likert_that_is_not_a_number_is_failed(tmp_path):
    path = _write(
        tmp_path,
        "s.csv",
        "country,topic,value,likert\nGermany,Religion,Devout,abc\nGermany,Religion,Honest,agree\n"
        "Germany,Religion,Wealth,7\nGermany,Religion,Pleasure,3.5\nGermany,Religion,Humble,\n",
    )
    long = load_stated(path).set_index("value")
    assert long["likert"].to_dict() == pytest.approx(
        {
            "Devout": float("nan"),
            "Honest": 2.0,
            "Wealth": float("nan"),
            "Pleasure": 3.5,
            "Humble": float("nan"),
        },
        nan_ok=True,
    )
    assert long["parse_status"].to_dict() == {
        "Devout": "failed", "Honest": "ok", "Wealth": "failed", "Pleasure": "ok", "Humble": "failed"
    }  # fmt: skip


def test_unknown_name_mentions_file_and_row(tmp_path):
    # An unbalanced quote swallows the rest of the line (and the next) into the country name.
    path = _write(
        tmp_path,
        "t1.csv",
        'country,topic,response,prompt_index\nGermany,Religion,"{}",0\n'
        '"United States,Politics,{bad,0\nGermany,Politics,"{}",0\n',
    )
    with pytest.raises(UnknownNameError) as info:
        load_stated(path)
    message = str(info.value)
    assert message.startswith(f"Task 1 responses: {path} data row 2: unknown country ")
    assert "quote unbalanced" in message and "\n" not in message
    long_name = _write(
        tmp_path, "c.csv", "country,topic,value,choice\n" + "X" * 5000 + ",Religion,Devout,\n"
    )
    with pytest.raises(UnknownNameError) as info:
        load_choices(long_name)
    assert len(str(info.value)) < 300 and "data row 1" in str(info.value)


def test_evaluate_responses_keep_their_status_raw_and_probabilities(tmp_path):
    frame = pd.DataFrame(
        {
            "country": ["Germany", "Germany"],
            "topic": ["Religion", "Religion"],
            "value": ["Devout", "Devout"],
            "variant": [0, 1],
            "choice": ["negative", None],
            "parse_status": ["repaired", "failed"],
            "raw": ['{"action": "Option 1"', "I cannot answer"],
            "p_negative": [0.7, None],
        }
    )
    path = tmp_path / "responses_action.parquet"
    frame.to_parquet(path)
    choices = load_choices(path)
    assert choices["parse_status"].tolist() == ["repaired", "failed"]
    assert choices["raw"].tolist() == ['{"action": "Option 1"', "I cannot answer"]
    assert choices["p_negative"].tolist()[0] == 0.7
