from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from valuelens._errors import ValuelensError
from valuelens.data._compass_llm import LLM_COLUMNS, load_compass_answers
from valuelens.data._survey import load_scenarios
from valuelens.models import Response
from valuelens.runner import RunResult
from valuelens.tasks._compass import compass_task


def test_one_request_per_country_scenario_and_variant() -> None:
    task = compass_task(variants="0,3,6")
    requests = task.build_requests(
        countries="Canada,India", scenarios="healthcare,public", values="Honest,Wealth"
    )
    assert len(requests) == 2 * 2 * 3
    cells = [
        (r.metadata["country"], r.metadata["scenario"], r.metadata["variant"]) for r in requests
    ]
    # Taxonomy order (India before Canada, Wealth before Honest), scenario order, variant.
    assert cells[:4] == [
        ("India", "Healthcare", 0),
        ("India", "Healthcare", 3),
        ("India", "Healthcare", 6),
        ("India", "Public Sector", 0),
    ]
    first = requests[0]
    assert first.metadata["task"] == "compass" and first.metadata["values"] == ["Wealth", "Honest"]
    assert first.json_schema is not None
    assert first.json_schema["required"] == ["Wealth", "Honest"]
    assert first.json_schema["properties"]["Honest"]["enum"] == ["1", "2", "3", "4"]
    assert first.temperature == 0.2


def test_prompt_follows_the_variant_design() -> None:
    task = compass_task(variants="all")
    requests = task.build_requests(
        countries="Germany", scenarios="education", values="Honest,Curious"
    )
    texts = [r.messages[-1].content for r in requests]
    vignette = load_scenarios().get("Education").vignette
    for variant, text in enumerate(texts):
        assert "Germany" in text and vignette in text and '"<value name>"' in text
        survey = variant % 4 < 2
        assert ("1 = strongly agree" in text) == survey
        assert ("1 = very much like me" in text) == (not survey)
        values_first = variant % 2 == 0
        assert (text.index("- Curious") < text.index("Use this scale:")) == values_first
        assert text.rstrip().endswith("My ratings as JSON:") == (variant >= 4)


def test_bad_choices_fail_before_any_request(tmp_path: Path) -> None:
    with pytest.raises(ValuelensError, match="unknown prompt variant '9'"):
        compass_task(variants="9")
    task = compass_task(variants="0")
    with pytest.raises(ValuelensError, match="unknown scenario 'banking'"):
        task.build_requests(countries="Canada", scenarios="banking")
    with pytest.raises(ValuelensError, match="unknown country"):
        task.build_requests(countries="Atlantis", scenarios="healthcare")
    custom = tmp_path / "s.yaml"
    custom.write_text("scenarios:\n  - {name: Banking}\n", encoding="utf-8")
    silent = compass_task(variants="0", scenarios=load_scenarios(custom))
    with pytest.raises(ValuelensError, match="'Banking' has no vignette"):
        silent.build_requests(countries="Canada", scenarios="Banking")


def test_replies_become_tidy_answers_usable_as_llm_input(tmp_path: Path) -> None:
    task = compass_task(variants="0,1")
    requests = task.build_requests(
        countries="Canada", scenarios="healthcare", values="Honest,Wealth,Daring"
    )
    results = [
        RunResult(
            "k0",
            requests[0],
            Response(text=json.dumps({"Honest": "1", "Wealth": "4", "Daring": "2: agree"})),
            None,
            False,
            1,
        ),
        RunResult("k1", requests[1], None, "timeout after 3 attempts", False, 3),
    ]
    answers = task.answers(results, model="tiny")
    assert list(answers.columns) == list(LLM_COLUMNS)
    assert len(answers) == 6
    ok = answers[answers["variant"] == 0].set_index("value")
    assert ok["likert"].to_dict() == {"Honest": 1.0, "Wealth": 4.0, "Daring": 2.0}
    assert ok.loc["Daring", "likert_paper"] == 2.0 and ok.loc["Daring", "raw"] == "2: agree"
    failed = answers[answers["variant"] == 1]
    assert set(failed["parse_status"]) == {"error"}
    assert failed["raw"].eq("timeout after 3 attempts").all()
    assert all(math.isnan(x) for x in failed["likert"])
    path = tmp_path / "answers.parquet"
    answers.to_parquet(path)
    again = load_compass_answers(path)
    assert again[["country", "scenario", "variant", "value", "parse_status"]].equals(
        answers[["country", "scenario", "variant", "value", "parse_status"]]
    )
    assert set(again["model"]) == {"tiny"}
