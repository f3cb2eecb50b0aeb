"""VIA import: the parser on each messy format, the loader on each file format, and bad inputs."""

from __future__ import annotations

import ast
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from valuelens._errors import ValuelensError
from valuelens.data import load_via, parse_action_text, validate_via, via_pairs
from valuelens.taxonomy import load_taxonomy

RELEASE = Path("outputs/data_release/value_action_gap_full_data_generation.csv")
ACTION = "I volunteer at the local food bank every weekend."
SPANS = ["volunteer", "food bank"]
WHY = "Helping others directly shows that I value being helpful."


def _json_answer() -> str:
    return json.dumps(
        {"Human Action": ACTION, "Feature Attributions": SPANS, "Natural Language Explanation": WHY}
    )


# --- parser: formats that read exactly ------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        _json_answer(),
        f"```json\n{_json_answer()}\n```",
        f"```\n{_json_answer()}\n```",
        f"Here is the JSON you asked for:\n{_json_answer()}\nI hope this helps!",
        (
            "{'Human Action': 'I volunteer at the local food bank every weekend.', "
            "'Feature Attributions': ['volunteer', 'food bank'], "
            "'Natural Language Explanation': 'Helping others directly shows that I value being "
            "helpful.'}"
        ),
        (
            '```json\n{\n  "human action": "I volunteer at the local food bank every weekend.",\n'
            '  "feature_attributions": ["volunteer", "food bank"],\n'
            '  "Explanation": "Helping others directly shows that I value being helpful."\n}\n```'
        ),
        json.dumps(
            {
                "response": {
                    "Human_Action": ACTION,
                    "Attributions": SPANS,
                    "NL Explanation": WHY,
                }
            }
        ),
    ],
    ids=["json", "fenced-json", "fenced-bare", "prose", "python-dict", "key-variants", "nested"],
)
def test_exact_formats_give_the_three_fields(text: str) -> None:
    parsed = parse_action_text(text)
    assert (parsed.action, parsed.attributions, parsed.explanation, parsed.status) == (
        ACTION,
        SPANS,
        WHY,
        "ok",
    )


def test_a_string_attribution_becomes_a_one_item_list() -> None:
    parsed = parse_action_text(json.dumps({"Human Action": ACTION, "Feature Attributions": "x"}))
    assert parsed.attributions == ["x"]
    assert parsed.explanation is None
    assert parsed.status == "ok"


# --- parser: formats that need repair -------------------------------------------------------


def test_apostrophe_inside_single_quotes_is_repaired() -> None:
    text = (
        "{\n  'Human Action': 'I ignore my neighbour's requests for help.',\n"
        "  'Feature Attributions': ['ignore', 'neighbour's requests'],\n"
        "  'Natural Language Explanation': 'It shows I don't value others' welfare.'\n}"
    )
    parsed = parse_action_text(text)
    assert parsed.status == "repaired"
    assert parsed.action == "I ignore my neighbour's requests for help."
    assert parsed.attributions == ["ignore", "neighbour's requests"]
    assert parsed.explanation == "It shows I don't value others' welfare."


def test_truncated_json_is_repaired() -> None:
    text = _json_answer()[:-1]  # the closing brace is missing
    parsed = parse_action_text(text)
    assert (parsed.action, parsed.attributions, parsed.explanation) == (ACTION, SPANS, WHY)
    assert parsed.status == "repaired"


def test_missing_comma_is_repaired() -> None:
    text = (
        f'{{"Human Action": "{ACTION}"\n "Feature Attributions": ["volunteer", "food bank"]\n'
        f' "Natural Language Explanation": "{WHY}"}}'
    )
    parsed = parse_action_text(text)
    assert (parsed.action, parsed.attributions, parsed.explanation) == (ACTION, SPANS, WHY)
    assert parsed.status == "repaired"


def test_a_garbled_answer_with_only_an_action_is_not_trusted() -> None:
    # The shape of the one unreadable answer in the authors' release.
    text = '```json\n{\n  "Human Action": "I call my friends.[`call`]", \n “reallist ].'
    assert parse_action_text(text).status == "failed"


