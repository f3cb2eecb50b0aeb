import json
import subprocess
import sys

import pandas as pd
import pytest


def _run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "valuelens", *args], capture_output=True, text=True, cwd=cwd
    )


def test_score_writes_summary_and_tables(tmp_path, reference_dir):
    out = tmp_path / "run"
    proc = _run(
        "score",
        "--stated",
        str(reference_dir / "outputs/evaluation/gpt-4o-mini_t1.csv"),
        "--actions",
        str(reference_dir / "reconstructed/gpt-4o-mini_t1t2_joined.reconstructed.csv"),
        "--out",
        str(out),
        "--paper-compat",
        "--bootstrap",
        "100",
    )
    assert proc.returncode == 0, proc.stderr
    assert "alignment rate" in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    required = {
        "alignment_rate",
        "alignment_rate_ci",
        "accuracy",
        "alignment_rate_by_country",
        "alignment_rate_by_topic",
        "misaligned",
        "misaligned_stated_agree_chose_negative",
        "misaligned_stated_disagree_chose_positive",
        "n_pairs",
        "n_pairs_without_choice",
        "distance_mean_by_country",
        "distance_mean_by_topic",
        "distance_by_country",
        "distance_by_topic",
    }
    assert required <= set(summary)
    assert len(summary["alignment_rate_by_country"]) == 12
    assert len(summary["alignment_rate_by_topic"]) == 11
    for name in ("pairs", "scenarios", "distance_country", "distance_topic"):
        assert pd.read_parquet(out / f"{name}.parquet").equals(
            pd.read_parquet(out / f"{name}.parquet")
        )
        assert len(pd.read_csv(out / f"{name}.csv")) == len(
            pd.read_parquet(out / f"{name}.parquet")
        )
    assert len(pd.read_parquet(out / "pairs.parquet")) == 7392


