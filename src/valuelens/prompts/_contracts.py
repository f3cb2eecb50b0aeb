"""Template contracts: which template files a task needs and the variables each one receives.

`load_templates` checks a folder against the contracts registered here, rendering every file
with its contract's sample contexts, so a typo or an unknown variable fails before any request
is built. The built-in tasks' contracts are registered below; a new task brings its own with
`valuelens.tasks.register_task` (which calls `register_template_contract`).

Example:
    >>> from valuelens.prompts._contracts import template_contract
    >>> template_contract("stated").files[-1]
    'digit'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.abc import Traversable
from pathlib import Path
from typing import Literal

from valuelens._errors import ValuelensError
from valuelens.prompts._variants import (
    ACTION_VARIANTS,
    GENERATE_VARIANTS,
    N_VARIANTS,
    PREDICT_SETTINGS,
    STATED_VARIANTS,
    predict_setting_context,
)

DIGIT_TEMPLATE = "digit"
PREDICT_TEMPLATE = "observer"

Loading = Literal["always", "if_present", "by_name"]
"""When `load_templates(tasks=None)` includes a task: always; when its subfolder exists (in
the user's folder, or among the built-in files); or only when the task is asked for by name."""

SampleContexts = Callable[[str], Sequence[Mapping[str, object]]]
"""Sample template contexts for one template file of a task (its name without the suffix)."""


def variant_template(variant_id: int) -> str:
    """The template name of one variant (`variant_3`)."""
    return f"variant_{variant_id}"


def variant_id(template: str) -> int:
    """The variant id of a variant template's name (`variant_3` -> 3)."""
    return int(template.removeprefix("variant_"))


VARIANT_TEMPLATES = tuple(variant_template(i) for i in range(N_VARIANTS))


@dataclass(frozen=True)
class TemplateContract:
    """What a task asks of a template folder.

    Attributes:
        task: the task's name, also the subfolder its templates live in.
        files: the template names it needs (without the `.jinja` suffix).
        samples: sample contexts for one file; every file must render non-empty text with
            each of them (they should exercise every branch a template may take).
        variables: the variables a template receives, by name, with a short description.
        loading: when `load_templates` without `tasks` includes this task (see `Loading`).
        root: a folder holding `<task>/<file>.jinja` defaults for a task whose templates do not
            ship with valuelens; None for the built-in templates.
    """

    task: str
    files: tuple[str, ...]
    samples: SampleContexts = field(repr=False)
    variables: Mapping[str, str] = field(default_factory=dict, repr=False)
    loading: Loading = "by_name"
    root: Traversable | Path | None = None


_CONTRACTS: dict[str, TemplateContract] = {}


def register_template_contract(contract: TemplateContract, *, replace: bool = False) -> None:
    """Add a task's template contract, so `load_templates` can check its files.

    Args:
        contract: the contract.
        replace: allow replacing a different contract registered under the same task name.

    Raises:
        ValuelensError: a different contract is already registered for this task, or the
            contract lists no files.
    """
    if not contract.files:
        raise ValuelensError(f"the template contract of task {contract.task!r} lists no files")
    known = _CONTRACTS.get(contract.task)
    if known is not None and known is not contract and not replace:
        raise ValuelensError(f"task {contract.task!r} already has a template contract")
    _CONTRACTS[contract.task] = contract


def unregister_template_contract(task: str) -> None:
    """Remove a task's contract (nothing happens for an unknown name)."""
    _CONTRACTS.pop(task, None)


def template_contract(task: str) -> TemplateContract:
    """The contract of one task.

    Raises:
        ValuelensError: no contract is registered under that name.
    """
    try:
        return _CONTRACTS[task]
    except KeyError:
        raise ValuelensError(
            f"unknown template task {task!r}; choose from {', '.join(_CONTRACTS)}"
        ) from None


def template_tasks() -> tuple[str, ...]:
    """The names of the tasks with a template contract, in registration order."""
    return tuple(_CONTRACTS)


# ---- Sample values for the built-in contracts; they exercise both branches of every flag. ----
_SAMPLE_VALUE = {"name": "Honest", "type": "Benevolence", "definition": "genuine, sincere"}
_SAMPLE_VALUES = [
    _SAMPLE_VALUE,
    {"name": "Wealth", "type": "Power", "definition": "material possessions, money"},
]
_BASE = {"country": "Canada", "topic": "Environment", "value": _SAMPLE_VALUE}
_SAMPLE_ITEM = {
    "action": "I hand back the extra change the cashier gave me by mistake.",
    "attributions": ["hand back the extra change", "by mistake"],
    "explanation": "Returning money that is not mine is the honest thing to do.",
}
_SAMPLE_SCENARIO = {
    "name": "Healthcare",
    "vignette": "A hospital uses you to decide which patients a nurse sees first.",
}


def _generate_samples(template: str) -> list[dict[str, object]]:
    variant = GENERATE_VARIANTS[variant_id(template)]
    return [
        {**_BASE, "variant": variant.as_context(), "polarity": polarity, "max_words": 50}
        for polarity in ("positive", "negative")
    ]


def _stated_samples(template: str) -> list[dict[str, object]]:
    variants = (
        STATED_VARIANTS if template == DIGIT_TEMPLATE else [STATED_VARIANTS[variant_id(template)]]
    )
    return [
        {
            **_BASE,
            "variant": v.as_context(),
            "values": _SAMPLE_VALUES,
            "value_names": [s["name"] for s in _SAMPLE_VALUES],
        }
        for v in variants
    ]


def _action_samples(template: str) -> list[dict[str, object]]:
    variants = (
        ACTION_VARIANTS if template == DIGIT_TEMPLATE else [ACTION_VARIANTS[variant_id(template)]]
    )
    return [
        {
            **_BASE,
            "variant": v.as_context(),
            "option1": "I tell the truth at the town meeting.",
            "option2": "I keep quiet about what I know.",
        }
        for v in variants
    ]


def _predict_samples(template: str) -> list[dict[str, object]]:
    # Every setting, with and without examples (zero-shot is allowed).
    return [
        {"setting": predict_setting_context(setting), "examples": examples, "item": _SAMPLE_ITEM}
        for setting in PREDICT_SETTINGS
        for examples in ([], [{**_SAMPLE_ITEM, "label": True}])
    ]


def _compass_samples(template: str) -> list[dict[str, object]]:
    # One value without a definition, since a custom taxonomy may leave one out.
    values = [*_SAMPLE_VALUES, {"name": "Daring", "type": "Stimulation", "definition": ""}]
    return [
        {
            "country": "Canada",
            "scenario": _SAMPLE_SCENARIO,
            "variant": STATED_VARIANTS[variant_id(template)].as_context(),
            "values": values,
            "value_names": [v["name"] for v in values],
        }
    ]


_COMMON = {
    "country": "str",
    "topic": "str",
    "variant": "mapping: the variant's id and design factors",
}
BUILT_IN_CONTRACTS = (
    TemplateContract(
        "generate",
        VARIANT_TEMPLATES,
        _generate_samples,
        {**_COMMON, "value": "mapping", "polarity": "positive or negative", "max_words": "int"},
        loading="always",
    ),
    TemplateContract(
        "stated",
        (*VARIANT_TEMPLATES, DIGIT_TEMPLATE),
        _stated_samples,
        {
            **_COMMON,
            "values": "list of values (variant files)",
            "value_names": "list of str, the JSON keys (variant files)",
            "value": "the one value asked about (digit)",
        },
        loading="always",
    ),
    TemplateContract(
        "action",
        (*VARIANT_TEMPLATES, DIGIT_TEMPLATE),
        _action_samples,
        {**_COMMON, "value": "mapping", "option1": "str", "option2": "str"},
        loading="always",
    ),
    TemplateContract(
        "predict",
        (PREDICT_TEMPLATE,),
        _predict_samples,
        {
            "setting": "mapping: name, attribution (bool), explanation (bool)",
            "examples": "list of items, each with a `label` (bool)",
            "item": "mapping: action, attributions (list of str), explanation",
        },
        loading="if_present",
    ),
    TemplateContract(
        "compass",
        VARIANT_TEMPLATES,
        _compass_samples,
        {
            "country": "str",
            "scenario": "mapping: name, vignette",
            "variant": "mapping: a Task 1 variant (framing, order, ending)",
            "values": "list of values (a definition may be empty)",
            "value_names": "list of str, the JSON keys",
        },
        loading="by_name",
    ),
)
for _contract in BUILT_IN_CONTRACTS:
    register_template_contract(_contract)
