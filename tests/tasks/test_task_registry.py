"""The task registry: the built-in tasks by name, their factories and template contracts."""

from __future__ import annotations

import pytest

from valuelens._errors import ValuelensError
from valuelens.prompts import TemplateContract, template_tasks
from valuelens.tasks import (
    ActionRecord,
    CompassTask,
    GeneratedAction,
    PredictRecord,
    StatedRecord,
    StatedTask,
    Task,
    get_task,
    register_task,
    select_tasks,
    stated_task,
    task_names,
)


def test_the_built_in_tasks_are_registered_in_order() -> None:
    assert task_names()[:5] == ("generate", "stated", "action", "predict", "compass")
    records = {name: get_task(name).record for name in task_names()[:5]}
    assert records["generate"] is GeneratedAction
    assert records["stated"] is StatedRecord and records["action"] is ActionRecord
    assert records["predict"] is PredictRecord
    assert records["compass"].__name__ == "ValueAnswer"
    for name in task_names()[:5]:
        contract = get_task(name).contract
        assert contract is not None and contract.task == name and name in template_tasks()


def test_a_spec_creates_the_same_task_as_its_factory() -> None:
    spec = get_task("stated")
    made = spec.create(variants="0,2", scoring="generate")
    assert isinstance(made, StatedTask) and isinstance(made, Task)
    direct = stated_task(variants="0,2", scoring="generate")
    assert made.build_requests("Canada", "Environment", "Honest") == direct.build_requests(
        "Canada", "Environment", "Honest"
    )
    assert isinstance(get_task("compass").create(variants="1"), CompassTask)


def test_an_unknown_name_lists_the_registered_ones_in_one_line() -> None:
    with pytest.raises(ValuelensError) as caught:
        get_task("statd")
    message = str(caught.value)
    assert "\n" not in message and "'statd'" in message
    assert "generate, stated, action, predict, compass" in message


def test_select_tasks_reads_a_comma_separated_choice() -> None:
    assert select_tasks("action, stated,action") == ("action", "stated")
    assert select_tasks(["stated"], among=("stated", "action")) == ("stated",)
    with pytest.raises(ValuelensError, match="unknown task 'compass'; choose from stated, action"):
        select_tasks("stated,compass", among=("stated", "action"))
    with pytest.raises(ValuelensError, match="unknown task nothing"):
        select_tasks(" , ")


def test_a_taken_name_or_a_mismatched_contract_is_refused() -> None:
    with pytest.raises(ValuelensError, match="'stated' is already registered"):
        register_task("stated", stated_task, record=StatedRecord)
    contract = TemplateContract("other", ("prompt",), lambda _: [{}])
    with pytest.raises(ValuelensError, match="template contract of 'other'"):
        register_task("mine", stated_task, record=StatedRecord, contract=contract)
    assert "mine" not in task_names() and "other" not in template_tasks()
