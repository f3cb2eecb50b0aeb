"""The report's prompt-sensitivity section: shown for runs with several variants, escaped."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from valuelens.metrics import score_value_action
from valuelens.report import _sensitivity as section
from valuelens.report import render_report, write_run
from valuelens.taxonomy import load_taxonomy

TAX = load_taxonomy()
VALUES = [v.name for v in TAX.values]
NEGATIVE_FIRST = {0, 1, 4, 5}
PAYLOAD = '<img src=x onerror="alert(1)">'


def _run(out: Path, *, variants: list[int], n_countries: int = 2) -> Path:
    """A scored run: every pair answered; the model always picks Option 1."""
    rng = np.random.default_rng(0)
    items = [(c, "Religion", v) for c in TAX.country_names[:n_countries] for v in VALUES]
    stated = pd.DataFrame(
        [(*item, s, int(rng.integers(1, 5))) for item in items for s in (0, 2)],
        columns=["country", "topic", "value", "variant", "likert"],
    )
    choices = pd.DataFrame(
        [
            (*item, v, "negative" if v in NEGATIVE_FIRST else "positive")
            for item in items
            for v in variants
        ],
        columns=["country", "topic", "value", "variant", "choice"],
    )
    result = score_value_action(stated, choices, TAX, n_resamples=20)
    result.summary["label"] = out.name
    write_run(out, result.summary, result.tables)
    return out


def _section(html: str) -> str:
    found = re.search(r'<section id="sensitivity".*?</section>', html, re.DOTALL)
    assert found, "no prompt-sensitivity section"
    return found.group(0)


def test_section_shows_position_bias_effects_and_flips(tmp_path: Path) -> None:
    run = _run(tmp_path / "always-first", variants=[0, 2, 5, 7])
    html = render_report([run], tmp_path / "report.html").read_text(encoding="utf-8")
    body = _section(html)
    assert 'href="#sensitivity"' in html  # in the navigation
    assert "always-first" in body
    n = 2 * 56 * 4
    assert f"chosen in <strong>100.0%</strong> of {n:,} Task 2 answers" in body
    assert "negative action shown first vs second" in body and "exact fit" in body
    # every pair flips in Task 2; Task 1 flips are listed too, at most FLIP_LIMIT rows each
    assert f"Task 2 (action): {2 * 56:,} pairs (100.0% of those" in body
    rows = body.split("<details")[2].count("<tr>") - 1  # minus the header row
    assert rows == min(2 * 56, section.FLIP_LIMIT)


def test_flip_list_is_cut_and_says_so(tmp_path: Path) -> None:
    run = _run(tmp_path / "many", variants=[0, 2], n_countries=4)  # 224 flipping pairs
    body = _section(render_report([run], tmp_path / "r.html").read_text(encoding="utf-8"))
    assert f"the {section.FLIP_LIMIT} most evenly split are listed, flips.csv has them all" in body
    assert body.split("<details")[2].count("<tr>") - 1 == section.FLIP_LIMIT


def test_model_text_in_the_tables_is_escaped(tmp_path: Path) -> None:
    run = _run(tmp_path / "hostile", variants=[0, 2])
    flips = pd.read_parquet(run / "flips.parquet")
    flips.loc[0, "variants_1"] = PAYLOAD
    effects = pd.read_parquet(run / "sensitivity_effects.parquet")
    effects.loc[0, "note"] = PAYLOAD
    summary = (run / "summary.json").read_text(encoding="utf-8")
    tables = {"flips": flips, "sensitivity_effects": effects}
    for name in ("pairs", "scenarios", "distance_country", "distance_topic", "position_corrected"):
        tables[name] = pd.read_parquet(run / f"{name}.parquet")
    write_run(run, json.loads(summary), tables)
    body = _section(render_report([run], tmp_path / "r.html").read_text(encoding="utf-8"))
    assert PAYLOAD not in body
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in body


def test_one_task2_variant_shows_task1_only(tmp_path: Path) -> None:
    single = _run(tmp_path / "single", variants=[5])
    # Task 1 has two variants here, so the section is shown for Task 1 only
    body = _section(render_report([single], tmp_path / "r.html").read_text(encoding="utf-8"))
    assert "Task 1 (stated)" in body and "Task 2 (action)" not in body
    assert "Position bias" not in body
