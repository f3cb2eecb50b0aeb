"""`valuelens compare` on real runs: the authors' raw outputs scored by `valuelens score`.

The expected numbers are the published ones (as in tests/reference/test_paper_numbers.py and the
README), or counts read straight from the authors' files, never numbers produced by the code
under test.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score
from typer.testing import CliRunner, Result

from valuelens.cli import app, main

# label -> (reference file stem, published alignment rate, published misaligned pairs of 7,392)
PUBLISHED = {
    "gpt-4o-mini": ("gpt-4o-mini", 0.564, 1144),
    "gemma-2-9b": ("gemma-2-9b-it", 0.461, 1192),
}
# ValueCompass, paper-compatible F1 (human vs model)
PUBLISHED_COMPASS = {"deepseek-r1-distill-llama-70b": 0.529, "gemma2-9b-it": 0.516}
N_PAIRS = 7392


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _score(reference_dir: Path, stem: str, out: Path, *options: str) -> Path:
    result = _invoke(
        "score",
        "--stated",
        str(reference_dir / "outputs" / "evaluation" / f"{stem}_t1.csv"),
        "--actions",
        str(reference_dir / "reconstructed" / f"{stem}_t1t2_joined.reconstructed.csv"),
        "--out",
        str(out),
        "--bootstrap",
        "200",
        *options,
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def paper_runs(reference_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`valuelens score --paper-compat` on the authors' outputs of two models."""
    base = tmp_path_factory.mktemp("paper-runs")
    return {
        label: _score(reference_dir, stem, base / label, "--paper-compat", "--model", label)
        for label, (stem, _, _) in PUBLISHED.items()
    }


