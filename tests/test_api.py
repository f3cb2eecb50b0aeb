"""The notebook API (`valuelens.evaluate`, `compass`, `predict`, `score`, `compare`, `report`).

Scoring, comparing and reporting run on the authors' outputs; the expected numbers are the
published ones or counts read from the authors' files. The stages that send requests run on a
tiny slice against the fake OpenAI-compatible server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest

import valuelens
from support.evaluate_run import write_via
from support.fake_server import FakeServer, FaultConfig, serve_in_thread
from valuelens.runs import read_run

if TYPE_CHECKING:
    from valuelens.pipeline import EvaluateOutcome

# label -> (reference file stem, published alignment rate)
PUBLISHED = {"gpt-4o-mini": ("gpt-4o-mini", 0.564), "gemma-2-9b": ("gemma-2-9b-it", 0.461)}
N_PAIRS = 7392
COUNTRY, TOPIC = "United States", "Environment"
VALUES = ["Wealth", "Honest"]


@pytest.fixture(scope="module")
def paper_runs(reference_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`valuelens.score` in paper mode on the authors' outputs of two models, written to disk."""
    base = tmp_path_factory.mktemp("api-runs")
    runs = {}
    for label, (stem, _) in PUBLISHED.items():
        result = valuelens.score(
            reference_dir / "outputs" / "evaluation" / f"{stem}_t1.csv",
            reference_dir / "reconstructed" / f"{stem}_t1t2_joined.reconstructed.csv",
            out=base / label,
            paper_compat=True,
            model=label,
            n_resamples=200,
        )
        assert round(result.summary["alignment_rate"], 3) == PUBLISHED[label][1]
        assert isinstance(result.tables["pairs"], pd.DataFrame)
        assert len(result.tables["pairs"]) == N_PAIRS
        runs[label] = base / label
    return runs


def test_compare_gives_the_leaderboard_and_axis_tables_as_frames(
    paper_runs: dict[str, Path],
) -> None:
    frames = valuelens.compare(list(paper_runs.values()), n_resamples=100, n_permutations=200)
    board = frames.leaderboard
    assert list(board["label"]) == ["gpt-4o-mini", "gemma-2-9b"]  # 0.564 before 0.461
    assert list(board["rank"]) == [1, 2]
    assert board["alignment_rate"].round(3).tolist() == [0.564, 0.461]
    by_country = frames.by_axis["country/alignment_rate"]
    assert list(by_country.columns) == ["country", "gpt-4o-mini", "gemma-2-9b", "spread"]
    assert len(by_country) == 12
    assert len(frames.by_axis["topic/alignment_rate"]) == 11
    assert set(frames.paired["second"]) == {"gemma-2-9b"}
    assert frames.comparison.kind == "value-action"


def test_report_writes_one_html_page(paper_runs: dict[str, Path], tmp_path: Path) -> None:
    page = valuelens.report(paper_runs["gpt-4o-mini"], tmp_path / "page" / "report.html")
    assert page == tmp_path / "page" / "report.html"
    text = page.read_text(encoding="utf-8")
    assert text.lstrip().lower().startswith("<!doctype html")
    assert "gpt-4o-mini" in text


def test_compass_score_reproduces_the_published_f1(reference_dir: Path) -> None:
    results = reference_dir / "valuecompass" / "results"
    model = "deepseek-r1-distill-llama-70b"
    result = valuelens.compass_score(
        results / "human_eval", results / "llms_eval" / model, paper_compat=True, n_resamples=50
    )
    assert round(result.summary["alignment_rate"], 3) == 0.529
    assert all(isinstance(t, pd.DataFrame) for t in result.tables.values())


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with serve_in_thread(FaultConfig()) as running:
        yield running


@pytest.fixture(autouse=True)
def _dummy_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake key, so a developer's real key can never reach the local server."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-valuelens-test-dummy")


