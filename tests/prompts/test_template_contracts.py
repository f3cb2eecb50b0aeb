"""Template contracts: `load_templates` checks each task's files against its registered contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from valuelens._errors import ValuelensError
from valuelens.prompts import (
    N_VARIANTS,
    REQUIRED_TEMPLATES,
    load_templates,
    template_contract,
    template_sources,
    template_tasks,
)


def test_the_default_load_is_the_evaluate_tasks_and_predict() -> None:
    assert template_tasks()[:5] == ("generate", "stated", "action", "predict", "compass")
    assert load_templates().tasks == ("generate", "stated", "action", "predict")
    assert set(REQUIRED_TEMPLATES) == {"generate", "stated", "action"}


def test_the_compass_files_load_by_name() -> None:
    compass = load_templates(tasks=["compass"])
    assert compass.tasks == ("compass",)
    expected = {f"compass/variant_{i}" for i in range(N_VARIANTS)}
    assert set(compass.sources) == expected == set(template_sources(None, ["compass"]))
    assert template_contract("compass").variables["scenario"].startswith("mapping")


def test_an_unknown_template_task_names_the_known_ones() -> None:
    with pytest.raises(ValuelensError, match=r"unknown template task\(s\) \['compas'\]; choose"):
        load_templates(tasks=["compas"])


def test_a_user_folder_with_only_compass_files_is_not_a_folder_for_evaluate(
    tmp_path: Path,
) -> None:
    (tmp_path / "compass").mkdir()
    (tmp_path / "compass" / "variant_0.jinja").write_text("{{ country }}", encoding="utf-8")
    with pytest.raises(ValuelensError, match="holds none of the templates"):
        load_templates(tmp_path)
    assert load_templates(tmp_path, tasks=["compass"]).sources["compass/variant_0"] == str(tmp_path)
