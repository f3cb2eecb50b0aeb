"""Loading and rendering the Jinja2 prompt templates (built-in or from a user's folder)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from valuelens._errors import ValuelensError
from valuelens.prompts._contracts import (
    BUILT_IN_CONTRACTS,
    TemplateContract,
    template_contract,
    template_tasks,
)
from valuelens.taxonomy import ENGLISH, language_template_roots

SUFFIX = ".jinja"
_BLANK_RUNS = re.compile(r"\n{3,}")

# The files of the three tasks whose templates are prompt variants (a user's folder for
# `evaluate` and `generate` covers these).
REQUIRED_TEMPLATES: dict[str, tuple[str, ...]] = {
    c.task: c.files for c in BUILT_IN_CONTRACTS if c.loading == "always"
}


BUILT_IN = "built-in"


@dataclass(frozen=True)
class TemplateSet:
    """Validated prompt templates for some tasks, ready to render.

    Attributes:
        source: `built-in`, or the user's folder the set was loaded from.
        tasks: the tasks this set holds templates for.
        sources: where each template of those tasks comes from, by name without the suffix
            (`"stated/variant_3"`): the user's folder, or `built-in` for a file the folder
            does not have.
    """

    source: str
    tasks: tuple[str, ...]
    sources: Mapping[str, str] = field(hash=False, repr=False)
    _builtin: jinja2.Environment = field(repr=False)
    _user: jinja2.Environment | None = field(default=None, repr=False)
    language: str = ENGLISH
    language_files: Mapping[str, str] = field(default_factory=dict, hash=False, repr=False)
    """For a prompt language other than English: each translated file found (`stated/_parts`)
    and the folder it came from."""

    def render(self, task: str, template: str, context: Mapping[str, object]) -> str:
        """Render one template (`variant_3`, `digit`, `observer`) of a task to prompt text.

        A user's template is sent as Jinja renders it (see `valuelens.prompts`); a built-in one
        is tidied with `tidy_text`.

        Raises:
            ValuelensError: the set has no templates for this task, or rendering failed.
        """
        if task not in self.tasks:
            raise ValuelensError(f"the templates from {self.source} do not cover the {task} task")
        origin = self.sources.get(f"{task}/{template}", BUILT_IN)
        environment = self._builtin if origin == BUILT_IN or self._user is None else self._user
        path = _relative_path(task, template)
        try:
            text = environment.get_template(path).render(**context)
        except Exception as exc:  # a user's template is code we do not control
            raise ValuelensError(f"template {path} ({origin}): {_describe(exc)}") from None
        return tidy_text(text) if origin == BUILT_IN else text

    def sources_of(self, tasks: Iterable[str]) -> dict[str, str]:
        """`sources` restricted to some tasks (names outside the set are left out)."""
        chosen = set(tasks)
        return {name: where for name, where in self.sources.items() if name.split("/")[0] in chosen}


def template_sources(templates: TemplateSet | None, tasks: Iterable[str]) -> dict[str, str]:
    """Where each template of `tasks` comes from: a user's folder or `built-in`.

    Args:
        templates: the set a run used; None for the built-in templates.
        tasks: the tasks the run used (names that are not template tasks are ignored).

    Returns:
        A mapping such as `{"stated/variant_0": "/path/to/folder", "action/digit": "built-in"}`.
    """
    if templates is not None:
        return templates.sources_of(tasks)
    chosen = [task for task in dict.fromkeys(tasks) if task in template_tasks()]
    return {name: BUILT_IN for name in _template_names(chosen)}


def tidy_text(text: str) -> str:
    """Drop trailing spaces, collapse runs of blank lines into one, strip both ends.

    Applied to the built-in templates only, so they may use macros and blocks freely without
    counting newlines; a user's templates are sent as written.
    """
    lines = [line.rstrip() for line in text.splitlines()]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def _describe(error: Exception) -> str:
    if isinstance(error, jinja2.TemplateSyntaxError):
        where = f"{error.name} " if error.name else ""
        return f"{where}line {error.lineno}: {error.message}"
    if isinstance(error, jinja2.TemplateNotFound):
        name = str(error.message).replace("\r", "\\r").replace("\n", "\\n")
        return f"cannot find {name}"
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"{message} (the variables a template receives are listed in valuelens.prompts)"


def load_templates(
    directory: str | Path | None = None,
    *,
    tasks: Iterable[str] | None = None,
    language: str = ENGLISH,
    languages_dir: str | Path | None = None,
) -> TemplateSet:
    """Load prompt templates and check them all before any request is built.

    A user's folder needs only the templates it changes: every other one comes from the built-in
    set, and `TemplateSet.sources` records which came from where. Every template of the chosen
    tasks must parse and render with sample values of the documented variables (see
    `valuelens.prompts`), so a typo fails here with the file's name.

    Args:
        directory: a folder laid out like the built-in one (`generate/`, `stated/`, `action/`,
            each with some of `variant_0.jinja` ... `variant_7.jinja`, and `digit.jinja` in
            `stated/` and `action/`); None for the built-in templates. Other files (partials)
            may sit alongside and be included or imported; so may the built-in partials
            (`{% import "stated/_parts.jinja" as parts %}`) when the folder has no file of
            that name.
        tasks: the tasks to load (any task with a registered template contract, see
            `valuelens.tasks.task_names`); None for the three above, plus the optional ones
            (`predict`) whose subfolder exists (among the built-in files, or in the user's
            folder). Other tasks (`compass`, and most added ones) load only by name.
        language: a prompt language code (see `valuelens.taxonomy.load_language`): a name
            is looked up in `<languages_dir>/_lang/<code>/` first, then in the built-in
            `_lang/<code>/`, then among the English files; the user's `directory` still wins.
            Task 1 and Task 2 need translated `_parts.jinja` there.
        languages_dir: a user's folder of language packs and `_lang/<code>/` templates.

    Returns:
        The validated set.

    Raises:
        ValuelensError: the folder is missing, holds none of the chosen tasks' templates (all
            listed in one line), or a template does not parse or render.
    """
    lang_roots = _language_roots(language, languages_dir)
    # A user's translated templates run sandboxed like any user's folder.
    lang_sandbox = bool(lang_roots) and _user_language_root(language, languages_dir) is not None
    if directory is None:
        chosen = _chosen_tasks(tasks, None)
        builtin_roots = [*lang_roots, *_builtin_roots(chosen)]
        builtin = _environment(builtin_roots, sandboxed=lang_sandbox)
        sources = {name: BUILT_IN for name in _template_names(chosen)}
        template_set = TemplateSet(BUILT_IN, chosen, sources, builtin)
    else:
        root, source = _user_root(directory)
        chosen = _chosen_tasks(tasks, root)
        builtin_roots = [*lang_roots, *_builtin_roots(chosen)]
        builtin = _environment(builtin_roots, sandboxed=lang_sandbox)
        sources = {
            name: source if root.joinpath(name + SUFFIX).is_file() else BUILT_IN
            for name in _template_names(chosen)
        }
        if all(where == BUILT_IN for where in sources.values()):
            raise ValuelensError(
                f"template folder {source} holds none of the templates of the "
                f"{', '.join(chosen)} task(s); it is missing {_listed(sources)}"
            )
        # A user's folder may come from anyone (say, a paper's repository), so it runs sandboxed;
        # the built-in templates are ours and render about twice as fast without the sandbox.
        user = _environment([root, *builtin_roots], sandboxed=True)
        template_set = TemplateSet(source, chosen, sources, builtin, user)
    if language != ENGLISH:
        files = _language_files(language, lang_roots, chosen)
        template_set = replace(template_set, language=language, language_files=files)
    _check_renders(template_set)
    return template_set


# The tasks whose prose a language must translate; their variant files only arrange macros.
_TRANSLATED_TASKS = ("stated", "action")
_TRANSLATED_FILES = ("_parts", "digit")


def _language_roots(language: str, languages_dir: str | Path | None) -> list[Traversable | Path]:
    if language == ENGLISH:
        return []
    return language_template_roots(language, languages_dir)


def _user_language_root(language: str, languages_dir: str | Path | None) -> Path | None:
    if languages_dir is None:
        return None
    root = Path(languages_dir).expanduser() / "_lang" / language
    return root if root.is_dir() else None


def _language_files(
    language: str, roots: Sequence[Traversable | Path], tasks: Iterable[str]
) -> dict[str, str]:
    """The translated files found for `tasks`, with their folder.

    Raises:
        ValuelensError: Task 1 or Task 2 is asked for but the language has no `_parts.jinja`
            for it (its prompts would otherwise be English text with translated names).
    """
    found: dict[str, str] = {}
    for task in tasks:
        for name in (*_TRANSLATED_FILES, *template_contract(task).files):
            where = next((r for r in roots if r.joinpath(task, name + SUFFIX).is_file()), None)
            if where is not None:
                label = BUILT_IN if _is_builtin(where) else str(where)
                found.setdefault(f"{task}/{name}", label)
        if task in _TRANSLATED_TASKS and f"{task}/_parts" not in found:
            raise ValuelensError(
                f"prompt language {language!r} has no translated {task} templates "
                f"(looked for _lang/{language}/{task}/_parts{SUFFIX} in the languages folder "
                "and among the built-in templates)"
            )
    return found


def _listed(names: Iterable[str], shown: int = 4) -> str:
    files = [name + SUFFIX for name in names]
    more = f" and {len(files) - shown} more" if len(files) > shown else ""
    return f"{len(files)} file(s): {', '.join(files[:shown])}{more}"


def _template_names(tasks: Iterable[str]) -> list[str]:
    return [f"{task}/{name}" for task in tasks for name in template_contract(task).files]


def _chosen_tasks(tasks: Iterable[str] | None, root: Path | None) -> tuple[str, ...]:
    """The tasks to load; `root` is the user's folder (None: the built-in templates)."""
    if tasks is None:
        return tuple(
            c.task
            for c in map(template_contract, template_tasks())
            if c.loading == "always" or (c.loading == "if_present" and _present(c, root))
        )
    chosen = tuple(dict.fromkeys(tasks))
    unknown = [t for t in chosen if t not in template_tasks()]
    if unknown or not chosen:
        raise ValuelensError(
            f"unknown template task(s) {unknown}; choose from {', '.join(template_tasks())}"
        )
    return chosen