@pytest.fixture(scope="module")
def evaluated(server: FakeServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`valuelens.evaluate` on one scenario and two values, one prompt variant per task."""
    base = tmp_path_factory.mktemp("api-evaluate")
    actions = {
        v: (f"I put {v.lower()} first today.", f"I ignore {v.lower()} today.") for v in VALUES
    }
    via = write_via(base / "via.csv", COUNTRY, TOPIC, actions)
    before = server.stats.chat
    outcome = valuelens.evaluate(
        base / "run",
        model="openai:fake",
        base_urls=[server.base_url],
        via=via,
        countries=[COUNTRY],
        topics=TOPIC,
        values=VALUES,
        stated_variants="0",
        action_variants="0",
        store=base / "cache.sqlite",  # shared by the tests of this module
        report=False,
        progress=False,
    )
    # one Task 1 request (it rates every value asked for) and one Task 2 request per pair
    assert server.stats.chat - before == 1 + len(VALUES)
    assert outcome.completeness.complete
    pairs = outcome.tables["pairs"]
    assert sorted(pairs["value"]) == sorted(VALUES)
    assert set(pairs["country"]) == {COUNTRY}
    assert outcome.summary["n_pairs_scored"] == len(VALUES)
    assert outcome.result is not None
    assert (base / "run" / "summary.json").is_file()
    return base


def test_evaluate_runs_a_small_slice_and_returns_frames(evaluated: Path) -> None:
    assert pd.read_parquet(evaluated / "run" / "pairs.parquet").shape[0] == len(VALUES)


def test_evaluate_works_inside_a_running_event_loop(server: FakeServer, evaluated: Path) -> None:
    """As in a Jupyter cell; the rerun is answered from the cache."""
    before = server.stats.chat

    async def cell() -> EvaluateOutcome:
        return valuelens.evaluate(
            evaluated / "run",
            model="openai:fake",
            base_urls=[server.base_url],
            via=evaluated / "via.csv",
            countries=COUNTRY,
            topics=TOPIC,
            values=",".join(VALUES),
            stated_variants="0",
            action_variants="0",
            store=evaluated / "cache.sqlite",
            report=False,
            progress=False,
        )

    outcome = asyncio.run(cell())
    assert server.stats.chat == before
    assert len(outcome.tables["pairs"]) == len(VALUES)


def test_predict_scores_an_observer_on_the_evaluated_run(
    server: FakeServer, evaluated: Path
) -> None:
    outcome = valuelens.predict(
        evaluated / "run",
        evaluated / "predict",
        model="openai:fake",
        base_urls=[server.base_url],
        settings="default",
        shots=1,
        progress=False,
    )
    # two pairs: one gives the examples (its chosen and its rejected action), one is tested
    assert len(outcome.tables["examples"]) == 2
    assert len(outcome.tables["items"]) == 2
    assert len(outcome.tables["predictions"]) == 2
    scores = outcome.tables["scores"]
    assert list(scores["setting"]) == ["default"]
    assert outcome.summary["kind"] == "predict-run"


def test_compass_collects_ratings_for_the_slice(server: FakeServer, tmp_path: Path) -> None:
    outcome = valuelens.compass(
        tmp_path / "compass",
        model="openai:fake",
        base_urls=[server.base_url],
        countries="Canada",
        scenarios="Healthcare",
        values=VALUES,
        variants="0",
        progress=False,
    )
    answers = outcome.answers
    assert set(answers["value"]) == set(VALUES)
    assert set(answers["country"]) == {"Canada"}
    assert outcome.result is None and outcome.summary == {}
    assert outcome.tables["answers"] is answers
    assert (tmp_path / "compass" / "answers.parquet").is_file()


def _tiny_score_inputs(folder: Path, stated_name: str) -> tuple[Path, Path]:
    """A long Task 1 table (two values, two variants) and one Task 2 choice."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        f"Germany,Religion,{value},{variant},{likert}"
        for value, likert in (("Devout", 1), ("Honest", 4))
        for variant in (0, 1)
    ]
    stated = folder / stated_name
    stated.write_text("country,topic,value,variant,likert\n" + "\n".join(rows) + "\n")
    actions = folder / "actions.csv"
    actions.write_text("country,topic,value,choice\nGermany,Religion,Devout,negative\n")
    return stated, actions


@pytest.mark.parametrize(
    ("stated_name", "model"),
    [
        ("gpt-4o-mini_t1.csv", "gpt-4o-mini"),
        ("anthropic-claude-sonnet-4-20250514_t1.csv", "anthropic-claude-sonnet-4-20250514"),
        ("Llama-3.3-70B-Instruct_t1t2_joined.csv", "Llama-3.3-70B-Instruct"),
        ("my_answers.csv", "my_answers"),  # not the authors' pattern: the stem
        ("model_t10.csv", "model_t10"),  # `_t10` is not Task 1
    ],
)
def test_score_without_a_model_names_the_run_after_the_file(
    tmp_path: Path, stated_name: str, model: str
) -> None:
    stated, actions = _tiny_score_inputs(tmp_path, stated_name)
    result = valuelens.score(stated, actions, out=tmp_path / "run", n_resamples=10)
    assert (result.summary["model"], result.summary["label"]) == (model, model)
    assert result.summary["model_source"] == "file name"
    written = read_run(tmp_path / "run").summary.to_dict()
    assert (written["model"], written["model_source"]) == (model, "file name")


def test_score_with_a_model_records_it_as_given(tmp_path: Path) -> None:
    stated, actions = _tiny_score_inputs(tmp_path, "gpt-4o-mini_t1.csv")
    result = valuelens.score(stated, actions, model="mine", n_resamples=10)
    assert (result.summary["model"], result.summary["model_source"]) == ("mine", "given")
    assert result.summary["label"] == "mine"
