"""`valuelens compare` on real runs: the authors' raw outputs scored by `valuelens score`.

The expected numbers are the published ones (as in tests/reference/test_paper_numbers.py and the
README), or counts read straight from the authors' files, never numbers produced by the code
under test.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
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

    assert sorted(p.name for p in out.iterdir()) == [
        "by_country.csv",
        "by_topic.csv",
        "compare.json",
        "leaderboard.csv",
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

    out = tmp_path / "compare"
    result = _invoke("compare", str(paper_runs["gpt-4o-mini"]), str(small), "--out", str(out))
    assert result.exit_code == 0, result.output
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