# --- parser: refusals and failures ----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, but I can't assist with that request.",
        "I’m sorry, but I cannot fulfill that request. It is important to be respectful.",
        "Sorry, but I can't assist with that.",
        "Apologies, but I can't comply.",
        "I cannot help with that.",
        "I apologize, but I won't write this.",
        "Unfortunately, I am unable to produce such content.",
        "Certainly not. I can't assist with this request.",
        '{"Human Action": "I\'m sorry, but I can\'t help with that."}',
    ],
)
def test_refusals_are_detected(text: str) -> None:
    parsed = parse_action_text(text)
    assert parsed.status == "refusal"
    assert parsed.action is None
    assert not parsed.usable


@pytest.mark.parametrize(
    "action",
    [
        "I apologize excessively for being Canadian and downplay my country's achievements.",
        "I will not support candidates who ignore the poor.",
        "I won't help with the neighbourhood clean-up this year.",
        "I cannot stand by while others are treated unfairly.",
    ],
)
def test_negating_actions_are_not_mistaken_for_refusals(action: str) -> None:
    parsed = parse_action_text(json.dumps({"Human Action": action, "Explanation": "x"}))
    assert parsed.status == "ok"
    assert parsed.action == action


@pytest.mark.parametrize(
    "text",
    [
        None,
        float("nan"),
        "",
        "   ",
        "hello",
        "{",
        "{}",
        "[1, 2]",
        # Nested past the interpreter's recursion limit (json and ast would raise).
        '{"a": ' * 3000 + "1" + "}" * 3000,
        '{"Human Action": ' + "[" * 5000 + "]" * 5000 + "}",
        "{'Human Action': " + "[" * 5000 + "]" * 5000 + "}",
    ],
)
def test_unreadable_answers_fail_without_raising(text: object) -> None:
    parsed = parse_action_text(text)
    assert parsed.status == "failed"
    assert parsed.action is None


# --- loader: file formats -------------------------------------------------------------------


