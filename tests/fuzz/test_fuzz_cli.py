"""Damaged files through the CLI, in-process: exit 0 or 2, one error line, never a traceback.

`data validate` (a damaged VIA file, or a damaged `--taxonomy`), `score` (a damaged Task 1 or
Task 2 file beside an intact one) and `compass score` (a damaged survey or LLM file beside an
intact one). Fewer cases than the importer tests: a CLI run also scores and writes files.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from fuzz_mutations import CASES, RESULTS, assert_one_line, damaged_csv, mutated_tree
from fuzz_seeds import (
    LLM_HEALTHCARE,
    PROFILE,
    SURVEY,
    T1_RAW,
    T2_LONG,
    VIA_RELEASE,
    builtin_text,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from valuelens._errors import ValuelensError
from valuelens.cli import app

CLI = settings(
    settings.get_profile(PROFILE),
    max_examples=max(5, settings.get_profile(PROFILE).max_examples // 3),
)

USER_ERROR = 2
LLM_NAME = Path(LLM_HEALTHCARE).name


def run_cli(name: str, args: list[str]) -> int:
    """Run `valuelens ARGS` as the entry point would; return its exit code after the checks."""
    CASES[name] += 1
    result = CliRunner().invoke(app, args)
    if isinstance(result.exception, ValuelensError):  # `main()` prints it as one line, exit 2
        assert_one_line(str(result.exception))
        code = USER_ERROR
    else:
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        code = result.exit_code
    assert "Traceback" not in result.output, result.output[-2000:]
    assert code in (0, USER_ERROR), f"exit code {code}: {result.output[-500:]}"
    if code == USER_ERROR and result.exception is None:
        errors = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert len(errors) <= 1, result.output[-1000:]
    RESULTS[f"{name}: {'result' if code == 0 else 'error'}"] += 1
    return code


@contextmanager
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="vl-fuzz-cli-") as name:
        yield Path(name)


def _rows_for_scenarios(text: str, scenarios: set[tuple[str, str]]) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    kept = [rows[0], *(r for r in rows[1:] if (r[0], r[1]) in scenarios)]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(kept)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def score_seeds(reference_dir: Path, seed_text: Callable[[str, int], str]) -> tuple[str, str]:
    """Task 1 answers for one scenario (8 variants) and the Task 2 choices of that scenario."""
    stated = seed_text(T1_RAW, 8)
    scenarios = {(r[0], r[1]) for r in list(csv.reader(io.StringIO(stated)))[1:]}
    choices = _rows_for_scenarios((reference_dir / T2_LONG).read_text("utf-8"), scenarios)
    return stated, choices


def test_data_validate(seed_text: Callable[[str, int], str]) -> None:
    @CLI
    @given(damaged_csv(seed_text(VIA_RELEASE, 20), "generation_prompt"), st.booleans())
    def run(data: bytes, as_json: bool) -> None:
        with folder() as root:
            (root / "via.csv").write_bytes(data)
            run_cli(
                "CLI data validate",
                ["data", "validate", str(root / "via.csv")] + (["--json"] if as_json else []),
            )

    run()


def test_data_validate_taxonomy(seed_text: Callable[[str, int], str]) -> None:
    via = seed_text(VIA_RELEASE, 6)
    seed = yaml.safe_load(builtin_text("valuelens.taxonomy", "taxonomy.yaml"))

    @CLI
    @given(mutated_tree({"countries": ["Atlantis"], "values": seed["values"][:3]}))
    def run(data: bytes) -> None:
        with folder() as root:
            (root / "via.csv").write_text(via, encoding="utf-8")
            (root / "tax.yaml").write_bytes(data)
            run_cli(
                "CLI data validate --taxonomy",
                ["data", "validate", str(root / "via.csv"), "--taxonomy", str(root / "tax.yaml")],
            )

    run()


def _score(root: Path, stated: bytes, choices: bytes, paper: bool) -> list[str]:
    (root / "t1.csv").write_bytes(stated)
    (root / "choices.csv").write_bytes(choices)
    args = ["score", "--stated", str(root / "t1.csv"), "--actions", str(root / "choices.csv")]
    return [
        *args,
        "--out",
        str(root / "run"),
        "--bootstrap",
        "20",
        *(["--paper-compat"] if paper else []),
    ]


def test_score_damaged_stated(score_seeds: tuple[str, str]) -> None:
    stated, choices = score_seeds

    @CLI
    @given(damaged_csv(stated, "response"), st.booleans())
    def run(data: bytes, paper: bool) -> None:
        with folder() as root:
            run_cli("CLI score (damaged Task 1)", _score(root, data, choices.encode(), paper))

    run()


def test_score_damaged_choices(score_seeds: tuple[str, str]) -> None:
    stated, choices = score_seeds

    @CLI
    @given(damaged_csv(choices, "t2_chosen_polarity"), st.booleans())
    def run(data: bytes, paper: bool) -> None:
        with folder() as root:
            run_cli("CLI score (damaged Task 2)", _score(root, stated.encode(), data, paper))

    run()


@pytest.fixture(scope="module")
def compass_seeds(reference_dir: Path, seed_text: Callable[[str, int], str]) -> tuple[str, str]:
    """Eight participants of the healthcare survey and one model's healthcare answers (US)."""
    llm = reference_dir / LLM_HEALTHCARE
    if not llm.is_file():
        pytest.skip(f"reference file not found: {llm}")
    return seed_text(SURVEY, 8), seed_text(LLM_HEALTHCARE, 1)


def _compass(root: Path, survey: bytes, answers: bytes) -> list[str]:
    (root / "human_S2_Healthcare.csv").write_bytes(survey)
    (root / LLM_NAME).write_bytes(answers)
    return [
        "compass", "score",
        "--humans", str(root / "human_S2_Healthcare.csv"),
        "--llm", str(root / LLM_NAME),
        "--out", str(root / "run"),
        "--bootstrap", "20",
    ]  # fmt: skip


def test_compass_score_damaged_survey(compass_seeds: tuple[str, str]) -> None:
    survey, answers = compass_seeds

    @CLI
    @given(damaged_csv(survey, "Honest"))
    def run(data: bytes) -> None:
        with folder() as root:
            run_cli("CLI compass score (damaged survey)", _compass(root, data, answers.encode()))

    run()


def test_compass_score_damaged_answers(compass_seeds: tuple[str, str]) -> None:
    survey, answers = compass_seeds

    @CLI
    @given(damaged_csv(answers, "evaluation_0"))
    def run(data: bytes) -> None:
        with folder() as root:
            run_cli("CLI compass score (damaged answers)", _compass(root, survey.encode(), data))

    run()


def test_intact_seeds_score(score_seeds: tuple[str, str], compass_seeds: tuple[str, str]) -> None:
    """The undamaged seeds succeed, so the damaged runs above start from a working command."""
    stated, choices = score_seeds
    survey, answers = compass_seeds
    with folder() as root:
        args = _score(root, stated.encode(), choices.encode(), False)
        assert run_cli("CLI score (intact)", args) == 0
    with folder() as root:
        args = _compass(root, survey.encode(), answers.encode())
        assert run_cli("CLI compass score (intact)", args) == 0
