"""The report on full-size data: the authors' reconstructed per-pair files and real `score` output."""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest

from support.report_runfactory import reference_pairs, write_value_action_run
from valuelens.report._html import render_report
from valuelens.taxonomy import load_taxonomy

MODELS = ("gpt-4o-mini", "Llama-3.3-70B-Instruct")


def _check_complete(html: str, n_runs: int) -> None:
    text = unescape(html)
    tax = load_taxonomy()
    for name in tax.country_names + tax.topic_names + tax.value_names:
        assert name in text, name
    # every heatmap has its 12 x 56 or 11 x 56 cells, for every run
    cells = len(
        re.findall(
            r"<rect x=\"[\d.]+\" y=\"[\d.]+\" width=\"[\d.]+\" height=\"[\d.]+\" "
            r"fill=\"#[0-9a-f]{6}\"><title>",
            html,
        )
    )
    assert cells >= n_runs * 3 * (12 + 11) * 56
    assert 'id="comparison"' in html and 'data-testid="leaderboard"' in html
    assert "https://" not in html and "http://" not in html


@pytest.mark.slow
def test_two_reconstructed_reference_runs(reference_dir: Path, tmp_path: Path) -> None:
    runs = []
    for model in MODELS:
        pairs = reference_pairs(
            reference_dir / "reconstructed" / f"{model}_t1t2_joined.reconstructed.csv"
        )
        assert len(pairs) == 7392
        runs.append(write_value_action_run(tmp_path / model, pairs, label=model, model=model))
    html = render_report(runs, tmp_path / "report.html").read_text(encoding="utf-8")
    _check_complete(html, 2)
    summary = json.loads((runs[0] / "summary.json").read_text())
    assert f"{summary['alignment_rate']:.3f}" in html


@pytest.mark.slow
def test_real_score_output(reference_dir: Path, tmp_path: Path) -> None:
    from valuelens._api import score

    runs = []
    for model in MODELS:
        out = tmp_path / model
        score(
            reference_dir / "outputs" / "evaluation" / f"{model}_t1.csv",
            reference_dir / "reconstructed" / f"{model}_t1t2_joined.reconstructed.csv",
            out=out,
            model=model,
            n_resamples=200,
        )
        runs.append(out)
    html = render_report(runs, tmp_path / "report.html").read_text(encoding="utf-8")
    _check_complete(html, 2)
    for run in runs:
        summary = json.loads((run / "summary.json").read_text())
        assert f'<div class="card-value">{summary["alignment_rate"]:.3f}</div>' in html
        assert f'<div class="card-value">{summary["misaligned"]:,}</div>' in html
        top = summary["ranking_countries"][0]
        assert load_taxonomy().label("country", top) in html
