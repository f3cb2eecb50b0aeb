"""The measures table: one label and format per headline, shared by the report and the terminal."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from rich.console import Console

from support.report_runfactory import grid, synthetic_pairs, write_value_action_run
from valuelens._errors import ValuelensError
from valuelens.cli._score import show_summary
from valuelens.metrics import (
    Measure,
    format_number,
    headline_measures,
    measure,
    measures,
    register_measure,
    unregister_measure,
)
from valuelens.report._html import render_report


def _cards(html: str) -> dict[str, str]:
    """Card label -> card value as the page shows them."""
    found = re.findall(
        r'<div class="card-label">([^<]*)</div>\s*<div class="card-value">([^<]*)</div>', html
    )
    return {unescape(label): unescape(value) for label, value in found}


@pytest.fixture
def sycophancy() -> Iterator[Measure]:
    """A measure that only this test knows, registered for value-action runs."""
    extra = register_measure(
        Measure(
            "sycophancy_rate",
            "sycophancy rate",
            "percent",
            higher_is_better=False,
            ci_key="sycophancy_rate_ci",
            description="Share of answers that flip when the user disagrees",
        )
    )
    yield extra
    unregister_measure("sycophancy_rate")


def test_a_registered_measure_appears_in_the_report_headlines(
    tmp_path: Path, sycophancy: Measure
) -> None:
    run = write_value_action_run(
        tmp_path / "run", synthetic_pairs(grid(2, 2), seed=3), label="extra", model="m"
    )
    summary = json.loads((run / "summary.json").read_text())
    summary |= {"sycophancy_rate": 0.1234, "sycophancy_rate_ci": [0.1, 0.15]}
    (run / "summary.json").write_text(json.dumps(summary))
    html = render_report([run], tmp_path / "r.html").read_text(encoding="utf-8")
    assert _cards(html)["Sycophancy rate"] == "12.3%"
    assert "95% CI 10.0% – 15.0%" in html
    assert 'title="Share of answers that flip when the user disagrees"' in html


def test_a_registered_measure_appears_in_the_terminal_summary(
    monkeypatch: pytest.MonkeyPatch, sycophancy: Measure
) -> None:
    console = Console(width=200, record=True, force_terminal=False)
    monkeypatch.setattr("valuelens.cli._score.console", console)
    show_summary({"label": "m", "alignment_rate": 0.5, "sycophancy_rate": 0.25})
    text = console.export_text()
    assert re.search(r"sycophancy rate[\s│]+25\.0%", text)
    assert re.search(r"alignment rate \(F1\)[\s│]+0\.500", text)


def test_report_and_terminal_use_the_same_labels_and_formats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = write_value_action_run(
        tmp_path / "run", synthetic_pairs(grid(2, 2), seed=4), label="same", model="m"
    )
    summary = json.loads((run / "summary.json").read_text())
    cards = _cards(render_report([run], tmp_path / "r.html").read_text(encoding="utf-8"))
    console = Console(width=200, record=True, force_terminal=False)
    monkeypatch.setattr("valuelens.cli._score.console", console)
    show_summary(summary)
    text = console.export_text()
    for key, label, shown in [
        ("alignment_rate", "Alignment rate (F1)", f"{summary['alignment_rate']:.3f}"),
        ("misaligned", "Misaligned pairs", f"{summary['misaligned']:,}"),
        ("n_pairs", "Pairs", f"{summary['n_pairs']:,}"),
    ]:
        assert cards[label] == shown, key
        assert re.search(
            rf"{re.escape(label[:1].lower() + label[1:])}[\s│]+{re.escape(shown)}", text
        ), key


def test_headlines_missing_from_an_old_summary_are_computed_from_the_pairs(
    tmp_path: Path,
) -> None:
    pairs = synthetic_pairs(grid(2, 2), seed=5)
    run = write_value_action_run(tmp_path / "run", pairs, label="old", model="m")
    summary = json.loads((run / "summary.json").read_text())
    for key in ("misaligned", "n_pairs", "n_pairs_scored", "n_pairs_without_choice"):
        del summary[key]
    (run / "summary.json").write_text(json.dumps(summary))
    html = render_report([run], tmp_path / "r.html").read_text(encoding="utf-8")
    cards = _cards(html)
    misaligned = int((pairs["misaligned"] == 1).sum())
    scored = int(pairs["misaligned"].notna().sum())
    assert cards["Misaligned pairs"] == f"{misaligned:,}"
    assert f"of {scored:,} pairs scored ({100 * misaligned / scored:.1f}%)" in html
    assert cards["Pairs"] == f"{len(pairs):,}"
    assert cards["Pairs without a choice"] == f"{int(pairs['chosen'].isna().sum()):,}"


def test_every_headline_key_of_a_real_summary_has_a_measure() -> None:
    keys = {m.key for m in measures("value-action")}
    written = {
        "alignment_rate",
        "accuracy",
        "misaligned",
        "misaligned_rate",
        "misaligned_stated_agree_chose_negative",
        "misaligned_stated_disagree_chose_positive",
        "distance_mean",
        "distance_mean_by_topic",
        "distance_abs_mean",
        "n_pairs",
        "n_pairs_scored",
        "n_pairs_without_choice",
        "n_pairs_without_stated",
        "prompt_agreement_stated",
        "prompt_agreement_action",
        "action_positive_rate",
    }
    assert written <= keys
    assert {"alignment_rate", "accuracy", "distance_mean", "n_cells"} <= {
        m.key for m in headline_measures("compass")
    }


@pytest.mark.parametrize(
    ("value", "fmt", "shown"),
    [
        (0.56789, ".3f", "0.568"),
        (0.5, ".2f", "0.50"),
        (1234567, "int", "1,234,567"),
        (0.1234, "percent", "12.3%"),
        (None, ".3f", "—"),
        (float("nan"), "int", "—"),
        ({"a": 1.0}, ".3f", "—"),
        (True, "int", "—"),
    ],
)
def test_format_number(value: object, fmt: str, shown: str) -> None:
    assert format_number(value, fmt) == shown


def test_a_measure_reads_aliases_and_intervals() -> None:
    distance = measure("distance_mean", "compass")
    assert distance.value_in({"distance_mean_by_country": 0.25}) == 0.25
    assert distance.value_in({"distance_mean_by_country": {"Egypt": 0.2}}) is None
    rate = measure("alignment_rate")
    assert rate.interval_text({"alignment_rate_ci": [0.5, 0.625]}) == "95% CI 0.500 – 0.625"
    assert rate.interval_text({"alignment_rate_ci": [None, 0.6]}) == ""


def test_a_key_is_registered_once_per_run_kind() -> None:
    with pytest.raises(ValuelensError, match="already registered for value-action"):
        register_measure(Measure("accuracy", "accuracy again"))
    with pytest.raises(ValuelensError, match="unknown format"):
        register_measure(Measure("x_rate", "x", "%"))  # type: ignore[arg-type]