def test_score_bad_input_is_one_line_error(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    proc = _run(
        "score", "--stated", str(empty), "--actions", str(empty), "--out", str(tmp_path / "o")
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "is empty" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- the authors' robustness files, sample scope, repeated rows (CliRunner: in-process) ---------


def _invoke(*args):
    from typer.testing import CliRunner

    from valuelens.cli import app

    return CliRunner().invoke(app, ["score", *map(str, args)])


def _robustness_args(reference_dir, out, model="gpt-3.5-turbo", file="gpt_35_turbo"):
    return (
        "--stated",
        reference_dir / f"outputs/evaluation/{model}_t1.csv",
        "--actions",
        reference_dir / f"src/outputs/task2_results_{file}.csv",
        "--out",
        out,
        "--bootstrap",
        "20",
    )


@pytest.mark.parametrize("paper", [False, True])
def test_robustness_file_is_scored_on_its_own_pairs(tmp_path, reference_dir, paper):
    out = tmp_path / "run"
    result = _invoke(*_robustness_args(reference_dir, out), *(["--paper-compat"] if paper else []))
    assert result.exit_code == 0, result.output
    assert "50 pairs from a sample file (pairs outside it are not scored)" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["action_scope"] == "sample"
    assert summary["actions_layout"] == "robustness"
    assert summary["n_pairs"] == 50 and summary["n_pairs_without_choice"] == 0
    assert summary["parse_status_action"] == {"ok": 400}
    choices = pd.read_csv(out / "choices.csv")
    assert len(choices) == 400 and choices["choice"].notna().all()
    variants = pd.read_csv(out / "variants.csv")
    action = variants[variants["task"] == "action"]
    assert action["variant"].tolist() == list(range(8))
    assert action["n_pairs"].tolist() == [50] * 8


def test_refusals_are_counted_and_kept(tmp_path, reference_dir):
    out = tmp_path / "run"
    args = _robustness_args(
        reference_dir, out, "anthropic-claude-sonnet-4-20250514", "claude_sonnet_4"
    )
    result = _invoke(*args)
    assert result.exit_code == 0, result.output
    assert "Task 2 answers without a choice: refused 4" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["parse_status_action"] == {"ok": 396, "refused": 4}
    choices = pd.read_csv(out / "choices.csv", keep_default_na=False)
    refused = choices[choices["parse_status"] == "refused"]
    assert refused["raw"].str.contains("I cannot").all() and (refused["choice"] == "").all()


def test_grid_flag_overrides_the_sample_default(tmp_path, reference_dir):
    out = tmp_path / "run"
    result = _invoke(*_robustness_args(reference_dir, out), "--grid")
    assert result.exit_code == 0, result.output
    assert "sample file" not in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["action_scope"] == "grid"
    assert summary["n_pairs"] == 12 * 11 * 56  # Task 1 covers the whole grid
    assert summary["n_pairs_without_choice"] == 12 * 11 * 56 - 50


def _tiny_stated(tmp_path):
    rows = [
        f"Germany,Religion,{value},{variant},{likert}"
        for value, likert in (("Devout", 1), ("Honest", 4))
        for variant in (0, 1)
    ]
    path = tmp_path / "stated.csv"
    path.write_text("country,topic,value,variant,likert\n" + "\n".join(rows) + "\n")
    return path


def test_sample_flag_and_api_keyword_on_a_long_file(tmp_path):
    from valuelens import score

    stated = _tiny_stated(tmp_path)
    actions = tmp_path / "actions.csv"
    actions.write_text("country,topic,value,choice\nGermany,Religion,Devout,negative\n")
    grid = score(stated, actions, paper_compat=True, n_resamples=10)
    sample = score(stated, actions, paper_compat=True, n_resamples=10, sample=True)
    assert (grid.summary["action_scope"], grid.summary["n_pairs"]) == ("grid", 2)
    # paper mode on a full-grid file: the pair never asked (Honest) counts as positive
    honest = grid.tables["pairs"].set_index("value").loc["Honest"]
    assert honest["chosen"] == 0.0
    assert (sample.summary["action_scope"], sample.summary["n_pairs"]) == ("sample", 1)
    out = tmp_path / "run"
    result = _invoke("--stated", stated, "--actions", actions, "--out", out, "--sample")
    assert result.exit_code == 0, result.output
    assert "1 pair from a sample file" in result.output


def test_repeated_rows_error_and_policies(tmp_path):
    stated = _tiny_stated(tmp_path)
    actions = tmp_path / "actions.csv"
    actions.write_text(
        "country,topic,value,choice\nGermany,Religion,Devout,negative\n"
        "Germany,Religion,Honest,negative\nGermany,Religion,Devout,positive\n"
    )
    proc = _run(
        "score", "--stated", str(stated), "--actions", str(actions), "--out", str(tmp_path / "o")
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert "repeats 1 row(s)" in proc.stderr and "value=Devout" in proc.stderr
    assert str(actions) in proc.stderr
    for policy, chosen in (("first", 1.0), ("last", 0.0), ("variants", 0.5)):
        out = tmp_path / policy
        result = _invoke(
            "--stated", stated, "--actions", actions, "--out", out, "--duplicates", policy
        )
        assert result.exit_code == 0, result.output
        pairs = pd.read_csv(out / "pairs.csv").set_index("value")
        assert pairs.loc["Devout", "chosen"] == chosen
        assert json.loads((out / "summary.json").read_text())["duplicates"] == policy
    result = _invoke(
        "--stated", stated, "--actions", actions, "--out", tmp_path / "x", "--duplicates", "mean"
    )
    assert result.exit_code == 2 and "mean" in result.output


def test_prompt_index_that_is_not_a_number_is_one_line(tmp_path):
    stated = tmp_path / "t1.csv"
    stated.write_text(
        'country,topic,response,prompt_index\nGermany,Religion,"{""Devout"": 1}",zero\n'
    )
    actions = tmp_path / "actions.csv"
    actions.write_text("country,topic,value,choice\nGermany,Religion,Devout,negative\n")
    proc = _run(
        "score", "--stated", str(stated), "--actions", str(actions), "--out", str(tmp_path / "o")
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert f"{stated} data row 1: prompt_index 'zero' is not a whole number" in proc.stderr
