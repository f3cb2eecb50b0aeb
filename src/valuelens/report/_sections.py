"""Report sections that other modules add: a registry, and the report's own Jinja environment.

The built-in sections (overview, comparison, heatmaps, ..., ValueCompass) are part of the page
template. Any other analysis plugs in from its own module, without editing the report:

    >>> from valuelens.report import Section, register_section, render_fragment
    >>> def harms(ctx):  # doctest: +SKIP
    ...     rows = [r for r in ctx.runs if r.kind == "harms"]
    ...     return render_fragment(Path(__file__).with_name("harms.html.j2"), runs=rows) if rows else None
    >>> register_section(Section("harms", "Harms", harms, order=600))  # doctest: +SKIP

Registered sections render after the built-in ones, sorted by `order` (then by registration),
each as `<section id=KEY>` with an `<h2>` title and a link in the page's navigation. A section
whose `build` returns None is left out, link included.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, TemplateNotFound
from markupsafe import Markup

from valuelens._errors import ValuelensError
from valuelens.report._figures import Figure
from valuelens.report._format import integer, num, percent
from valuelens.report._load import LoadedRun
from valuelens.taxonomy import Taxonomy

TEMPLATES = Path(__file__).with_name("templates")
"""The report's own templates (`report.html.j2`, the chart macros in `charts.html.j2`)."""
BUILTIN_KEYS = frozenset(
    {"overview", "comparison", "by-scenario", "heatmaps", "rankings", "misalignment"}
    | {"robustness", "items", "compass", "about"}
)
"""HTML ids the page already uses; a registered section may not take one."""


@dataclass(frozen=True)
class SectionContext:
    """What a section's `build` receives."""

    runs: Sequence[LoadedRun]
    """Every run of this report, of any kind (`GenericRun` for kinds the report does not know)."""
    taxonomy: Taxonomy
    figures: list[tuple[str, Figure]]
    """The page's figures: append `(sub-folder, figure)` and `--figures DIR` also writes it as
    `DIR/<sub-folder>/<figure.key>.png` and `.svg` (use `folders[id(run)]` as the sub-folder)."""
    folders: Mapping[int, str]
    """`id(run)` -> a distinct, file-system-safe folder name (for figure names)."""


@dataclass(frozen=True)
class Section:
    """One section of the report page, added by `register_section`."""

    key: str
    """The HTML id and navigation anchor, e.g. `harms`."""
    title: str
    """The heading and navigation label, e.g. `Harms`."""
    build: Callable[[SectionContext], Markup | None]
    """The section's body (already escaped HTML), or None when it has nothing to show."""
    order: int = 500
    """Position among registered sections; the built-in ones sit at 100..400, before them all."""


@dataclass(frozen=True)
class BuiltSection:
    """A registered section as the page template shows it."""

    key: str
    title: str
    html: Markup


_SECTIONS: dict[str, Section] = {}


def register_section(section: Section) -> None:
    """Add a section to every report rendered from now on (a section with the same key is replaced).

    Raises:
        ValuelensError: when the key is empty, not usable as an HTML id, or a built-in section's.
    """
    key = section.key
    if not key or any(c.isspace() for c in key) or key in BUILTIN_KEYS:
        taken = f"; taken by the report: {', '.join(sorted(BUILTIN_KEYS))}" if key else ""
        raise ValuelensError(f"report section key {key!r} is not usable (no spaces{taken})")
    _SECTIONS.pop(key, None)  # a replaced section moves to the end of the registration order
    _SECTIONS[key] = section


def unregister_section(key: str) -> None:
    """Remove a registered section (a key that is not registered is ignored)."""
    _SECTIONS.pop(key, None)


def registered_sections() -> list[Section]:
    """The registered sections in page order (`order`, then registration)."""
    listed = list(_SECTIONS.values())
    return sorted(listed, key=lambda s: (s.order, listed.index(s)))


def build_sections(context: SectionContext) -> list[BuiltSection]:
    """Build every registered section for one page, leaving out those with nothing to show."""
    built = []
    for section in registered_sections():
        html = section.build(context)
        if html is not None:
            built.append(BuiltSection(section.key, section.title, Markup(html)))
    return built


def render_fragment(template: str | Path, /, **context: object) -> Markup:
    """Render a Jinja template with the report's own environment into a piece of the page.

    The environment escapes every value (autoescape), fails on an undefined name
    (StrictUndefined) and has the report's filters `num`, `int`, `pct` and `px`; a template
    can `{% import "charts.html.j2" as ch %}` the report's chart macros.

    Args:
        template: a template file's path (a `Path`, or a string naming an existing file), or
            the name of a template under `valuelens/report/templates`.
        **context: the template's variables.

    Returns:
        the rendered HTML, marked safe so the page does not escape it again.

    Raises:
        ValuelensError: when the template cannot be found.
    """
    if (
        isinstance(template, str)
        and not Path(template).is_absolute()
        and (TEMPLATES / template).is_file()
    ):
        env, name = report_environment(), template
    else:
        path = Path(template)
        if not path.is_file():
            raise ValuelensError(
                f"report template {template} not found (give a file's path or the name of a "
                f"template in {TEMPLATES})"
            )
        env, name = _folder_environment(str(path.resolve().parent)), path.name
    try:
        return Markup(env.get_template(name).render(**context))
    except TemplateNotFound as exc:
        raise ValuelensError(f"report template {template}: cannot find {exc.message}") from None


@functools.cache
def report_environment() -> Environment:
    """The Jinja environment of the report page and its fragments."""
    return _configured(FileSystemLoader(str(TEMPLATES)))


@functools.cache
def _folder_environment(folder: str) -> Environment:
    return _configured(ChoiceLoader([FileSystemLoader(folder), FileSystemLoader(str(TEMPLATES))]))


def _configured(loader: ChoiceLoader | FileSystemLoader) -> Environment:
    env = Environment(
        loader=loader,
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = num
    env.filters["int"] = integer
    env.filters["px"] = lambda x: f"{float(x):.1f}"
    env.filters["pct"] = percent
    return env