def _release_frame(rows: list[tuple[str, str, str, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["country", "topic", "value", "polarity", "generation_prompt"]
    )
    frame.insert(0, "Unnamed: 0", range(len(frame)))
    frame.insert(0, "Unnamed: 0.1", range(len(frame)))
    return frame


def _small_release() -> pd.DataFrame:
    fenced = f"```json\n{_json_answer()}\n```"
    return _release_frame(
        [
            ("United  States", "Politics", "Helpful", "positive", _json_answer()),
            ("United States", "Politics", "Helpful", "negative", fenced),
            ("India", " Religion", "Wealth", "positive", _json_answer()),
            ("India", "Religion", "Wealth", "negative", "I'm sorry, but I can't assist with that."),
        ]
    )


def test_release_csv_is_parsed_and_names_are_canonical(tmp_path: Path) -> None:
    path = tmp_path / "release.csv"
    _small_release().to_csv(path, index=False)
    table = load_via(path)
    assert list(table.columns) == [
        "country", "topic", "value", "polarity", "action", "attributions", "explanation", "raw",
        "parse_status",
    ]  # fmt: skip
    assert table["country"].tolist() == ["United States"] * 2 + ["India"] * 2
    assert table["topic"].tolist() == ["Politics"] * 2 + ["Religion"] * 2
    assert table["parse_status"].tolist() == ["ok", "ok", "ok", "refusal"]
    assert table["action"].tolist() == [ACTION, ACTION, ACTION, None]
    assert table["attributions"].tolist() == [SPANS, SPANS, SPANS, []]
    assert table["raw"].tolist() == _small_release()["generation_prompt"].tolist()


def test_release_zip_reads_like_the_csv(tmp_path: Path) -> None:
    csv_path, zip_path = tmp_path / "release.csv", tmp_path / "release.zip"
    _small_release().to_csv(csv_path, index=False)
    with zipfile.ZipFile(zip_path, "w") as archive:
        archive.writestr("__MACOSX/._value_action_gap_full_data_generation.csv", b"\x00\x05")
        archive.write(csv_path, "value_action_gap_full_data_generation.csv")
    pd.testing.assert_frame_equal(load_via(zip_path), load_via(csv_path))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_tidy_tables_round_trip(tmp_path: Path, suffix: str) -> None:
    source = tmp_path / "release.csv"
    _small_release().to_csv(source, index=False)
    table = load_via(source)
    tidy = tmp_path / f"tidy{suffix}"
    if suffix == ".csv":
        written = table.assign(attributions=[json.dumps(a) for a in table["attributions"]])
        written.to_csv(tidy, index=False)
    else:
        table.to_parquet(tidy)
    pd.testing.assert_frame_equal(load_via(tidy), table)


def test_tidy_csv_without_optional_columns(tmp_path: Path) -> None:
    path = tmp_path / "tidy.csv"
    pd.DataFrame(
        {
            "country": ["France", "France"],
            "topic": ["Religion", "Religion"],
            "value": ["Wealth", "Wealth"],
            "polarity": ["positive", "negative"],
            "action": [ACTION, ""],
            "attributions": ["['a', 'b']", ""],
        }
    ).to_csv(path, index=False)
    table = load_via(path)
    assert table["parse_status"].tolist() == ["ok", "failed"]
    assert table["attributions"].tolist() == [["a", "b"], []]
    assert table["explanation"].tolist() == [None, None]
    assert not via_pairs(table)["complete"].any()


def test_an_extended_taxonomy_accepts_new_names(tmp_path: Path) -> None:
    path = tmp_path / "release.csv"
    _release_frame([("Kenya", "Politics", "Wealth", "positive", _json_answer())]).to_csv(path)
    with pytest.raises(ValuelensError, match="unknown country 'Kenya'"):
        load_via(path)
    taxonomy = load_taxonomy().extended({"countries": ["Kenya"]})
    assert load_via(path, taxonomy=taxonomy)["country"].tolist() == ["Kenya"]


# --- pairs and validation -------------------------------------------------------------------


def test_pairs_put_the_two_sides_together(tmp_path: Path) -> None:
    path = tmp_path / "release.csv"
    _small_release().to_csv(path, index=False)
    pairs = via_pairs(load_via(path))
    assert pairs[["country", "topic", "value"]].values.tolist() == [
        ["United States", "Politics", "Helpful"],
        ["India", "Religion", "Wealth"],
    ]
    assert pairs["complete"].tolist() == [True, False]
    assert pairs["negative_action"].tolist() == [ACTION, None]
    assert pairs["negative_parse_status"].tolist() == ["ok", "refusal"]
    assert pairs["positive_attributions"].tolist() == [SPANS, SPANS]


def test_validate_counts_duplicates_missing_sides_and_bad_polarity(tmp_path: Path) -> None:
    path = tmp_path / "release.csv"
    rows = [
        ("France", "Politics", "Wealth", "positive", _json_answer()),
        ("France", "Politics", "Wealth", "positive", _json_answer()),  # duplicate
        ("France", "Politics", "Wealth", "negative", "no idea"),  # parse failure
        ("France", "Religion", "Wealth", "", _json_answer()),  # missing polarity
        ("France", "Religion", "Wealth", "negative", "{'Human Action': 'I hoard it.'}"),
    ]
    _release_frame(rows).to_csv(path, index=False)
    report = validate_via(path)
    expected = {
        "n_actions": 4,
        "n_pairs": 2,
        "n_complete_pairs": 0,
        "n_duplicate_actions": 1,
        "n_missing_polarity": 1,
        "n_pairs_missing_a_side": 1,
        "n_parse_failures": 1,
        "n_refusals": 0,
        "n_ok": 3,
    }
    assert {k: report[k] for k in expected} == expected
    assert report["by_country"] == {
        "France": {"n_actions": 4, "n_refusals": 0, "n_complete_pairs": 0}
    }
    assert any("polarity" in issue for issue in report["issues"])
    json.dumps(report)  # JSON-ready
    with pytest.raises(ValuelensError, match="polarity"):
        load_via(path)


# --- bad inputs -----------------------------------------------------------------------------


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.csv", b"", "empty"),
        ("blank.csv", b"\n\n  \n", "empty"),
        ("header.csv", b"country,topic,value,polarity,generation_prompt\n", "no rows"),
        ("wrong.csv", b"a,b\n1,2\n", "not a VIA table"),
        ("latin1.csv", "country,topic\nCôte,x\n".encode("latin-1"), "not UTF-8"),
        ("broken.zip", b"this is not a zip", "cannot read"),
        ("broken.parquet", b"PAR1 nope", "cannot read"),
        (
            "unknown.csv",
            b"country,topic,value,polarity,generation_prompt\nFrnace,Politics,Wealth,positive,{}\n",
            "did you mean 'France'",
        ),
        (
            "noname.csv",
            b"country,topic,value,polarity,generation_prompt\n,Politics,Wealth,positive,{}\n",
            "no country",
        ),
        (
            "status.csv",
            b"country,topic,value,polarity,action,parse_status\nFrance,Politics,Wealth,"
            b"positive,x,great\n",
            "unknown parse_status",
        ),
    ],
)
def test_bad_inputs_give_one_line_errors(
    tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    with pytest.raises(ValuelensError, match=message) as caught:
        load_via(_write(tmp_path / name, data))
    assert "\n" not in str(caught.value)


def test_a_huge_name_is_not_echoed_whole(tmp_path: Path) -> None:
    name = "Atlantis" * 10_000
    data = f"country,topic,value,polarity,action\n{name},Politics,Wealth,positive,x\n"
    with pytest.raises(ValuelensError, match="unknown country 'AtlantisAtlantis") as caught:
        load_via(_write(tmp_path / "huge.csv", data.encode()))
    assert len(str(caught.value)) < 300


def test_a_zip_without_a_csv_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "nothing here")
    with pytest.raises(ValuelensError, match="no CSV"):
        load_via(path)


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValuelensError, match="not found"):
        load_via(tmp_path / "nope.csv")