def _present(contract: TemplateContract, root: Path | None) -> bool:
    """Whether the task's subfolder exists in the user's folder, or among its default files."""
    where = root if root is not None else contract.root or _builtin_root()
    return where.joinpath(contract.task).is_dir()


def _is_builtin(root: Traversable | Path) -> bool:
    return str(root).startswith(str(_builtin_root()))


def _builtin_root() -> Traversable:
    return resources.files("valuelens.prompts").joinpath("templates")


def _builtin_roots(tasks: Iterable[str]) -> list[Traversable | Path]:
    """The package's templates, then the default folders of added tasks (in task order)."""
    extra = [template_contract(task).root for task in tasks]
    return [_builtin_root(), *dict.fromkeys(root for root in extra if root is not None)]


def _user_root(directory: str | Path) -> tuple[Path, str]:
    path = Path(directory).expanduser().absolute()  # never the word `built-in`
    if not path.is_dir():
        raise ValuelensError(f"template folder not found: {path}")
    return path, str(path)


def _environment(roots: list[Traversable | Path], *, sandboxed: bool) -> jinja2.Environment:
    """An environment that finds a template in the first root holding it.

    Templates are read as UTF-8 (a byte-order mark is dropped). Jinja's own rules apply and are
    the only changes to a user's text: a line holding only a `{% ... %}` tag leaves nothing
    behind (`trim_blocks`, `lstrip_blocks`), Windows line endings become LF, and the one newline
    that ends a file is dropped (`keep_trailing_newline=False`), so a prompt can end without
    a newline in a file that ends with one.
    """

    def loader(root: Traversable | Path) -> jinja2.FunctionLoader:
        def load(name: str) -> tuple[str, str, Callable[[], bool]] | None:
            node = root.joinpath(*name.split("/"))
            if not node.is_file():
                return None
            try:
                text = node.read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as exc:
                raise jinja2.TemplateNotFound(f"{name} (unreadable: {exc})") from None
            return text, name, lambda: True

        return jinja2.FunctionLoader(load)

    kind = _BoundedSandbox if sandboxed else jinja2.Environment
    return kind(
        loader=jinja2.ChoiceLoader([loader(root) for root in roots]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,
    )


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox, with `*` and `**` bounded so a template cannot exhaust memory or CPU.

    Jinja's sandbox limits `range` but not repetition: `{{ "x" * 10**10 }}` would allocate
    10 GB while the folder is checked.
    """

    intercepted_binops = frozenset({"*", "**"})
    max_length = 1_000_000
    max_exponent = 1_000

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """Refuse a repetition longer than `max_length` or a power above `max_exponent`."""
        if operator == "**" and isinstance(right, int | float) and abs(right) > self.max_exponent:
            raise SecurityError(f"the exponent {right} is too large for a template")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                repeated = isinstance(seq, str | list | tuple) and isinstance(times, int)
                if repeated and len(seq) * times > self.max_length:
                    raise SecurityError(
                        f"repeating a value {times} times is too long for a template"
                    )
        return super().call_binop(context, operator, left, right)


def _relative_path(task: str, template: str) -> str:
    return f"{task}/{template}{SUFFIX}"


def _check_renders(template_set: TemplateSet) -> None:
    for task in template_set.tasks:
        contract = template_contract(task)
        for template in contract.files:
            origin = template_set.sources.get(f"{task}/{template}", BUILT_IN)
            for context in contract.samples(template):
                if not template_set.render(task, template, context).strip():
                    raise ValuelensError(
                        f"template {_relative_path(task, template)} ({origin}) "
                        "renders to empty text"
                    )
