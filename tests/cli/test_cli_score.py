import json
import subprocess
import sys

import pandas as pd


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