@pytest.fixture(scope="module")
def compass_runs(reference_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """`valuelens compass score --paper-compat` on the authors' files for two models."""
    results = reference_dir / "valuecompass" / "results"
    if not results.is_dir():
        pytest.skip(f"ValueCompass reference data not found at {results}")
    base = tmp_path_factory.mktemp("compass-runs")
    runs = []
    for model in PUBLISHED_COMPASS:
        out = base / model
        result = _invoke(
            "compass",
            "score",
            "--humans",
            str(results / "human_eval"),
            "--llm",
            str(results / "llms_eval" / model),
            "--out",
            str(out),
            "--paper-compat",
            "--bootstrap",
            "100",
        )
        assert result.exit_code == 0, result.output
        runs.append(out)
    return runs


def _main(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """The console entry point, which turns user errors into one line and exit code 2."""
    monkeypatch.setattr(sys, "argv", ["valuelens", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _without_choice(reference_dir: Path, stem: str) -> int:
    path = reference_dir / "reconstructed" / f"{stem}_t1t2_joined.reconstructed.csv"
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    return int((table["t2_chosen_polarity"].str.strip() == "").sum())


def test_compare_ranks_the_published_models(
    paper_runs: dict[str, Path], reference_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "compare"
    # the weaker model first: the leaderboard must reorder them
    result = _invoke(
        "compare", str(paper_runs["gemma-2-9b"]), str(paper_runs["gpt-4o-mini"]), "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output

    # terminal: the leaderboard lists gpt-4o-mini first, with the published numbers
    board = result.stdout.split("Alignment rate by country")[0]
    assert "sorted by alignment rate" in board
    assert board.index("gpt-4o-mini") < board.index("gemma-2-9b")
    for number in ("0.564", "0.461", "1,144", "1,192", "7,392"):
        assert number in board
    assert "Alignment rate by topic" in result.stdout

    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "by_country.csv",
        "by_topic.csv",
        "compare.json",
        "leaderboard.csv",
        "paired.csv",
    ]
    leaderboard = pd.read_csv(out / "leaderboard.csv")
    assert leaderboard["label"].tolist() == ["gpt-4o-mini", "gemma-2-9b"]
    assert leaderboard["rank"].tolist() == [1, 2]
    for row in leaderboard.itertuples():
        _, rate, misaligned = PUBLISHED[str(row.label)]
        assert round(row.alignment_rate, 3) == rate
        assert row.misaligned == misaligned
        assert row.n_pairs == N_PAIRS
        assert row.ci_low < row.alignment_rate < row.ci_high
    # pairs without a Task 2 answer, counted straight from the authors' files
    assert leaderboard["n_pairs_without_choice"].tolist() == [
        _without_choice(reference_dir, PUBLISHED[label][0]) for label in leaderboard["label"]
    ]

    by_country = pd.read_csv(out / "by_country.csv")
    assert by_country.columns.tolist() == ["country", "gpt-4o-mini", "gemma-2-9b", "spread"]
    assert len(by_country) == 12
    countries = by_country.set_index("country")
    # published per-country alignment rates of GPT-4o-mini (as in tests/reference)
    assert round(countries.loc["United States", "gpt-4o-mini"], 2) == 0.67
    assert round(countries.loc["Philippines", "gpt-4o-mini"], 2) == 0.47
    spread = (by_country["gpt-4o-mini"] - by_country["gemma-2-9b"]).abs()
    assert (by_country["spread"] - spread).abs().max() < 1e-12

    by_topic = pd.read_csv(out / "by_topic.csv")
    assert len(by_topic) == 11 and by_topic.columns[0] == "topic"

    data = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    assert data["kind"] == "value-action" and data["sort"] == "alignment_rate"
    assert [e["label"] for e in data["leaderboard"]] == ["gpt-4o-mini", "gemma-2-9b"]
    assert [e["misaligned"] for e in data["leaderboard"]] == [1144, 1192]
    assert data["pair_set_differences"] == [] and data["scoring_modes"] == {}
    # paper mode scores every pair of both runs: nothing is dropped, nothing to warn about
    assert data["common_pairs"] is True and data["n_common_pairs"] == N_PAIRS
    assert data["dropped_pairs"] == [] and data["warnings"] == [] and data["notes"] == []
    rates = data["by_country"]["alignment_rate"]
    assert rates["runs"] == ["gpt-4o-mini", "gemma-2-9b"] and len(rates["rows"]) == 12
    assert len(data["by_topic"]["distance_mean"]["rows"]) == 11


def test_compare_compass_runs_and_sort(compass_runs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "compare"
    result = _invoke("compare", *map(str, reversed(compass_runs)), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "ValueCompass" in result.stdout and "Alignment rate by scenario" in result.stdout
    leaderboard = pd.read_csv(out / "leaderboard.csv")
    published = sorted(PUBLISHED_COMPASS, key=lambda m: -PUBLISHED_COMPASS[m])
    assert leaderboard["label"].tolist() == published
    assert [round(r, 3) for r in leaderboard["alignment_rate"]] == [
        PUBLISHED_COMPASS[m] for m in published
    ]
    assert leaderboard["misaligned"].isna().all()  # value-action only
    assert (out / "by_scenario.csv").is_file() and not (out / "by_topic.csv").exists()
    assert len(pd.read_csv(out / "by_scenario.csv")) == 4

    # --sort distance: smallest mean distance first, whatever the alignment rate
    by_distance = tmp_path / "by-distance"
    result = _invoke(
        "compare", *map(str, compass_runs), "--sort", "distance", "-o", str(by_distance)
    )
    assert result.exit_code == 0, result.output
    assert "sorted by mean distance" in result.stdout
    ranked = pd.read_csv(by_distance / "leaderboard.csv")
    assert ranked["distance_mean"].is_monotonic_increasing
    assert set(ranked["label"]) == set(PUBLISHED_COMPASS)

    result = _invoke("compare", *map(str, compass_runs), "--sort", "accuracy", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out / "leaderboard.csv")["accuracy"].is_monotonic_decreasing


def test_mixed_kinds_is_one_line_error(
    paper_runs: dict[str, Path],
    compass_runs: list[Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "compare"
    args = ["compare", str(paper_runs["gpt-4o-mini"]), str(compass_runs[0]), "--out", str(out)]
    code, _, err = _main(args, monkeypatch, capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("error: cannot compare value-action runs with ValueCompass runs")
    assert "gpt-4o-mini" in err and "deepseek-r1-distill-llama-70b" in err
    assert not out.exists()


def test_missing_directory_is_one_line_error(
    paper_runs: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "no-such-run"
    out = tmp_path / "compare"
    args = ["compare", str(paper_runs["gpt-4o-mini"]), str(missing), "--out", str(out)]
    code, stdout, err = _main(args, monkeypatch, capsys)
    assert code == 2
    assert err.strip() == f"error: run directory {missing} does not exist"
    assert stdout == "" and not out.exists()


def test_unknown_sort_is_one_line_error(
    paper_runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["compare", str(paper_runs["gpt-4o-mini"]), "--sort", "f1"]
    code, _, err = _main(args, monkeypatch, capsys)
    assert code == 2
    assert err.strip() == "error: --sort takes alignment_rate, distance, accuracy, not 'f1'"


def test_different_pair_sets_warn(
    paper_runs: dict[str, Path], reference_dir: Path, tmp_path: Path
) -> None:
    """A real run over two countries only: the authors' Gemma outputs for Canada and France."""
    subset = {}
    for name, path in (
        ("t1", reference_dir / "outputs" / "evaluation" / "gemma-2-9b-it_t1.csv"),
        ("t2", reference_dir / "reconstructed" / "gemma-2-9b-it_t1t2_joined.reconstructed.csv"),
    ):
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        subset[name] = tmp_path / f"subset_{name}.csv"
        table[table["country"].isin(["Canada", "France"])].to_csv(subset[name], index=False)
    small = tmp_path / "small"
    result = _invoke(
        "score",
        "--stated",
        str(subset["t1"]),
        "--actions",
        str(subset["t2"]),
        "--out",
        str(small),
        "--paper-compat",
        "--model",
        "gemma-two-countries",
        "--bootstrap",
        "50",
    )
    assert result.exit_code == 0, result.output

    # default: both runs are scored on the two countries they share, and the note says so
    common = tmp_path / "common"
    result = _invoke("compare", str(paper_runs["gpt-4o-mini"]), str(small), "--out", str(common))
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr
    dropped = 10 * 11 * 56  # the ten countries the small run lacks
    assert (
        "note: compared on the 1,232 pairs that every run scored (--all-pairs scores each run"
        in result.stderr
    )
    assert (
        f"gpt-4o-mini: {dropped:,} of 7,392 pairs dropped (not scored by gemma-two-countries: "
        f"{dropped:,} (countries " in result.stderr
    )
    leaderboard = pd.read_csv(common / "leaderboard.csv")
    assert leaderboard["n_pairs"].tolist() == [2 * 11 * 56] * 2
    by_country = pd.read_csv(common / "by_country.csv")
    assert sorted(by_country["country"]) == ["Canada", "France"]
    assert by_country.notna().all().all()
    data = json.loads((common / "compare.json").read_text(encoding="utf-8"))
    assert data["n_common_pairs"] == 1232
    assert [(d["label"], d["n_dropped"]) for d in data["dropped_pairs"]] == [
        ("gpt-4o-mini", dropped)
    ]
    assert data["pair_set_differences"] == []
    assert len(data["paired_tests"]["tests"]) == 1
    assert data["paired_tests"]["tests"][0]["n_scenarios"] == 22

    # --all-pairs: each run on its own pairs, with the warning of old
    out = tmp_path / "compare"
    result = _invoke(
        "compare", str(paper_runs["gpt-4o-mini"]), str(small), "--out", str(out), "--all-pairs"
    )
    assert result.exit_code == 0, result.output
    assert "pairs dropped" not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning")]
    assert len(warnings) == 1
    assert (
        "different pair sets: countries (gpt-4o-mini: 12, gemma-two-countries: 2;" in (warnings[0])
    )
    assert "topics" not in warnings[0] and "values" not in warnings[0]
    by_country = pd.read_csv(out / "by_country.csv").set_index("country")
    assert by_country["gemma-two-countries"].notna().sum() == 2
    assert by_country.loc[["Canada", "France"], "gemma-two-countries"].notna().all()
    assert pd.isna(by_country.loc["Egypt", "spread"])
    data = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    assert data["pair_set_differences"][0].startswith("countries (")
    assert data["leaderboard"][1]["n_pairs"] == 2 * 11 * 56


# --------------------------------------------------------------------------- common pairs

KEYS = ["country", "topic", "value"]
MEASURES = ("alignment_rate", "accuracy", "distance_mean")


def _synthetic_answers(seed: int, follow: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Task 1 and Task 2 answers (one variant) over 3 countries x 4 topics x 10 values.

    The model chooses in line with its statement for a share `follow` of the pairs.
    """
    from valuelens.taxonomy import load_taxonomy

    tax = load_taxonomy()
    rng = np.random.default_rng(seed)
    stated, choices = [], []
    for country in tax.country_names[:3]:
        for topic in tax.topic_names[:4]:
            for value in tax.value_names[:10]:
                likert = int(rng.integers(1, 5))
                disagree = likert >= 3
                negative = disagree if rng.random() < follow else bool(rng.random() < 0.5)
                stated.append((country, topic, value, 0, float(likert)))
                choices.append((country, topic, value, 0, "negative" if negative else "positive"))
    return (
        pd.DataFrame(stated, columns=[*KEYS, "variant", "likert"]),
        pd.DataFrame(choices, columns=[*KEYS, "variant", "choice"]),
    )


def _write_run(
    path: Path, label: str, stated: pd.DataFrame, choices: pd.DataFrame, **extra: Any
) -> Path:
    from valuelens.metrics import build_pairs, score_pairs
    from valuelens.report import write_run
    from valuelens.taxonomy import load_taxonomy

    tax = load_taxonomy()
    pairs = build_pairs(stated, choices, tax)
    result = score_pairs(pairs, tax, n_resamples=200)
    write_run(path, {"model": label, "label": label, **result.summary, **extra}, result.tables)
    return path


def _independent(pairs: pd.DataFrame) -> dict[str, float]:
    """sklearn F1 and accuracy per scenario, averaged; the distance with pandas."""
    f1s, accuracies = [], []
    for _, group in pairs.groupby(["country", "topic"]):
        truth, pred = (group["stated"] >= 0.5).astype(int), (group["chosen"] >= 0.5).astype(int)
        f1s.append(f1_score(truth, pred, zero_division=0))
        accuracies.append(accuracy_score(truth, pred))
    means = pairs.groupby(["country", "value"])[["stated", "chosen"]].mean()
    return {
        "alignment_rate": float(np.mean(f1s)),
        "accuracy": float(np.mean(accuracies)),
        "distance_mean": float((means["stated"] - means["chosen"]).abs().mean()),
    }


def _as_pairs(stated: pd.DataFrame, choices: pd.DataFrame) -> pd.DataFrame:
    """Pairs with stated = (Likert - 1) / 3 and chosen = 1 for the negative action (one variant)."""
    table = stated.merge(choices, on=[*KEYS, "variant"], how="outer")
    return table.assign(
        stated=(table["likert"] - 1) / 3,
        chosen=table["choice"].map({"negative": 1.0, "positive": 0.0}),
    )[[*KEYS, "stated", "chosen"]]


def test_compare_scores_runs_on_their_common_pairs(tmp_path: Path) -> None:
    """Two runs with different pair sets: one never answered Task 2 for a value."""
    stated_a, choices_a = _synthetic_answers(seed=1, follow=0.9)
    stated_b, choices_b = _synthetic_answers(seed=2, follow=0.2)
    missing_value = str(choices_b["value"].iloc[0])
    choices_b = choices_b[
        choices_b["value"] != missing_value
    ]  # like gpt-4o-mini's Unity With Nature
    one_pair = stated_a.index[(stated_a["value"] == stated_a["value"].iloc[-1])][:1]
    stated_a = stated_a.drop(one_pair)  # and run a lacks one Task 1 answer
    run_a = _write_run(tmp_path / "a", "model-a", stated_a, choices_a)
    run_b = _write_run(tmp_path / "b", "model-b", stated_b, choices_b)

    out = tmp_path / "compare"
    result = _invoke("compare", str(run_b), str(run_a), "--out", str(out), "--bootstrap", "300")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr

    pairs_a, pairs_b = _as_pairs(stated_a, choices_a), _as_pairs(stated_b, choices_b)
    both = pairs_a.dropna().merge(pairs_b.dropna(), on=KEYS, suffixes=("_a", "_b"))
    assert len(both) == 3 * 4 * 9 - 1
    common = {
        label: both[KEYS].assign(stated=both[f"stated_{s}"], chosen=both[f"chosen_{s}"])
        for label, s in (("model-a", "a"), ("model-b", "b"))
    }
    expected = {label: _independent(pairs) for label, pairs in common.items()}

    # the notes: how many pairs each run lost, and why
    assert f"note: compared on the {len(both)} pairs that every run scored" in result.stderr
    assert (
        f"model-b: 13 of 120 pairs dropped (no Task 2 answer: 12 (values {missing_value} 12); "
        "not scored by model-a: 1 (values" in result.stderr
    )
    assert (
        f"model-a: 13 of 120 pairs dropped (not scored by model-b: 12 (values {missing_value} "
        "12); no Task 1 answer: 1 (values" in result.stderr
    )

    leaderboard = pd.read_csv(out / "leaderboard.csv").set_index("label")
    assert list(leaderboard.index) == ["model-a", "model-b"]  # a follows its statements
    for label in ("model-a", "model-b"):
        row = leaderboard.loc[label]
        assert row["n_pairs"] == len(both)
        assert row["alignment_rate"] == pytest.approx(expected[label]["alignment_rate"], abs=1e-12)
        assert row["accuracy"] == pytest.approx(expected[label]["accuracy"], abs=1e-12)
        assert row["distance_mean"] == pytest.approx(expected[label]["distance_mean"], abs=1e-12)

    # the terminal's leaderboard shows the compared pairs and each run's total
    assert result.stdout.count(f"{len(both)} of 120") == 2

    # the paired test, printed and written
    assert "Paired tests against the leader, model-a" in result.stdout
    paired = pd.read_csv(out / "paired.csv").set_index("measure")
    assert set(paired["first"]) == {"model-a"} and set(paired["second"]) == {"model-b"}
    for measure in MEASURES:
        row = paired.loc[measure]
        diff = expected["model-a"][measure] - expected["model-b"][measure]
        assert row["difference"] == pytest.approx(diff, abs=1e-12)
        assert row["ci_low"] <= row["difference"] <= row["ci_high"]
        assert row["n_pairs"] == len(both) and row["n_scenarios"] == 12
    assert paired.loc["alignment_rate", "p_value"] < 0.01  # 0.9 against 0.2 of choices follow
    assert f"{paired.loc['alignment_rate', 'difference']:+.3f}" in result.stdout

    data = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    assert data["notes"][0].startswith(f"compared on the {len(both)} pairs")
    assert {d["label"]: d["reasons"] for d in data["dropped_pairs"]} == {
        "model-b": {"no Task 2 answer": 12, "not scored by model-a": 1},
        "model-a": {"not scored by model-b": 12, "no Task 1 answer": 1},
    }
    test = data["paired_tests"]["tests"][0]
    assert test["first"] == "model-a" and test["n_pairs"] == len(both)
    assert test["measures"]["alignment_rate"]["difference"] == pytest.approx(
        paired.loc["alignment_rate", "difference"]
    )

    # --all-pairs: each run keeps its own numbers (from its summary)
    own = tmp_path / "own"
    result = _invoke("compare", str(run_a), str(run_b), "--all-pairs", "--out", str(own))
    assert result.exit_code == 0, result.output
    assert "pairs dropped" not in result.stderr
    summary_a = json.loads((run_a / "summary.json").read_text(encoding="utf-8"))
    row_a = pd.read_csv(own / "leaderboard.csv").set_index("label").loc["model-a"]
    assert row_a["alignment_rate"] == pytest.approx(summary_a["alignment_rate"])
    assert row_a["alignment_rate"] == pytest.approx(
        _independent(pairs_a.dropna())["alignment_rate"], abs=1e-12
    )


def test_runs_with_different_task2_variants_warn(tmp_path: Path) -> None:
    stated, choices = _synthetic_answers(seed=3, follow=0.5)
    one = _write_run(
        tmp_path / "one",
        "one-variant",
        stated,
        choices,
        action_variants="5",
        n_action_variants=1,
        scoring="generate",
    )
    eight = _write_run(
        tmp_path / "eight",
        "eight-variants",
        stated,
        choices,
        action_variants="all",
        n_action_variants=8,
        scoring="logprob",
    )
    out = tmp_path / "compare"
    result = _invoke("compare", str(one), str(eight), "--out", str(out))
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning")]
    assert warnings == [
        "warning: the runs differ in Task 2 variants (one-variant: 5 (1 variant), "
        "eight-variants: all (8 variants)); their numbers are not directly comparable.",
        "warning: the runs differ in scoring (one-variant: generate, eight-variants: logprob); "
        "their numbers are not directly comparable.",
    ]
    data = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    assert data["setting_differences"][0].startswith("Task 2 variants (")
    assert len(data["warnings"]) == 2
    # same answers: the paired test finds no difference at all
    test = data["paired_tests"]["tests"][0]["measures"]
    assert all(test[m]["difference"] == 0 and test[m]["p_value"] == 1 for m in MEASURES)

    # the same variants, but one run in paper mode: the mode warning of old
    paper = _write_run(
        tmp_path / "paper", "paper", stated, choices, action_variants="5", paper_compat=True
    )
    result = _invoke("compare", str(one), str(paper))
    assert result.exit_code == 0, result.output
    assert "scored in different modes (one-variant: default, paper: paper-compatible)" in (
        result.stderr
    )
    assert "Task 2 variants" not in result.stderr


# --------------------------------------------------------------------------- reference


def _reference_scenarios(reference_dir: Path, stem: str, paper: bool) -> pd.DataFrame:
    """The authors' reconstructed pairs: t1_binary against the chosen polarity.

    Paper mode counts a pair without a Task 2 answer as positive (`t2_binary_notebook`);
    default mode leaves it out (NaN).
    """
    path = reference_dir / "reconstructed" / f"{stem}_t1t2_joined.reconstructed.csv"
    table = pd.read_csv(path, keep_default_na=False)
    polarity = table["t2_chosen_polarity"].str.strip()
    chosen = (
        table["t2_binary_notebook"].astype(float)
        if paper
        else polarity.map({"negative": 1.0, "positive": 0.0})
    )
    return table[KEYS].assign(stated=table["t1_binary"].astype(float), chosen=chosen)


def test_paired_test_of_the_published_models(
    paper_runs: dict[str, Path], reference_dir: Path, tmp_path: Path
) -> None:
    """Paper mode, gpt-4o-mini against gemma-2-9b: the difference of the published rates."""
    out = tmp_path / "compare"
    result = _invoke(
        "compare", str(paper_runs["gemma-2-9b"]), str(paper_runs["gpt-4o-mini"]), "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    assert "Paired tests against the leader, gpt-4o-mini" in result.stdout
    pairs = {
        label: _reference_scenarios(reference_dir, stem, paper=True)
        for label, (stem, _, _) in PUBLISHED.items()
    }
    expected = {label: _independent(p) for label, p in pairs.items()}
    paired = pd.read_csv(out / "paired.csv").set_index("measure")
    for measure in ("alignment_rate", "accuracy"):
        diff = expected["gpt-4o-mini"][measure] - expected["gemma-2-9b"][measure]
        assert paired.loc[measure, "difference"] == pytest.approx(diff, abs=1e-9)
    rate = paired.loc["alignment_rate"]
    assert round(rate["difference"], 2) == round(0.564 - 0.461, 2)
    assert rate["ci_low"] > 0 and rate["p_value"] < 0.001
    assert rate["n_pairs"] == N_PAIRS and rate["n_scenarios"] == 132


def test_default_mode_reference_runs_share_their_answered_pairs(
    reference_dir: Path, tmp_path: Path
) -> None:
    """Default mode: gpt-4o-mini has no Task 2 answer for Unity With Nature, Llama-3.3 has all.

    Both are scored on the pairs both answered; the expected numbers come from the authors'
    reconstructed files with sklearn.
    """
    import valuelens

    models = {"gpt-4o-mini": "gpt-4o-mini", "llama-3.3-70b": "Llama-3.3-70B-Instruct"}
    runs = []
    for label, stem in models.items():
        out = tmp_path / label
        valuelens.score(
            reference_dir / "outputs" / "evaluation" / f"{stem}_t1.csv",
            reference_dir / "reconstructed" / f"{stem}_t1t2_joined.reconstructed.csv",
            out=out,
            model=label,
            n_resamples=100,
        )
        runs.append(out)
    pairs = {
        label: _reference_scenarios(reference_dir, stem, paper=False)
        for label, stem in models.items()
    }
    answered = {label: p.dropna() for label, p in pairs.items()}
    both = answered["gpt-4o-mini"][KEYS].merge(answered["llama-3.3-70b"][KEYS], on=KEYS)
    lost = {label: len(pairs[label]) - len(both) for label in models}
    no_answer = {label: int(pairs[label]["chosen"].isna().sum()) for label in models}
    assert no_answer["gpt-4o-mini"] > no_answer["llama-3.3-70b"] > 0

    out = tmp_path / "compare"
    result = _invoke("compare", *map(str, runs), "--out", str(out), "--bootstrap", "200")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr
    assert f"compared on the {len(both):,} pairs that every run scored" in result.stderr
    assert (
        f"gpt-4o-mini: {lost['gpt-4o-mini']} of 7,392 pairs dropped (no Task 2 answer: "
        f"{no_answer['gpt-4o-mini']} (values Unity With Nature 132," in result.stderr
    )
    assert f"llama-3.3-70b: {lost['llama-3.3-70b']} of 7,392 pairs dropped (" in result.stderr

    leaderboard = pd.read_csv(out / "leaderboard.csv").set_index("label")
    paired = pd.read_csv(out / "paired.csv").set_index("measure")
    leader = str(paired["first"].iloc[0])
    other = next(label for label in models if label != leader)
    expected = {label: _independent(p.merge(both, on=KEYS)) for label, p in answered.items()}
    for label in models:
        assert leaderboard.loc[label, "n_pairs"] == len(both)
        for measure in ("alignment_rate", "accuracy"):
            assert leaderboard.loc[label, measure] == pytest.approx(
                expected[label][measure], abs=1e-9
            )
    for measure in ("alignment_rate", "accuracy"):
        diff = expected[leader][measure] - expected[other][measure]
        assert paired.loc[measure, "difference"] == pytest.approx(diff, abs=1e-9)
    assert 0 <= paired.loc["alignment_rate", "p_value"] <= 1


# --------------------------------------------------------------------------- a measure from test code

GAP_KEY = "test_gap_index"


@pytest.fixture
def gap_measure() -> Any:
    """A value-action measure registered here (lower is better), removed afterwards."""
    from valuelens.metrics import Measure, register_measure, unregister_measure

    found = register_measure(Measure(GAP_KEY, "test gap index", ".2f", higher_is_better=False))
    yield found
    unregister_measure(GAP_KEY)


def _run_with_gap(path: Path, label: str, seed: int, follow: float, gap: float) -> Path:
    from valuelens.metrics import build_pairs, score_pairs
    from valuelens.runs import write_run
    from valuelens.taxonomy import load_taxonomy

    tax = load_taxonomy()
    result = score_pairs(build_pairs(*_synthetic_answers(seed, follow), tax), tax, n_resamples=50)
    summary = {"model": label, "label": label, **result.summary, GAP_KEY: gap}
    write_run(path, summary, result.tables)
    return path


def test_a_measure_registered_in_test_code_reaches_compare(
    gap_measure: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # model-a follows its statements (leads on alignment rate) but has the worse gap index
    run_a = _run_with_gap(tmp_path / "a", "model-a", seed=1, follow=0.9, gap=0.75)
    run_b = _run_with_gap(tmp_path / "b", "model-b", seed=2, follow=0.2, gap=0.25)

    out = tmp_path / "default"
    result = _invoke("compare", str(run_b), str(run_a), "--out", str(out), "--bootstrap", "50")
    assert result.exit_code == 0, result.output
    board = result.stdout.split("Alignment rate by country")[0]
    assert "test gap index" in board and "0.75" in board and "0.25" in board
    leaderboard = pd.read_csv(out / "leaderboard.csv")
    assert leaderboard["label"].tolist() == ["model-a", "model-b"]
    assert leaderboard[GAP_KEY].tolist() == [0.75, 0.25]
    data = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    assert [e[GAP_KEY] for e in data["leaderboard"]] == [0.75, 0.25]
    assert {"key": GAP_KEY, "label": "test gap index", "higher_is_better": False} in data[
        "extra_measures"
    ]

    # --sort by it: lower is better, so model-b leads, whatever the alignment rate
    by_gap = tmp_path / "by-gap"
    args = ["compare", str(run_a), str(run_b), "--sort", GAP_KEY, "-o", str(by_gap)]
    result = _invoke(*args, "--bootstrap", "50")
    assert result.exit_code == 0, result.output
    assert "sorted by test gap index" in result.stdout
    ranked = pd.read_csv(by_gap / "leaderboard.csv")
    assert ranked["label"].tolist() == ["model-b", "model-a"]
    assert ranked["rank"].tolist() == [1, 2]
    assert json.loads((by_gap / "compare.json").read_text(encoding="utf-8"))["sort"] == GAP_KEY

    # a near miss is one line that points at the key
    code, _, err = _main(["compare", str(run_a), "--sort", "test_gap_indx"], monkeypatch, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"did you mean {GAP_KEY}" in err


def test_sort_by_a_measure_with_its_direction(tmp_path: Path) -> None:
    """`--sort misaligned`: fewer is better, so the run with fewer misaligned pairs leads."""
    from valuelens.report._compare import compare_runs
    from valuelens.report._load import load_runs

    run_a = _write_run(tmp_path / "a", "model-a", *_synthetic_answers(seed=1, follow=0.9))
    run_b = _write_run(tmp_path / "b", "model-b", *_synthetic_answers(seed=2, follow=0.2))
    runs = load_runs([run_b, run_a])
    misaligned = {r.label: r.summary.get("misaligned") for r in runs}
    fewest_first = sorted(misaligned, key=lambda label: misaligned[label])
    comparison = compare_runs(runs, sort="misaligned", all_pairs=True, n_resamples=20)
    assert [e.label for e in comparison.leaderboard] == fewest_first
    assert comparison.sort_measure.higher_is_better is False
