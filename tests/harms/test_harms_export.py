"""`harms export` on the authors' misaligned lists and on a `score` run of their raw outputs.

Expected numbers come from the input files themselves, read here with pandas: the row count of
each list, the authors' reconstructed Task 1 x Task 2 join (B(T1) != B(T2)), and the action text
the authors' list prints.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest

from harms.conftest import AUTHORS_NAMES, invoke
from valuelens._errors import ValuelensError
from valuelens.pipeline._harms import AUTHORS_MODELS, export_examples, harms_export
from valuelens.runs import read_run

PAIR = ["country", "topic", "value"]


@pytest.fixture(scope="module")
def authors_run(tmp_path_factory: pytest.TempPathFactory, authors_lists, via_path) -> Path:
    out = tmp_path_factory.mktemp("harms") / "authors"
    result = invoke("export", *map(str, authors_lists), "--out", str(out), "--via", str(via_path))
    assert result.exit_code == 0, result.output
    return out


def _reconstructed(reference_dir: Path, model: str) -> pd.DataFrame:
    return pd.read_csv(reference_dir / f"reconstructed/{model}_t1t2_joined.reconstructed.csv")


def test_every_listed_pair_is_exported_per_model(authors_run: Path, authors_lists) -> None:
    record = read_run(authors_run)
    examples = record.table("examples")
    expected = {
        AUTHORS_MODELS[name]: len(pd.read_csv(path))
        for name, path in zip(AUTHORS_NAMES, authors_lists, strict=True)
    }
    assert examples.groupby("model").size().to_dict() == expected
    assert record.summary.n_examples_by_model == expected
    assert record.summary.n_examples == sum(expected.values()) == 7106  # all_misaligned_example
    assert examples["example_id"].is_unique
    assert examples["chosen_action"].notna().all() and examples["other_action"].notna().all()


def test_the_inverted_gpt4o_list_is_read_the_right_way_round(
    authors_run: Path, authors_lists, reference_dir: Path
) -> None:
    raw = pd.read_csv(authors_lists[AUTHORS_NAMES.index("gpt4o")])
    truth = _reconstructed(reference_dir, "gpt-4o-mini")
    examples = read_run(authors_run).table("examples")
    mine = examples[examples["model"] == "gpt-4o-mini"]
    joined = mine.merge(truth, on=PAIR, validate="one_to_one")
    assert len(joined) == len(raw) == 1050
    # The log behind this list flagged the action NOT chosen: the true choice is the opposite.
    assert (joined["chosen_polarity"] == joined["t2_chosen_polarity"]).all()
    assert (joined["misaligned"] == 1).all()
    stated_agree = joined["t1_binary"] == 0
    assert (joined.loc[stated_agree, "direction"] == "stated_agree_chose_negative").all()
    assert (joined.loc[~stated_agree, "direction"] == "stated_disagree_chose_positive").all()
    # So the action the file prints is the one the model did not take.
    printed = raw.assign(text=raw["action"].map(lambda a: ast.literal_eval(a)["Human Action"]))
    shown = mine.merge(printed[[*PAIR, "text"]], on=PAIR)
    assert (shown["other_action"] == shown["text"]).all()
    assert (shown["chosen_action"] != shown["text"]).all()


def test_a_plain_list_keeps_the_printed_action_as_the_chosen_one(
    authors_run: Path, authors_lists, reference_dir: Path
) -> None:
    raw = pd.read_csv(authors_lists[AUTHORS_NAMES.index("gemma")])
    raw["text"] = raw["action"].map(lambda a: ast.literal_eval(a)["Human Action"])
    examples = read_run(authors_run).table("examples")
    mine = examples[examples["model"] == "gemma-2-9b-it"].merge(raw, on=PAIR)
    assert (mine["chosen_action"] == mine["text"]).all()
    assert (mine["chosen_polarity"] == mine["T2_response"]).all()
    truth = _reconstructed(reference_dir, "gemma-2-9b-it").merge(mine[PAIR], on=PAIR)
    assert (truth["misaligned"] == 1).all()


def test_the_complete_chatgpt_list_with_printed_series(
    tmp_path: Path, reference_dir: Path, via_path: Path
) -> None:
    source = reference_dir / "outputs/evaluation/chatgpt_misaligned_example.csv"
    summary = harms_export([source], tmp_path / "complete", via=via_path)
    truth = _reconstructed(reference_dir, "gpt-3.5-turbo")
    assert summary["n_examples_by_model"] == {"gpt-3.5-turbo": int(truth["misaligned"].sum())}
    examples = read_run(tmp_path / "complete").table("examples")
    joined = examples.merge(truth, on=PAIR, validate="one_to_one")
    assert len(joined) == 1421
    assert (joined["chosen_polarity"] == joined["t2_chosen_polarity"]).all()
    assert examples["chosen_action"].notna().all()


def test_a_score_run_with_via_gives_its_misaligned_pairs(
    tmp_path: Path, reference_dir: Path, via_path: Path
) -> None:
    from valuelens._api import score

    truth = _reconstructed(reference_dir, "gpt-3.5-turbo")
    run = tmp_path / "score"
    score(
        reference_dir / "outputs/evaluation/gpt-3.5-turbo_t1.csv",
        reference_dir / "reconstructed/gpt-3.5-turbo_t1t2_joined.reconstructed.csv",
        out=run,
        paper_compat=True,
        model="gpt-3.5-turbo",
        n_resamples=10,
    )
    expected = int((truth["t1_binary"] != truth["t2_binary_notebook"]).sum())
    out = tmp_path / "harms"
    result = invoke("export", str(run), "--out", str(out), "--via", str(via_path))
    assert result.exit_code == 0, result.output
    record = read_run(out)
    examples = record.table("examples")
    assert len(examples) == expected == read_run(run).summary.misaligned
    assert record.summary.misaligned_by_model == {"gpt-3.5-turbo": expected}
    wrong_way = truth[truth["t1_binary"] != truth["t2_binary_notebook"]]
    agree_negative = int((wrong_way["t1_binary"] == 0).sum())
    assert record.summary.direction_by_model["gpt-3.5-turbo"] == {
        "stated_agree_chose_negative": agree_negative,
        "stated_disagree_chose_positive": expected - agree_negative,
    }
    assert set(examples["actions_from"]) == {"via"}
    assert examples["stated_likert"].between(1, 4).all()
    # The chosen action is the VIA text of the chosen polarity, read here with pandas.
    via = pd.read_csv(via_path)
    first = examples.iloc[0]
    row = via[
        (via["country"] == first["country"])
        & (via["topic"] == first["topic"])
        & (via["value"] == first["value"])
        & (via["polarity"] == first["chosen_polarity"])
    ]
    assert first["chosen_action"] in row["generation_prompt"].iloc[0]


def test_a_score_run_without_action_texts_is_one_clear_error(
    tmp_path: Path, reference_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from valuelens._api import score
    from valuelens.pipeline import _harms

    run = tmp_path / "score"
    score(
        reference_dir / "outputs/evaluation/gpt-4o-mini_t1.csv",
        reference_dir / "reconstructed/gpt-4o-mini_t1t2_joined.reconstructed.csv",
        out=run,
        n_resamples=10,
    )
    monkeypatch.setattr(_harms, "default_via_path", lambda: None)  # no cached release
    with pytest.raises(ValuelensError, match=r"holds no action texts: pass --via"):
        export_examples([run])


def test_bad_sources_are_one_line_errors(tmp_path: Path, authors_lists) -> None:
    other = tmp_path / "table.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(ValuelensError, match="not a run directory nor an authors' misaligned"):
        export_examples([other])
    with pytest.raises(ValuelensError, match="no such run directory or file"):
        export_examples([tmp_path / "missing"])
    with pytest.raises(ValuelensError, match="two sources hold examples of gemma-2-9b-it"):
        export_examples([authors_lists[2], authors_lists[2]])
    broken = tmp_path / "gemma_misaligned_example.csv"
    rows = pd.read_csv(authors_lists[2]).head(3)
    rows.loc[1, "T2_response"] = "sideways"
    rows.to_csv(broken, index=False)
    with pytest.raises(ValuelensError, match=r"line 3: T2_response must say positive or negative"):
        export_examples([broken])


def test_an_evaluate_run_brings_its_own_actions_and_explanations(tmp_path: Path) -> None:
    from valuelens.runs import write_run

    values = ["Honest", "Wealth", "Helpful"]
    pairs = pd.DataFrame(
        {
            "country": "Canada",
            "topic": "Work Orientation",
            "value": values,
            "value_type": ["Benevolence", "Power", "Benevolence"],
            "stated_likert": [1.5, 3.5, 1.0],
            "stated": [1 / 6, 5 / 6, 0.0],
            "stated_binary": [0.0, 1.0, 0.0],
            "chosen": [1.0, 0.0, 0.0],
            "chosen_binary": [1.0, 0.0, 0.0],
            "choice": ["negative", "positive", "positive"],
            "misaligned": [1.0, 1.0, 0.0],
            "direction": ["stated_agree_chose_negative", "stated_disagree_chose_positive", ""],
        }
    )
    actions = pd.DataFrame(
        [
            {
                "country": "Canada",
                "topic": "Work Orientation",
                "value": value,
                "polarity": polarity,
                "action": f"I act {polarity}ly on {value.lower()} at <work>.",
                "attributions": [f"{polarity}ly"],
                "explanation": f"It is {polarity}.",
                "raw": "",
                "parse_status": "ok",
            }
            for value in values
            for polarity in ("positive", "negative")
        ]
    )
    answers = pd.DataFrame(
        {
            "country": "Canada",
            "topic": "Work Orientation",
            "value": values,
            "variant": 5,
            "choice": ["negative", "positive", "positive"],
            "explanation": ["Money first.", "Honesty costs me.", None],
        }
    )
    summary = {"kind": "value-action", "model": "m", "label": "target", "misaligned": 2}
    tables = {"pairs": pairs, "actions": actions, "responses_action": answers}
    run = write_run(tmp_path / "run", summary, tables)
    examples, facts = export_examples([run], via=None)
    assert facts["misaligned_by_model"] == {"target": 2} and facts["via"] is None
    assert examples["value"].tolist() == ["Honest", "Wealth"]
    assert examples["chosen_action"].tolist() == [
        "I act negatively on honest at <work>.",
        "I act positively on wealth at <work>.",
    ]
    assert examples["other_action"].tolist() == [
        "I act positively on honest at <work>.",
        "I act negatively on wealth at <work>.",
    ]
    assert examples["model_explanation"].tolist() == ["Money first.", "Honesty costs me."]
    assert examples["stated_stance"].tolist() == ["agree", "disagree"]
    assert examples["chosen_attributions"].tolist() == [["negatively"], ["positively"]]
    assert set(examples["actions_from"]) == {"run"}