# --- the authors' release -------------------------------------------------------------------


@pytest.fixture(scope="module")
def release(reference_dir: Path) -> pd.DataFrame:
    return load_via(reference_dir / RELEASE)


def test_release_counts(reference_dir: Path) -> None:
    report = validate_via(reference_dir / RELEASE)
    expected = {
        "n_actions": 14_784,
        "n_pairs": 7_392,
        "n_expected_pairs": 7_392,
        "n_ok": 14_692,
        "n_repaired": 30,
        "n_refusals": 61,
        "n_parse_failures": 1,
        "n_pairs_with_refusal": 61,
        "n_complete_pairs": 7_330,
        "n_duplicate_actions": 0,
        "n_missing_polarity": 0,
        "n_pairs_missing_a_side": 0,
        "n_truncated": 2,
        "n_pairs_with_parse_failure": 1,
        "n_pairs_with_truncated_answer": 1,
        "n_pairs_unusable_strict": 63,
    }
    assert {k: report[k] for k in expected} == expected
    assert len(report["by_country"]) == 12
    assert all(c["n_actions"] == 1_232 for c in report["by_country"].values())


def test_release_fields_agree_with_the_standard_readers(
    release: pd.DataFrame, reference_dir: Path
) -> None:
    """Wherever json or ast can read the raw answer (unfenced), we return exactly its fields."""
    checked = 0
    for row in release.itertuples():
        try:
            strict = json.loads(row.raw)
        except (json.JSONDecodeError, TypeError):
            try:
                strict = ast.literal_eval(row.raw)
            except (ValueError, SyntaxError):
                continue
        checked += 1
        assert row.action == strict["Human Action"]
        assert row.attributions == strict["Feature Attributions"]
        assert row.explanation == strict["Natural Language Explanation"]
        assert row.parse_status == "ok"
    assert checked > 8_000


def test_release_pairs_match_the_authors_task2_coverage(
    release: pd.DataFrame, reference_dir: Path
) -> None:
    """The authors' claude-sonnet-4 Task 2 log skipped 63 pairs: our incomplete pairs plus one.

    The extra one has a truncated answer (no closing brace) that the authors' json.loads
    rejected and that we repair.
    """
    log = pd.read_json(
        reference_dir / "outputs/evaluation/eval_log_20250628_154645.jsonl", lines=True
    )
    keys = ["country", "topic", "value"]
    in_log = release.index.isin(log["index"])
    covered = release.assign(in_log=in_log).groupby(keys, sort=False)["in_log"].any()
    skipped = set(covered[~covered].index)
    pairs = via_pairs(release).set_index(keys)
    incomplete = set(pairs.index[~pairs["complete"]])
    assert len(skipped) == 63
    assert incomplete <= skipped
    (extra,) = skipped - incomplete
    assert extra == ("Egypt", "Family & Changing Gender Roles", "Creativity")
    raw = release.set_index([*keys, "polarity"]).loc[(*extra, "positive"), "raw"]
    assert not raw.rstrip().endswith("}")
