"""`valuelens list`: what the taxonomy, the prompt variants, the backends and the tasks offer.

Each listing prints a table, or with `--json` one JSON document and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.table import Table

from valuelens.cli._console import console
from valuelens.cli._options import LanguagesDirOpt, TaxonomyOpt

if TYPE_CHECKING:
    from valuelens.taxonomy import Taxonomy

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON only (machine-readable).")]
Rows = Sequence[Mapping[str, object]]
_V = TypeVar("_V")


def register(app: typer.Typer) -> None:
    """Add the `list` command group (countries, topics, values, variants, models, tasks, ...)."""
    list_app = typer.Typer(
        name="list",
        help="List countries, topics, values, prompt variants, model backends, tasks or "
        "prompt languages.",
        no_args_is_help=True,
    )
    list_app.command("countries")(countries)
    list_app.command("topics")(topics)
    list_app.command("values")(values)
    list_app.command("variants")(variants)
    list_app.command("models")(models)
    list_app.command("tasks")(tasks)
    list_app.command("languages")(languages)
    app.add_typer(list_app, name="list")


def languages(as_json: JsonOpt = False, languages_dir: LanguagesDirOpt = None) -> None:
    """The prompt languages of `evaluate --language`: English and the language packs."""
    from valuelens.taxonomy import describe_languages

    _show(describe_languages(languages_dir), as_json)


def countries(as_json: JsonOpt = False, taxonomy: TaxonomyOpt = None) -> None:
    """The countries of the active taxonomy, in report order."""
    tax = _taxonomy(taxonomy)
    _show([{"name": c.name, "label": c.label or c.name} for c in tax.countries], as_json)


def topics(as_json: JsonOpt = False, taxonomy: TaxonomyOpt = None) -> None:
    """The topics of the active taxonomy, in report order."""
    tax = _taxonomy(taxonomy)
    _show([{"name": t.name, "label": t.label or t.name} for t in tax.topics], as_json)


def values(as_json: JsonOpt = False, taxonomy: TaxonomyOpt = None) -> None:
    """The values of the active taxonomy with their type and higher-order group."""
    tax = _taxonomy(taxonomy)
    rows = [
        {
            "name": v.name,
            "type": v.type,
            "group": tax.value_group(v.name),
            "definition": v.definition,
        }
        for v in tax.values
    ]
    _show(rows, as_json)


def variants(as_json: JsonOpt = False) -> None:
    """The prompt variants of generation, Task 1 (stated) and Task 2 (action), with their factors."""
    from valuelens.prompts._variants import (
        ACTION_VARIANTS,
        DEFAULT_VARIANTS,
        GENERATE_VARIANTS,
        STATED_VARIANTS,
        ActionVariant,
        GenerateVariant,
        StatedVariant,
    )

    by_task: dict[str, Sequence[GenerateVariant | StatedVariant | ActionVariant]] = {
        "generate": GENERATE_VARIANTS,
        "stated": STATED_VARIANTS,
        "action": ACTION_VARIANTS,
    }
    rows = [
        {"task": task, **asdict(v), "default": v.id in DEFAULT_VARIANTS[task]}  # type: ignore[index]
        for task, listed in by_task.items()
        for v in listed
    ]
    if as_json:
        grouped = {
            task: [_without(r, "task") for r in rows if r["task"] == task] for task in by_task
        }
        print(json.dumps(grouped, ensure_ascii=False, indent=2))
        return
    for task in by_task:
        task_rows = [_without(r, "task") for r in rows if r["task"] == task]
        _table(task_rows, title=f"{task} variants")


def models(as_json: JsonOpt = False) -> None:
    """The model backends on offer: built-in kinds, registered ones and installed plugins."""
    from importlib.metadata import entry_points

    from valuelens.models import registered_backends
    from valuelens.models._registry import ENTRY_POINT_GROUP

    rows: list[dict[str, object]] = [
        {
            "kind": r.kind,
            "spec": r.usage,
            "base_url": r.base_url,
            "pool": r.pool,
            "source": "registered",
        }
        for r in registered_backends()
    ]
    known = {str(row["kind"]) for row in rows}
    plugins = sorted({p.name.lower() for p in entry_points(group=ENTRY_POINT_GROUP)} - known)
    rows += [
        {"kind": k, "spec": f"{k}:MODEL", "base_url": None, "pool": None, "source": "plugin"}
        for k in plugins
    ]
    _show(rows, as_json)


def tasks(as_json: JsonOpt = False) -> None:
    """The registered tasks with their description and record type."""
    from valuelens.tasks import get_task, task_names

    rows = [
        {
            "name": name,
            "description": (spec := get_task(name)).description,
            "record": spec.record.__name__,
        }
        for name in task_names()
    ]
    _show(rows, as_json)


def _taxonomy(path: Path | None) -> Taxonomy:
    from valuelens.taxonomy import load_taxonomy

    return load_taxonomy(path)


def _without(row: Mapping[str, _V], key: str) -> dict[str, _V]:
    return {k: v for k, v in row.items() if k != key}


def _show(rows: Rows, as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        _table(rows)


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else ""
    return "" if value is None else str(value)


def _table(rows: Rows, *, title: str | None = None) -> None:
    table = Table(title=title, title_justify="left")
    for column in rows[0] if rows else []:
        table.add_column(column.replace("_", " "))
    for row in rows:
        table.add_row(*(_cell(v) for v in row.values()))
    console.print(table)
