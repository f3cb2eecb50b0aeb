"""Loading and rendering the Jinja2 prompt templates (built-in or from a user's folder)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any, Literal

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from valuelens._errors import ValuelensError
from valuelens.prompts._variants import (
    ACTION_VARIANTS,
    GENERATE_VARIANTS,
    N_VARIANTS,
    PREDICT_SETTINGS,
    STATED_VARIANTS,
    TASK_NAMES,
    TaskName,
    predict_setting_context,
)

SUFFIX = ".jinja"
_BLANK_RUNS = re.compile(r"\n{3,}")
DIGIT_TEMPLATE = "digit"


def variant_template(variant_id: int) -> str:
    """The template name of one variant (`variant_3`)."""
    return f"variant_{variant_id}"


_VARIANT_TEMPLATES = tuple(variant_template(i) for i in range(N_VARIANTS))
REQUIRED_TEMPLATES: dict[TaskName, tuple[str, ...]] = {
    "generate": _VARIANT_TEMPLATES,
    "stated": (*_VARIANT_TEMPLATES, DIGIT_TEMPLATE),
    "action": (*_VARIANT_TEMPLATES, DIGIT_TEMPLATE),
}

# Tasks whose templates are not prompt variants. A user's folder without their subfolder still
# loads (with `tasks=None`, only the subfolders present are added); asked for by name, their
# files are required like any other.
TemplateTask = Literal["generate", "stated", "action", "predict"]
PREDICT_TEMPLATE = "observer"
OPTIONAL_TEMPLATES: dict[TemplateTask, tuple[str, ...]] = {"predict": (PREDICT_TEMPLATE,)}
TEMPLATE_TASKS: tuple[TemplateTask, ...] = (*TASK_NAMES, *OPTIONAL_TEMPLATES)
_TEMPLATE_FILES: dict[TemplateTask, tuple[str, ...]] = {
    **{task: REQUIRED_TEMPLATES[task] for task in TASK_NAMES},
    **OPTIONAL_TEMPLATES,
}


@dataclass(frozen=True)
class TemplateSet:
    """Validated prompt templates for some tasks, ready to render.

    Attributes:
        source: `built-in` or the folder the templates came from.
        tasks: the tasks this set holds templates for.
    """

    source: str
    tasks: tuple[TemplateTask, ...]
    _environment: jinja2.Environment = field(repr=False)

    def render(self, task: TemplateTask, template: str, context: Mapping[str, Any]) -> str:
        """Render one template (`variant_3`, `digit`, `observer`) of a task to prompt text.

        Raises:
            ValuelensError: the set has no templates for this task, or rendering failed.
        """
        if task not in self.tasks:
            raise ValuelensError(f"the templates from {self.source} do not cover the {task} task")
        path = _relative_path(task, template)
        try:
            text = self._environment.get_template(path).render(**context)
        except Exception as exc:  # a user's template is code we do not control
            raise ValuelensError(f"template {path} ({self.source}): {_describe(exc)}") from None
        return tidy_text(text)


def tidy_text(text: str) -> str:
    """Drop trailing spaces, collapse runs of blank lines into one, strip both ends.

    Templates may then use macros and blocks freely without counting newlines.
    """
    lines = [line.rstrip() for line in text.splitlines()]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def _describe(error: Exception) -> str:
    if isinstance(error, jinja2.TemplateSyntaxError):
        where = f"{error.name} " if error.name else ""
        return f"{where}line {error.lineno}: {error.message}"
    if isinstance(error, jinja2.TemplateNotFound):
        return f"cannot find {error.message}"
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"{message} (the variables a template receives are listed in valuelens.prompts)"


def load_templates(
    directory: str | Path | None = None, *, tasks: Iterable[TemplateTask] | None = None
) -> TemplateSet:
    """Load prompt templates and check them all before any request is built.

    Every required file must exist, parse, and render with sample values of the documented
    variables (see `valuelens.prompts`), so a typo fails here with the file's name.

    Args:
        directory: a folder laid out like the built-in one (`generate/`, `stated/`, `action/`,
            each with `variant_0.jinja` ... `variant_7.jinja`, plus `digit.jinja` in `stated/`
            and `action/`); None for the built-in templates. Other files (partials) may sit
            alongside and be included or imported.
        tasks: the tasks to load; None for all three, plus the optional ones (`predict`)
            whose subfolder exists. Only the chosen tasks' files are required.

    Returns:
        The validated set.

    Raises:
        ValuelensError: the folder is missing, files are missing (all listed in one line), or a
            template does not parse or render.
    """
    root, source = _root(directory)
    chosen = _chosen_tasks(tasks, root)
    missing = [
        _relative_path(task, name)
        for task in chosen
        for name in _TEMPLATE_FILES[task]
        if not root.joinpath(task, name + SUFFIX).is_file()
    ]
    if missing:
        raise ValuelensError(
            f"template folder {source} is missing {len(missing)} file(s): {', '.join(missing)}"
        )
    template_set = TemplateSet(source, chosen, _environment(root, sandboxed=directory is not None))
    _check_renders(template_set)
    return template_set


def _chosen_tasks(
    tasks: Iterable[TemplateTask] | None, root: Traversable
) -> tuple[TemplateTask, ...]:
    if tasks is None:
        present = tuple(t for t in OPTIONAL_TEMPLATES if root.joinpath(t).is_dir())
        return (*TASK_NAMES, *present)
    chosen = tuple(dict.fromkeys(tasks))
    unknown = [t for t in chosen if t not in TEMPLATE_TASKS]
    if unknown or not chosen:
        raise ValuelensError(
            f"unknown template task(s) {unknown}; choose from {', '.join(TEMPLATE_TASKS)}"
        )
    return chosen


def _root(directory: str | Path | None) -> tuple[Traversable, str]:
    if directory is None:
        return resources.files("valuelens.prompts").joinpath("templates"), "built-in"
    path = Path(directory).expanduser()
    if not path.is_dir():
        raise ValuelensError(f"template folder not found: {path}")
    return path, str(path)


def _environment(root: Traversable, *, sandboxed: bool) -> jinja2.Environment:
    def load(name: str) -> tuple[str, str, Callable[[], bool]] | None:
        node = root.joinpath(*name.split("/"))
        if not node.is_file():
            return None
        try:
            text = node.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise jinja2.TemplateNotFound(f"{name} (unreadable: {exc})") from None
        return text, name, lambda: True

    # A user's folder may come from anyone (say, a paper's repository), so it runs sandboxed;
    # the built-in templates are ours and render about twice as fast without the sandbox.
    kind = ImmutableSandboxedEnvironment if sandboxed else jinja2.Environment
    return kind(
        loader=jinja2.FunctionLoader(load),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,
    )


def _relative_path(task: str, template: str) -> str:
    return f"{task}/{template}{SUFFIX}"


# Sample values for the eager check; they exercise both branches of every variant flag.
_SAMPLE_VALUE = {"name": "Honest", "type": "Benevolence", "definition": "genuine, sincere"}
_SAMPLE_VALUES = [
    _SAMPLE_VALUE,
    {"name": "Wealth", "type": "Power", "definition": "material possessions, money"},
]


_SAMPLE_ITEM = {
    "action": "I hand back the extra change the cashier gave me by mistake.",
    "attributions": ["hand back the extra change", "by mistake"],
    "explanation": "Returning money that is not mine is the honest thing to do.",
}


def _sample_contexts(task: TemplateTask, template: str) -> list[dict[str, Any]]:
    base = {"country": "Canada", "topic": "Environment", "value": _SAMPLE_VALUE}
    if task == "predict":
        # Every setting, with and without examples (zero-shot is allowed).
        return [
            {
                "setting": predict_setting_context(setting),
                "examples": examples,
                "item": _SAMPLE_ITEM,
            }
            for setting in PREDICT_SETTINGS
            for examples in ([], [{**_SAMPLE_ITEM, "label": True}])
        ]
    if task == "generate":
        variant = GENERATE_VARIANTS[int(template.removeprefix("variant_"))]
        return [
            {**base, "variant": variant.as_context(), "polarity": polarity, "max_words": 50}
            for polarity in ("positive", "negative")
        ]
    if task == "stated":
        variants = (
            STATED_VARIANTS
            if template == DIGIT_TEMPLATE
            else [STATED_VARIANTS[int(template.removeprefix("variant_"))]]
        )
        return [
            {
                **base,
                "variant": v.as_context(),
                "values": _SAMPLE_VALUES,
                "value_names": [s["name"] for s in _SAMPLE_VALUES],
            }
            for v in variants
        ]
    variants_a = (
        ACTION_VARIANTS
        if template == DIGIT_TEMPLATE
        else [ACTION_VARIANTS[int(template.removeprefix("variant_"))]]
    )
    return [
        {
            **base,
            "variant": v.as_context(),
            "option1": "I tell the truth at the town meeting.",
            "option2": "I keep quiet about what I know.",
        }
        for v in variants_a
    ]


def _check_renders(template_set: TemplateSet) -> None:
    for task in template_set.tasks:
        for template in _TEMPLATE_FILES[task]:
            for context in _sample_contexts(task, template):
                if not template_set.render(task, template, context):
                    raise ValuelensError(
                        f"template {_relative_path(task, template)} ({template_set.source}) "
                        "renders to empty text"
                    )
