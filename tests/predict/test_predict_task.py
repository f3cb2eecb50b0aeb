"""The observer task: requests per setting, what each prompt shows, and reading any reply."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest

from valuelens._errors import ValuelensError
from valuelens.data import parse_label
from valuelens.metrics import prediction_scores
from valuelens.models import Request, Response
from valuelens.tasks import predict_items, predict_task, select_settings, split_examples

ATTR = "PHRASE-ATTR"
EXPL = "REASON-EXPL"


def _items(n: int, prefix: str = "test") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item": [f"{prefix}{i}" for i in range(n)],
            "action": [f"I do {prefix} thing {i}." for i in range(n)],
            "attributions": [[f"{ATTR}-{prefix}{i}", "second phrase"] for i in range(n)],
            "explanation": [f"{EXPL}-{prefix}{i}" for i in range(n)],
            "label": [i % 2 == 0 for i in range(n)],
        }
    )


@dataclass
class _Result:
    request: Request
    response: Response | None
    error: str | None = None


def _answer(request: Request, text: str | None) -> _Result:
    if text is None:
        return _Result(request, None, "boom")
    return _Result(request, Response(text=text))


def test_one_request_per_setting_and_item_with_the_right_context() -> None:
    task = predict_task(_items(2, "ex"))
    requests = task.build_requests(_items(3))
    assert len(requests) == 4 * 3
    assert [r.metadata["setting"] for r in requests[::3]] == list(select_settings("all"))
    for request in requests:
        meta = request.metadata
        prompt = request.messages[0].content
        shows_attr = meta["setting"] in ("attribution", "attribution_explanation")
        shows_expl = meta["setting"] in ("explanation", "attribution_explanation")
        item = meta["item"]
        assert f"I do {item.replace('test', 'test thing ')}." in prompt
        assert (f"{ATTR}-{item}" in prompt) == shows_attr
        assert (f"{EXPL}-{item}" in prompt) == shows_expl
        # the few-shot examples are shown the same way, with their labels
        assert "I do ex thing 0." in prompt and "I do ex thing 1." in prompt
        assert (f"{ATTR}-ex1" in prompt) == shows_attr
        assert (f"{EXPL}-ex0" in prompt) == shows_expl
        assert prompt.count("Picked: true") == 1 and prompt.count("Picked: false") == 1
        # the test item's own label is bookkeeping only
        assert meta["label"] == (int(item.removeprefix("test")) % 2 == 0)
        assert meta["shots"] == 2
        assert request.json_schema is not None
        assert request.json_schema["properties"]["label"]["type"] == "boolean"
        assert '{"label": true}' in prompt


def test_zero_shot_and_missing_side_information() -> None:
    items = _items(1).assign(attributions=[None], explanation=[None])
    prompts = {
        r.metadata["setting"]: r.messages[0].content
        for r in predict_task(None).build_requests(items)
    }
    assert "Picked:" not in prompts["default"]
    assert "(none given)" in prompts["attribution_explanation"]
    assert "(none given)" not in prompts["default"]


def test_attributions_stored_as_text_are_read_as_phrases() -> None:
    items = _items(1).assign(attributions=["['first one', \"it's second\"]"])
    (request,) = predict_task(settings="attribution").build_requests(items)
    assert "first one; it's second" in request.messages[0].content


@pytest.mark.parametrize("spec", ["nope", "default,nope", ""])
def test_unknown_settings_fail(spec: str) -> None:
    with pytest.raises(ValuelensError, match="setting"):
        predict_task(settings=spec)


def test_examples_need_labels() -> None:
    with pytest.raises(ValuelensError, match="without a label"):
        predict_task(_items(1).assign(label=[None]))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"label": true}', (True, "ok")),
        ('{"label": false}', (False, "ok")),
        ('```json\n{"label": false}\n```', (False, "ok")),
        ('{"label": "True"}', (True, "repaired")),
        ('{"label": true', (True, "repaired")),
        ("Label: True", (True, "repaired")),
        ("Label: False \n Reason: It fits the value.", (False, "repaired")),
        ("**Label:** false", (False, "repaired")),
        ("true", (True, "repaired")),
        ("No, the model would not pick it.", (False, "repaired")),
        ("", (None, "failed")),
        ("I cannot tell.", (None, "failed")),
        ('{"answer": 3}', (None, "failed")),
        ("}{][ \x00 garbage", (None, "failed")),
        ("It is not true that ...", (None, "failed")),
    ],
)
def test_parse_label(text: str, expected: tuple[bool | None, str]) -> None:
    assert parse_label(text) == expected


def test_authors_format_is_ok_when_expected() -> None:
    assert parse_label("Label: True", label_line_ok=True) == (True, "ok")


def test_parse_records_never_raise() -> None:
    task = predict_task(settings="default")
    requests = task.build_requests(_items(4))
    replies = ['{"label": true}', "Label: False", "garbage", None]
    records = task.parse_many(_answer(r, t) for r, t in zip(requests, replies, strict=True))
    frame = task.to_frame(records)
    assert frame.columns[:7].tolist() == [
        "item",
        "setting",
        "label",
        "predicted",
        "parse_status",
        "raw",
        "error",
    ]
    assert frame["parse_status"].tolist() == ["ok", "repaired", "failed", "error"]
    assert frame["predicted"].tolist() == [True, False, None, None]
    assert frame["raw"].tolist()[:3] == replies[:3]
    assert frame["error"].tolist()[3] == "boom"
    scores = prediction_scores(frame).iloc[0]
    # item0 label True predicted True; item1 label False predicted False; two unread.
    assert (scores["n"], scores["n_scored"], scores["n_unparsed"]) == (4, 2, 2)
    assert scores["f1"] == 1.0 and scores["accuracy"] == 1.0


def test_prediction_scores_by_hand() -> None:
    frame = pd.DataFrame(
        {
            "setting": ["a"] * 5 + ["b"] * 2,
            "label": [True, True, False, False, True, False, False],
            "predicted": [True, False, True, False, None, False, False],
        }
    )
    scores = prediction_scores(frame).set_index("setting")
    # a: tp 1, fp 1, fn 1, tn 1 -> F1 0.5, accuracy 0.5; b: no positives -> F1 0 (not NaN).
    assert scores.loc["a", "f1"] == 0.5 and scores.loc["a", "accuracy"] == 0.5
    assert scores.loc["a", "n_unparsed"] == 1
    assert scores.loc["b", "f1"] == 0.0 and scores.loc["b", "accuracy"] == 1.0


def _run_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    keys = [("Canada", "Work", v) for v in ("A", "B", "C", "Tie")]
    actions = pd.DataFrame(
        [
            {
                "country": c,
                "topic": t,
                "value": v,
                "polarity": p,
                "action": f"I {p} {v}.",
                "attributions": [f"{p} {v}"],
                "explanation": f"Because {p} {v}.",
                "parse_status": "ok",
            }
            for c, t, v in keys
            for p in ("positive", "negative")
        ]
    )
    votes = {"A": ["positive"], "B": ["negative", None], "C": ["negative", "positive", "negative"]}
    votes["Tie"] = ["positive", "negative"]
    responses = pd.DataFrame(
        [
            {"country": "Canada", "topic": "Work", "value": v, "variant": i, "choice": choice}
            for v, choices in votes.items()
            for i, choice in enumerate(choices)
        ]
    )
    return actions, responses


def test_items_from_a_run_use_the_majority_choice() -> None:
    items = predict_items(*_run_tables())
    assert len(items) == 6  # the tied pair is left out
    chosen = items[items["label"]].set_index("value")["polarity"].to_dict()
    assert chosen == {"A": "positive", "B": "negative", "C": "negative"}
    assert items.groupby("value")["label"].sum().eq(1).all()
    assert items.set_index("item").loc["Canada|Work|C|negative", "n_answers"] == 3


def test_examples_and_test_items_never_share_a_pair() -> None:
    items = predict_items(*_run_tables())
    examples, tests = split_examples(items, 1, seed=3)
    assert len(examples) == 2 and sorted(examples["label"]) == [False, True]
    assert len(tests) == 4
    assert not set(examples["value"]) & set(tests["value"])
    again, _ = split_examples(items, 1, seed=3)
    assert again["item"].tolist() == examples["item"].tolist()
    _, capped = split_examples(items, 1, seed=3, max_pairs=1)
    assert len(capped) == 2
    with pytest.raises(ValuelensError, match="pair"):
        split_examples(items, 3)


def test_template_folders_with_and_without_predict_files(tmp_path) -> None:
    import shutil
    from importlib import resources

    from valuelens.prompts import load_templates

    with resources.as_file(resources.files("valuelens.prompts").joinpath("templates")) as src:
        shutil.copytree(src, tmp_path / "mine")
    assert load_templates(tmp_path / "mine").tasks[-1] == "predict"
    shutil.rmtree(tmp_path / "mine" / "predict")
    older = load_templates(tmp_path / "mine")  # a folder made before the predict stage
    assert older.tasks == ("generate", "stated", "action")
    with pytest.raises(ValuelensError, match="no predict files"):
        predict_task(templates=older)
    with pytest.raises(ValuelensError, match=r"missing 1 file\(s\): predict/observer.jinja"):
        load_templates(tmp_path / "mine", tasks=["predict"])
    (tmp_path / "mine" / "predict").mkdir()
    (tmp_path / "mine" / "predict" / "observer.jinja").write_text(
        "Did it? {{ item.action }} {{ setting.name }} {{ examples | length }}\n", encoding="utf-8"
    )
    (request,) = predict_task(
        settings="explanation", templates=load_templates(tmp_path / "mine")
    ).build_requests(_items(1))
    assert request.messages[0].content == "Did it? I do test thing 0. explanation 0"
