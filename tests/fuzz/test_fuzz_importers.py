"""Every importer, fed damaged copies of real files: a result or a one-line ValuelensError.

Each test writes one damaged file per example (under its real name where the name carries
meaning, e.g. `human_S2_Healthcare.csv`) and calls the importer on it. See `fuzz_mutations` for
the damage and the property.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import pytest
import yaml
from fuzz_mutations import (
    check_import,
    damaged_csv,
    mutated_template,
    mutated_tree,
)
from fuzz_seeds import (
    LLM_ANSWERS,
    PREDICTIONS,
    PROFILE,
    SURVEY,
    T1_RAW,
    T2_LONG,
    T2_WIDE,
    VIA_RELEASE,
    builtin_text,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from valuelens.data import (
    load_choices,
    load_compass_answers,
    load_predictions,
    load_scenarios,
    load_stated,
    load_survey,
    load_value_aliases,
    load_via,
    validate_via,
)
from valuelens.prompts import load_templates
from valuelens.taxonomy import load_taxonomy

FUZZ = settings(settings.get_profile(PROFILE))

# Seeds written here, in the tidy layouts valuelens itself reads and writes.
VIA_TIDY = (
    "country,topic,value,polarity,action,attributions,explanation\n"
    'Canada,Environment,Honest,positive,I tell the truth.,"[""tell the truth""]",Because.\n'
    "Canada,Environment,Honest,negative,I lie.,[],\n"
    'Canada,Environment,Wealth,positive,I save money.,"[""save""]",It grows.\n'
    "Canada,Environment,Wealth,negative,I give it away.,[],It shrinks.\n"
)
T1_TIDY = (
    "country,topic,value,variant,likert\n"
    "Canada,Environment,Honest,0,1\n"
    "Canada,Environment,Honest,1,2.5\n"
    "Canada,Environment,Wealth,0,4\n"
    "Canada,Environment,Wealth,1,\n"
)
SURVEY_TIDY = (
    "participant,country,scenario,value,answer,age\n"
    "p1,United States,Healthcare,Honest,2,30\n"
    "p1,United States,Healthcare,Wealth,-1,30\n"
    "p2,India,Education,Honest,N/A,41\n"
)
LLM_TIDY = (
    "model,country,scenario,variant,value,likert\n"
    "m,United States,Healthcare,0,Honest,1\n"
    "m,United States,Healthcare,1,Wealth,3\n"
    "m,India,Public,0,Honest,\n"
)
PREDICTIONS_TIDY = (
    "target,setting,item,label,predicted,raw\n"
    "gpt,default,1,True,False,Label: False\n"
    "gpt,attribution,2,False,False,Label: False\n"
)
TAXONOMY_EXTENSION = {
    "version": "mine",
    "countries": [{"name": "Atlantis", "label": "ATL"}, "El Dorado"],
    "topics": ["Space Travel"],
    "values": [{"name": "Curiosity", "type": "Openness", "definition": "wanting to know"}],
}


@contextmanager
def written(name: str, data: bytes) -> Iterator[Path]:
    """A fresh folder holding one file `name` with `data`."""
    with tempfile.TemporaryDirectory(prefix="vl-fuzz-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        yield path


# ---------------------------------------------------------------------------------------------
# VIA


@pytest.fixture(scope="module")
def via_seed(seed_text: Callable[[str, int], str]) -> str:
    return seed_text(VIA_RELEASE, 40)


def test_via_release(via_seed: str) -> None:
    @FUZZ
    @given(damaged_csv(via_seed, "generation_prompt"))
    def run(data: bytes) -> None:
        with written("via.csv", data) as path:
            check_import("VIA load_via (release)", lambda: load_via(path))
            check_import("VIA validate_via", lambda: validate_via(path))

    run()


@FUZZ
@given(
    damaged_csv(VIA_TIDY, "attributions"), st.sampled_from(["via.csv", "via.zip", "via.parquet"])
)
def test_via_tidy(data: bytes, name: str) -> None:
    with written(name, data) as path:
        check_import("VIA load_via (tidy)", lambda: load_via(path))


# ---------------------------------------------------------------------------------------------
# Task 1 and Task 2 (data/_stated.py, data/_choices.py, data/_rows.py, data/_likert.py)


def test_task1_raw(seed_text: Callable[[str, int], str]) -> None:
    seed = seed_text(T1_RAW, 6)

    @FUZZ
    @given(damaged_csv(seed, "response"), st.booleans())
    def run(data: bytes, paper_compat: bool) -> None:
        with written("t1.csv", data) as path:
            check_import(
                "Task 1 load_stated (raw)", lambda: load_stated(path, paper_compat=paper_compat)
            )

    run()


@FUZZ
@given(damaged_csv(T1_TIDY, "likert"))
def test_task1_tidy(data: bytes) -> None:
    with written("stated.csv", data) as path:
        check_import("Task 1 load_stated (tidy)", lambda: load_stated(path))


def test_task2_long(seed_text: Callable[[str, int], str]) -> None:
    seed = seed_text(T2_LONG, 30)

    @FUZZ
    @given(damaged_csv(seed, "t2_chosen_polarity"))
    def run(data: bytes) -> None:
        with written("choices.csv", data) as path:
            check_import("Task 2 load_choices (long)", lambda: load_choices(path))

    run()


def test_task2_wide(seed_text: Callable[[str, int], str]) -> None:
    seed = seed_text(T2_WIDE, 8)

    @FUZZ
    @given(damaged_csv(seed, "evaluation_5"))
    def run(data: bytes) -> None:
        with written("task2_results_gpt_35_turbo.csv", data) as path:
            check_import("Task 2 load_choices (wide)", lambda: load_choices(path))

    run()


# ---------------------------------------------------------------------------------------------
# ValueCompass


def test_compass_survey_authors(seed_text: Callable[[str, int], str]) -> None:
    seed = seed_text(SURVEY, 8)

    @FUZZ
    @given(damaged_csv(seed, "Honest"))
    def run(data: bytes) -> None:
        with written("human_S2_Healthcare.csv", data) as path:
            check_import("ValueCompass load_survey (authors)", lambda: load_survey(path))

    run()


@FUZZ
@given(damaged_csv(SURVEY_TIDY, "answer"), st.sampled_from(["survey.csv", "survey.parquet"]))
def test_compass_survey_tidy(data: bytes, name: str) -> None:
    with written(name, data) as path:
        check_import("ValueCompass load_survey (tidy)", lambda: load_survey(path))


def test_compass_llm_authors(seed_text: Callable[[str, int], str]) -> None:
    seed = seed_text(LLM_ANSWERS, 3)

    @FUZZ
    @given(damaged_csv(seed, "evaluation_0"))
    def run(data: bytes) -> None:
        with written(Path(LLM_ANSWERS).name, data) as path:
            check_import(
                "ValueCompass load_compass_answers (authors)",
                lambda: load_compass_answers(path),
            )

    run()


@FUZZ
@given(
    damaged_csv(LLM_TIDY, "likert"), st.sampled_from(["answers.csv", "answers.parquet", "a.jsonl"])
)
def test_compass_llm_tidy(data: bytes, name: str) -> None:
    with written(name, data) as path:
        check_import("ValueCompass load_compass_answers (tidy)", lambda: load_compass_answers(path))


# ---------------------------------------------------------------------------------------------
# Taxonomy, scenarios, aliases


_TAXONOMY_SEED = yaml.safe_load(builtin_text("valuelens.taxonomy", "taxonomy.yaml"))
_SCENARIO_SEED = yaml.safe_load(builtin_text("valuelens.data", "scenarios.yaml"))
_ALIAS_SEED = yaml.safe_load(builtin_text("valuelens.data", "value_aliases.yaml"))


@FUZZ
@given(
    st.one_of(
        mutated_tree(_TAXONOMY_SEED).map(lambda d: (d, "taxonomy.yaml")),
        mutated_tree(TAXONOMY_EXTENSION).map(lambda d: (d, "mine.yaml")),
        mutated_tree(TAXONOMY_EXTENSION, "json").map(lambda d: (d, "mine.json")),
    ),
    st.booleans(),
)
def test_taxonomy_file(file: tuple[bytes, str], replace: bool) -> None:
    data, name = file
    with written(name, data) as path:
        check_import("taxonomy load_taxonomy", lambda: load_taxonomy(path, replace=replace))


@FUZZ
@given(mutated_tree(_SCENARIO_SEED), st.booleans())
def test_scenario_file(data: bytes, replace: bool) -> None:
    with written("scenarios.yaml", data) as path:
        check_import("scenarios load_scenarios", lambda: load_scenarios(path, replace=replace))


@FUZZ
@given(mutated_tree(_ALIAS_SEED))
def test_alias_file(data: bytes) -> None:
    with written("aliases.yaml", data) as path:
        check_import("aliases load_value_aliases", lambda: load_value_aliases(path))


# ---------------------------------------------------------------------------------------------
# Template folders (prompts/_templates.py: owned by H3; failures are reported)

_BUILTIN_TEMPLATES = resources.files("valuelens.prompts").joinpath("templates")
_TEMPLATE_FILES = sorted(
    f"{task.name}/{f.name}"
    for task in _BUILTIN_TEMPLATES.iterdir()
    if task.is_dir()
    for f in task.iterdir()
    if f.name.endswith(".jinja")
)


@FUZZ
@given(
    st.sampled_from(_TEMPLATE_FILES).flatmap(
        lambda name: st.tuples(
            st.just(name),
            mutated_template(_BUILTIN_TEMPLATES.joinpath(name).read_text("utf-8")),
            st.sampled_from(["edit", "edit", "edit", "delete", "directory"]),
        )
    )
)
def test_template_folder(case: tuple[str, bytes, str]) -> None:
    name, data, how = case
    with tempfile.TemporaryDirectory(prefix="vl-fuzz-") as folder:
        root = Path(folder) / "templates"
        with resources.as_file(_BUILTIN_TEMPLATES) as builtin:
            shutil.copytree(builtin, root)
        target = root / name
        if how == "delete":
            target.unlink()
        elif how == "directory":
            target.unlink()
            target.mkdir()
        else:
            target.write_bytes(data)
        check_import("templates load_templates", lambda: load_templates(root))


# ---------------------------------------------------------------------------------------------
# Predictions


def test_predictions_authors(seed_text: Callable[[str, int], str]) -> None:
    seed = seed_text(PREDICTIONS, 20)

    @FUZZ
    @given(damaged_csv(seed, "result"))
    def run(data: bytes) -> None:
        with written(Path(PREDICTIONS).name, data) as path:
            check_import("predictions load_predictions (authors)", lambda: load_predictions(path))

    run()


@FUZZ
@given(
    damaged_csv(PREDICTIONS_TIDY, "predicted"), st.sampled_from(["p.csv", "predictions.parquet"])
)
def test_predictions_tidy(data: bytes, name: str) -> None:
    with written(name, data) as path:
        check_import("predictions load_predictions (tidy)", lambda: load_predictions(path))
