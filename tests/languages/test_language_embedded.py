"""`evaluate --language en,hi` end to end on the embedded model (SmolLM2-135M, no network).

A 135M model cannot really translate: what it writes is not the point. This checks that every
stage runs on a real backend (translation under a JSON schema, Task 1 and Task 2 in Hindi with
log-probability scoring), that every prompt's language is recorded, and that a pair whose
translation could not be read is counted as not evaluated instead of being asked in English.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from language_fixture import write_languages_dir
from typer.testing import CliRunner

from support.evaluate_run import read_summary, write_via
from valuelens.cli import app
from valuelens.taxonomy import available_languages

pytestmark = pytest.mark.slow

ACTIONS = {"Honest": ("I tell the priest the truth.", "I pretend I prayed.")}


def test_two_prompt_languages_on_the_embedded_model(tmp_path: Path) -> None:
    code = "hi" if "hi" in available_languages() else "xx"  # the test pack until Hindi ships
    folder = write_languages_dir(tmp_path / "langs")
    via = write_via(tmp_path / "via.csv", "India", "Religion", ACTIONS)
    out = tmp_path / "run"
    args = ["evaluate", "--model", "embedded", "--via", str(via), "--countries", "India"]
    args += ["--topics", "Religion", "--values", "Honest", "--scoring", "logprob"]
    args += ["--stated-variants", "0", "--variants", "4", "--concurrency", "2"]
    args += ["--language", f"en,{code}", "--languages-dir", str(folder), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output

    summary = read_summary(out)
    assert summary["language_countries"] == {"en": ["India"], code: ["India"]}
    translations = pd.read_parquet(out / "translations.parquet")
    assert len(translations) == 2 and translations["raw"].notna().all()
    usable = translations["parse_status"].isin(["ok", "repaired"])
    assert sum(summary["translation_status"][code].values()) == 2
    stated = pd.read_parquet(out / "language_stated.parquet")
    # Task 1 does not need translated actions: asked in both languages, one digit each (an
    # answer without a digit keeps its raw text).
    assert stated.groupby("language").size().to_dict() == {"en": 1, code: 1}
    assert stated["likert"].dropna().between(1, 4).all()
    assert stated["raw"].notna().all()
    action = pd.read_parquet(out / "language_action.parquet")
    assert set(action["language"]) <= {"en", code}
    assert (action["language"] == "en").sum() == 1
    # Each pair is evaluated in the language or counted as not evaluated, never both.
    scored = summary["language_pairs_scored"].get(code, 0)
    assert scored + summary["language_not_evaluated"][code] == 1
    asked = (action["language"] == code).sum()
    assert asked <= 1 and (asked == 0 or usable.all())
    assert summary["language_gap"][code]["n_pairs"] == scored
    assert (out / "report.html").is_file()
