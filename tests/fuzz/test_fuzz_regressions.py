"""The inputs the fuzz suite found, kept as fixed cases so they run on every commit.

Each case ended in a traceback before its fix (or still does: those are marked xfail with the
owner of the file that needs the fix). The taxonomy, scenario and alias cases live in
tests/taxonomy/test_taxonomy_files.py and tests/compass/test_compass_survey.py.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest
from fuzz_mutations import check_import, read_rows, write_rows
from fuzz_seeds import PREDICTIONS, T1_RAW, VIA_RELEASE

from valuelens._errors import ValuelensError
from valuelens.data import load_predictions, load_stated, load_via, validate_via
from valuelens.prompts import load_templates

TOO_DEEP = ['{"a": ' * 3000 + "1" + "}" * 3000, "[" * 5000 + "]" * 5000]


def _with_cell(seed: str, column: str, text: str) -> str:
    rows = read_rows(seed)
    rows[1][rows[0].index(column)] = text
    return write_rows(rows)


@pytest.mark.parametrize("reply", TOO_DEEP)
def test_via_answer_nested_too_deeply(
    tmp_path: Path, seed_text: Callable[[str, int], str], reply: str
) -> None:
    path = tmp_path / "via.csv"
    path.write_text(_with_cell(seed_text(VIA_RELEASE, 4), "generation_prompt", reply), "utf-8")
    table = check_import("regression VIA", lambda: load_via(path))
    assert table is not None and table["parse_status"].iloc[0] == "failed"
    report = check_import("regression VIA", lambda: validate_via(path))
    assert report is not None and report["n_parse_failures"] == 1


@pytest.mark.parametrize("reply", TOO_DEEP)
def test_prediction_reply_nested_too_deeply(
    tmp_path: Path, seed_text: Callable[[str, int], str], reply: str
) -> None:
    path = tmp_path / Path(PREDICTIONS).name
    path.write_text(_with_cell(seed_text(PREDICTIONS, 4), "result", reply), "utf-8")
    table = check_import("regression predictions", lambda: load_predictions(path))
    assert table is not None and table["parse_status"].iloc[0] == "failed"


@pytest.mark.parametrize("paper_compat", [False, True])
@pytest.mark.parametrize("reply", TOO_DEEP)
def test_task1_reply_nested_too_deeply(
    tmp_path: Path, seed_text: Callable[[str, int], str], reply: str, paper_compat: bool
) -> None:
    path = tmp_path / "t1.csv"
    path.write_text(_with_cell(seed_text(T1_RAW, 2), "response", reply), "utf-8")
    table = check_import("regression Task 1", lambda: load_stated(path, paper_compat=paper_compat))
    assert table is not None


def test_template_including_a_name_with_a_newline(tmp_path: Path) -> None:
    root = tmp_path / "templates"
    builtin = resources.files("valuelens.prompts").joinpath("templates")
    for task in ("generate", "stated", "action"):
        (root / task).mkdir(parents=True)
        for item in builtin.joinpath(task).iterdir():
            (root / task / item.name).write_text(item.read_text("utf-8"), "utf-8")
    variant = root / "generate" / "variant_2.jinja"
    variant.write_text("{% include 'generate/_part\nx.jinja' %}\n" + variant.read_text("utf-8"))
    check_import("regression templates", lambda: load_templates(root))


@pytest.mark.parametrize(
    "expression", ["'x' * 10**10", "[1] * 10**9", "2 ** (10**8)", "3 * 'ab' * 10**8"]
)
def test_a_template_cannot_exhaust_memory(tmp_path: Path, expression: str) -> None:
    variant = tmp_path / "templates" / "stated" / "variant_0.jinja"
    variant.parent.mkdir(parents=True)
    variant.write_text("{{ " + expression + " }}", "utf-8")
    with pytest.raises(ValuelensError, match="too"):
        load_templates(variant.parent.parent)


def test_seed_slices_are_real_csv(seed_text: Callable[[str, int], str]) -> None:
    """The seeds keep whole records (a reply spans many lines): each row has every column."""
    for relative in (VIA_RELEASE, T1_RAW, PREDICTIONS):
        rows = list(csv.reader(io.StringIO(seed_text(relative, 5))))
        assert len(rows) == 6
        assert {len(r) for r in rows} == {len(rows[0])}
