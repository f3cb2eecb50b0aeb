"""The report's comparison section: runs compared on their common pairs, with the paired test.

Runs are written by the test helper (its own sklearn metrics, no `n_action_variants` column, as
a hand-made run); the expected numbers are computed here with sklearn and pandas.
"""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from support.report_runfactory import complete_pairs, grid, synthetic_pairs, write_value_action_run
from valuelens.report._html import render_report

KEYS = ["country", "topic", "value"]


def _rate(pairs: pd.DataFrame) -> float:
    scores = [
        f1_score(g["stated"] >= 0.5, g["chosen"] >= 0.5, zero_division=0)
        for _, g in pairs.groupby(["country", "topic"])
    ]
    return float(np.mean(scores))


def _section(html: str) -> str:
    start = html.index('<section id="comparison"')
    return html[start : html.index("</section>", start)]


def _runs(tmp_path: Path) -> tuple[list[Path], pd.DataFrame, pd.DataFrame]:
    g = grid(3, 2, 20)
    first = synthetic_pairs(g, seed=5, missing_choice=0.0)
    second = synthetic_pairs(g, seed=6, missing_choice=0.0)
    lost_value = g.values[3]
    second = complete_pairs(
        second.assign(chosen=second["chosen"].where(second["value"] != lost_value))
    )
    runs = [
        write_value_action_run(tmp_path / "first", first, label="first-model"),
        write_value_action_run(tmp_path / "second", second, label="second-model"),
    ]
    return runs, first, second


def test_comparison_uses_common_pairs_and_shows_the_paired_test(tmp_path: Path) -> None:
    runs, first, second = _runs(tmp_path)
    html = render_report(runs, tmp_path / "report.html").read_text(encoding="utf-8")
    section = unescape(_section(html))
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section))

    common = first.dropna(subset=["stated", "chosen"])[KEYS].merge(
        second.dropna(subset=["stated", "chosen"])[KEYS], on=KEYS
    )
    assert len(common) == 3 * 2 * 19
    assert f"Compared on the {len(common)} pairs that every run scored" in text
    assert "first-model: 6 of 120 pairs dropped (not scored by second-model: 6" in text
    assert "second-model: 6 of 120 pairs dropped (no Task 2 answer: 6" in text

    rates = {
        label: _rate(pairs.merge(common, on=KEYS))
        for label, pairs in (("first-model", first), ("second-model", second))
    }
    # the leaderboard is on the common pairs, not the runs' own summaries
    for rate in rates.values():
        assert f"<strong>{rate:.3f}</strong>" in section
    leader, other = sorted(rates, key=lambda label: -rates[label])
    assert f"Paired tests against the leader, {leader}" in text
    paired = section[section.index('data-testid="compare-paired"') :]
    assert f"<td>{other}</td>" in paired
    assert f"<strong>{rates[leader] - rates[other]:.3f}</strong>" in paired

    # the report can keep each run's own pairs, with the warning instead
    html = render_report(runs, tmp_path / "own.html", all_pairs=True).read_text(encoding="utf-8")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", unescape(_section(html))))
    assert "pairs dropped" not in text
    assert (
        "Warning: the runs cover different pair sets: pairs (first-model: 120, second-model: 114)"
        in text
    )
    own = _rate(first.dropna(subset=["stated", "chosen"]))
    assert f"{own:.3f}" in text


def _pairs_cells(html: str) -> dict[str, str]:
    """Run label -> the leaderboard's "Pairs compared" cell."""
    board = _section(html)
    rows = re.findall(r"<tr>(.*?)</tr>", board[board.index('data-testid="leaderboard"') :], re.S)
    cells = {}
    for row in rows:
        texts = [
            unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        found = re.search(r'data-testid="compared-pairs">([^<]*)<', row)
        if found and len(texts) > 1:
            cells[texts[1]] = unescape(found.group(1))
    return cells


def test_pairs_column_counts_the_compared_pairs_and_shows_the_total(tmp_path: Path) -> None:
    runs, _, _ = _runs(tmp_path)
    # 3 countries x 2 topics x 20 values = 120 pairs each; the second run never chose for one
    # value (6 pairs), so 114 pairs are compared, on the common set and on the run's own.
    html = render_report(runs, tmp_path / "r.html").read_text(encoding="utf-8")
    assert _pairs_cells(html) == {"first-model": "114 of 120", "second-model": "114 of 120"}
    own = render_report(runs, tmp_path / "own.html", all_pairs=True).read_text(encoding="utf-8")
    assert _pairs_cells(own) == {"first-model": "120", "second-model": "114 of 120"}
