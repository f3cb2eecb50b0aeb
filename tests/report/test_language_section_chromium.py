"""The "Prompt languages" report section in headless Chromium, on a real `evaluate --language` run.

`valuelens evaluate --language en,xx,hi` asks one scenario in English, in the test language of
`tests/languages/language_fixture.py` and in the built-in Hindi pack, against the local fake
server (which also translates the actions). The test recomputes each language's alignment rate
(F1), accuracy and mean distance against English from the run's `language_pairs` table by hand,
then reads the numbers the browser shows. A run asked in English only must have no such section.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from support.evaluate_run import write_via
from support.fake_server import FakeServer, FaultConfig, serve_in_thread
from support.report_cdp import Browser, save_artifact
from valuelens.cli import app
from valuelens.runs import read_run

pytestmark = pytest.mark.slow

COUNTRY, TOPIC = "India", "Religion"
ACTIONS = {
    "Honest": ("I tell the priest the truth.", "I pretend I prayed."),
    "Wealth": ("I buy a bigger shop.", "I give my savings away."),
    "Freedom": ("I go out alone.", "I stay home."),
    "Humble": ("I thank others.", "I boast loudly."),
}
COMPARED = ("xx", "hi")  # every prompt language but English, in the order asked
KEYS = ["country", "topic", "value"]
WIDTH = 1300


def _language_fixture() -> ModuleType:
    """tests/languages/language_fixture.py (its folder is not on sys.path from tests/report)."""
    path = Path(__file__).parents[1] / "languages" / "language_fixture.py"
    spec = importlib.util.spec_from_file_location("language_fixture_for_report", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with pytest.MonkeyPatch.context() as patch:  # a fake key, never a developer's real one
        patch.setenv("OPENAI_API_KEY", "sk-valuelens-test-dummy")
        with serve_in_thread(FaultConfig()) as running:
            yield running


def _invoke(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output


def _evaluate_and_report(server: FakeServer, folder: Path, *extra: str) -> tuple[Path, Path]:
    via = write_via(folder / "via.csv", COUNTRY, TOPIC, ACTIONS)
    run = folder / "run"
    args = ["evaluate", "--model", "openai:fake", "--base-url", server.base_url, "--via", str(via)]
    args += ["--countries", COUNTRY, "--topics", TOPIC, "--stated-variants", "0,2"]
    args += ["--variants", "0,2", *extra, "--no-report", "--out", str(run)]
    _invoke(args)
    report = folder / "report.html"
    _invoke(["report", str(run), "--out", str(report)])
    return run, report


@pytest.fixture(scope="module")
def language_run(server: FakeServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("languages")
    languages_dir = _language_fixture().write_languages_dir(folder / "packs")
    return _evaluate_and_report(
        server, folder, "--language", ",".join(["en", *COMPARED]),
        "--languages-dir", str(languages_dir),
    )  # fmt: skip


@pytest.fixture(scope="module")
def native_only_run(
    server: FakeServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """India asked in the test language only: nothing in common with English."""
    folder = tmp_path_factory.mktemp("native")
    languages_dir = _language_fixture().write_languages_dir(folder / "packs")
    return _evaluate_and_report(
        server, folder, "--language", "native", "--languages-dir", str(languages_dir)
    )


@pytest.fixture(scope="module")
def english_run(server: FakeServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _evaluate_and_report(server, tmp_path_factory.mktemp("english"))


def _f1(truth: pd.Series, pred: pd.Series) -> float:
    """Binary F1 of the positive class (zero when there is no positive at all)."""
    tp = int((truth & pred).sum())
    wrong = int((truth != pred).sum())
    return 2 * tp / (2 * tp + wrong) if tp + wrong else 0.0


def _accuracy(stated: pd.Series, chosen: pd.Series) -> float:
    return float(((stated >= 0.5) == (chosen >= 0.5)).mean())


def _distance(stated: pd.Series, chosen: pd.Series) -> float:
    return float((stated - chosen).abs().mean())


MEASURES: dict[str, Callable[[pd.Series, pd.Series], float]] = {
    "alignment rate (F1)": lambda stated, chosen: _f1(stated >= 0.5, chosen >= 0.5),
    "accuracy": _accuracy,
    "mean distance": _distance,
}


def _expected(pairs: pd.DataFrame, code: str) -> dict[str, Any]:
    """The comparison of `code` with English on the pairs both scored, computed by hand.

    One scenario (one country, one topic): the alignment rate is the F1 of stated >= 0.5
    against chosen >= 0.5, the accuracy their share of equal sides, the mean distance the mean
    of |stated - chosen| over the values.
    """
    scored = pairs.dropna(subset=["stated", "chosen"])
    own = scored[scored["language"] == code]
    english = scored[scored["language"] == "en"]
    both = own.merge(english, on=KEYS, suffixes=("_l", "_e"))
    measures: dict[str, tuple[float, float]] = {}
    for label, fn in MEASURES.items():
        own_value, english_value = (fn(both[f"stated_{s}"], both[f"chosen_{s}"]) for s in "le")
        measures[label] = (own_value, english_value)
    stated_same = ((both["stated_l"] >= 0.5) == (both["stated_e"] >= 0.5)).mean()
    chosen_same = ((both["chosen_l"] >= 0.5) == (both["chosen_e"] >= 0.5)).mean()
    return {
        "n_pairs": len(both),
        "not_evaluated": len(ACTIONS) - len(own),
        "measures": measures,
        "agreement": (float(stated_same), float(chosen_same)),
    }


def _number(text: str) -> float:
    return float(text.strip().replace("\u2212", "-"))


SECTION_JS = """(() => {
  const s = document.getElementById('languages');
  if (!s) return null;
  const style = getComputedStyle(s);
  const box = s.getBoundingClientRect();
  return {
    heading: s.querySelector('h2') && s.querySelector('h2').textContent.trim(),
    visible: style.display !== 'none' && style.visibility !== 'hidden' && box.height > 50
      && box.width > 300,
    nav: [...document.querySelectorAll('a[href="#languages"]')].map(a => a.textContent.trim()),
    blocks: [...s.querySelectorAll('h4[data-testid^="language-"]')].map(h => ({
      testid: h.dataset.testid, text: h.textContent.trim(),
      note: h.nextElementSibling.textContent.replace(/\\s+/g, ' ').trim(),
    })),
    tables: Object.fromEntries([...s.querySelectorAll('table[data-testid^="language-gap-"]')].map(
      t => [t.dataset.testid, [...t.querySelectorAll('tbody tr')].map(
        r => [...r.cells].map(c => c.textContent.trim()))])),
    agreements: Object.fromEntries(
      [...s.querySelectorAll('[data-testid^="language-agreement-"]')].map(
        p => [p.dataset.testid, p.textContent.replace(/\\s+/g, ' ').trim()])),
    overflowing: [...s.querySelectorAll('*')].filter(
      e => e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName),
  };
})()"""


def _open(browser: Browser, report: Path) -> Any:
    browser.viewport(WIDTH, 900)
    browser.open(report.as_uri())
    assert browser.eval("document.documentElement.getAttribute('data-report-ready')") == "1"
    return browser.eval(SECTION_JS)


def test_language_section_shows_each_language_against_english(
    language_run: tuple[Path, Path], browser: Browser
) -> None:
    run, report = language_run
    save_artifact(report)
    pairs = read_run(run).table("language_pairs")
    assert set(pairs["language"]) == {"en", *COMPARED}
    section = _open(browser, report)
    assert section is not None, "no Prompt languages section"
    assert section["heading"] == "Prompt languages" and section["visible"]
    assert section["nav"] == ["Prompt languages"]
    # one block (heading, note, table) per compared language, in the order asked
    assert [b["testid"] for b in section["blocks"]] == [f"language-{c}" for c in COMPARED]
    assert sorted(section["tables"]) == sorted(f"language-gap-{c}" for c in COMPARED)
    for block, code in zip(section["blocks"], COMPARED, strict=True):
        expected = _expected(pairs, code)
        assert expected["n_pairs"] > 0  # otherwise the run tests nothing
        assert block["text"].endswith(f"({code}) vs English")
        assert (
            f"Pairs scored in both languages: {expected['n_pairs']} in 1 scenario(s)."
            in (block["note"])
        )
        if expected["not_evaluated"]:
            assert f"{expected['not_evaluated']} pair(s) not evaluated in" in block["note"]
        else:
            assert "not evaluated" not in block["note"]
        rows = section["tables"][f"language-gap-{code}"]
        assert [r[0] for r in rows] == list(expected["measures"])
        for row in rows:
            own, english = expected["measures"][row[0]]
            shown = [_number(cell) for cell in row[1:4]]
            assert shown == pytest.approx([own, english, own - english], abs=5e-4), (code, row)
            low, high = (_number(x) for x in row[4].split("–"))
            assert low <= high and 0 <= _number(row[5]) <= 1
        stated_same, chosen_same = expected["agreement"]
        agreement = section["agreements"][f"language-agreement-{code}"]
        assert f"Same stated side on {100 * stated_same:.1f}% of the pairs" in agreement
        assert f"same chosen side on {100 * chosen_same:.1f}%" in agreement
    assert section["overflowing"] == []
    overflow = browser.eval("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page scrolls sideways at {WIDTH} px"
    assert browser.errors() == []


def test_language_without_common_pairs_says_so(
    native_only_run: tuple[Path, Path], browser: Browser
) -> None:
    run, report = native_only_run
    pairs = read_run(run).table("language_pairs")
    assert "en" not in set(pairs["language"])  # so no pair can be in common with English
    section = _open(browser, report)
    assert section is not None and section["visible"]
    assert [b["testid"] for b in section["blocks"]] == ["language-xx"]
    assert "Pairs scored in both languages: 0 in 0 scenario(s)." in section["blocks"][0]["note"]
    assert section["tables"] == {} and section["agreements"] == {}
    text = browser.eval("document.getElementById('languages').textContent")
    assert "No pair was scored in both" in text and "--language en,xx" in text
    assert browser.eval("document.documentElement.scrollWidth - window.innerWidth") <= 1
    assert browser.errors() == []


def test_english_only_run_has_no_language_section(
    english_run: tuple[Path, Path], browser: Browser
) -> None:
    run, report = english_run
    assert read_run(run).optional_table("language_gap") is None
    html = report.read_text("utf-8")
    assert 'id="languages"' not in html and 'href="#languages"' not in html
    assert _open(browser, report) is None
    assert browser.eval("document.documentElement.scrollWidth - window.innerWidth") <= 1
    assert browser.errors() == []


def test_hand_computation_is_not_trivial(language_run: tuple[Path, Path]) -> None:
    """The differences checked above are not all zero (else a wrong column could pass)."""
    pairs = read_run(language_run[0]).table("language_pairs")
    gaps = [
        own - english
        for code in COMPARED
        for own, english in _expected(pairs, code)["measures"].values()
    ]
    assert any(not math.isclose(g, 0, abs_tol=1e-9) for g in gaps)
