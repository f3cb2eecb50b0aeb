"""A template set compiles each file once: rendering thousands of prompts compiles nothing.

The spy counts Jinja's own `Environment._compile` (the step that turns generated Python source
into code) and leaves its behaviour untouched.
"""

import jinja2
import pytest

from valuelens.prompts import load_templates
from valuelens.prompts._contracts import template_contract


@pytest.fixture
def compiled(monkeypatch):
    names: list[str] = []
    real = jinja2.Environment._compile

    def counting(self, source, filename):
        names.append(filename)
        return real(self, source, filename)

    monkeypatch.setattr(jinja2.Environment, "_compile", counting)
    return names


def test_loading_compiles_each_file_once_and_rendering_compiles_nothing(compiled):
    templates = load_templates(tasks=("stated", "action"))
    files = [f"{task}/{name}" for task in ("stated", "action") for name in ("_parts", "digit")]
    files += [f"{task}/variant_{i}" for task in ("stated", "action") for i in range(8)]
    assert sorted(compiled) == sorted(f"{name}.jinja" for name in files)
    compiled.clear()
    for task in ("stated", "action"):
        contract = template_contract(task)
        for name in contract.files:
            context = contract.samples(name)[0]
            first = templates.render(task, name, context)
            for _ in range(50):
                assert templates.render(task, name, context) == first
    assert compiled == []


def test_a_user_folder_compiles_its_file_once(tmp_path, compiled):
    (tmp_path / "action").mkdir()
    (tmp_path / "action" / "variant_0.jinja").write_text(
        "Pick one: 1) {{ option1 }} 2) {{ option2 }}", encoding="utf-8"
    )
    templates = load_templates(tmp_path, tasks=("action",))
    compiled.clear()
    context = template_contract("action").samples("variant_0")[0]
    for _ in range(100):
        templates.render("action", "variant_0", context)
    assert compiled == []
