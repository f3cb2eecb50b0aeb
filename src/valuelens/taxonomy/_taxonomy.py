from __future__ import annotations

import difflib
import json
import re
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from valuelens._errors import UnknownNameError, ValuelensError

_SPACES = re.compile(r"\s+")
Axis = Literal["country", "topic", "value"]


def normalize_name(name: str) -> str:
    """Collapse runs of whitespace and strip the ends; names are otherwise matched exactly."""
    return _SPACES.sub(" ", str(name)).strip()


class _Named(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str

    @model_validator(mode="after")
    def _clean(self) -> _Named:
        object.__setattr__(self, "name", normalize_name(self.name))
        return self


class Value(_Named):
    """One value with its motivational type and a short definition."""

    type: str = ""
    definition: str = ""


class Country(_Named):
    """A country with a short label for figures."""

    label: str = ""


class Topic(_Named):
    """A social topic with a short label for figures."""

    label: str = ""


class Taxonomy(BaseModel):
    """The three axes of the design. Order is meaningful: it is the order of reports and prompts."""

    model_config = ConfigDict(frozen=True)
    version: str = "custom"
    values: tuple[Value, ...] = Field(min_length=1)
    countries: tuple[Country, ...] = Field(min_length=1)
    topics: tuple[Topic, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Taxonomy:
        for axis, items in (
            ("value", self.values),
            ("country", self.countries),
            ("topic", self.topics),
        ):
            names = [item.name for item in items]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"duplicate {axis} names: {', '.join(dupes)}")
        return self

    @cached_property
    def value_names(self) -> list[str]:
        """Value names in taxonomy order."""
        return [v.name for v in self.values]

    @cached_property
    def country_names(self) -> list[str]:
        """Country names in taxonomy order."""
        return [c.name for c in self.countries]

    @cached_property
    def topic_names(self) -> list[str]:
        """Topic names in taxonomy order."""
        return [t.name for t in self.topics]

    def names(self, axis: Axis) -> list[str]:
        """Names along one axis (`country`, `topic` or `value`)."""
        return {
            "country": self.country_names,
            "topic": self.topic_names,
            "value": self.value_names,
        }[axis]

    def resolve(self, axis: Axis, name: str) -> str:
        """Return the canonical name, or raise a one-line error that lists close matches."""
        known = self.names(axis)
        cleaned = normalize_name(name)
        if cleaned in known:
            return cleaned
        close = difflib.get_close_matches(cleaned, known, n=3, cutoff=0.6)
        if not close:
            folded = {k.casefold(): k for k in known}
            close = [folded[cleaned.casefold()]] if cleaned.casefold() in folded else []
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownNameError(f"unknown {axis} {name!r}{hint}")

    def resolve_country(self, name: str) -> str:
        """Canonical country name (see `resolve`)."""
        return self.resolve("country", name)

    def resolve_topic(self, name: str) -> str:
        """Canonical topic name (see `resolve`)."""
        return self.resolve("topic", name)

    def resolve_value(self, name: str) -> str:
        """Canonical value name (see `resolve`)."""
        return self.resolve("value", name)

    def resolve_many(self, axis: Axis, names: str | list[str] | None) -> list[str]:
        """Resolve a comma-separated string or a list; None or "all" selects everything."""
        if names is None or (isinstance(names, str) and names.strip().lower() in {"", "all"}):
            return self.names(axis)
        items = names.split(",") if isinstance(names, str) else names
        return [self.resolve(axis, n) for n in items if normalize_name(n)]

    def label(self, axis: Literal["country", "topic"], name: str) -> str:
        """Short label for figures, falling back to the name."""
        items = self.countries if axis == "country" else self.topics
        return next((i.label or i.name for i in items if i.name == name), name)

    def value_type(self, name: str) -> str:
        """Motivational type of a value ('' when unknown)."""
        return next((v.type for v in self.values if v.name == name), "")

    def extended(self, other: dict[str, Any], *, replace: bool = False) -> Taxonomy:
        """A new taxonomy with `other`'s axes added (or, with `replace`, substituted)."""
        data = self.model_dump()
        for axis in ("values", "countries", "topics"):
            if axis not in other:
                continue
            if replace:
                data[axis] = other[axis]
            else:
                existing = {normalize_name(i["name"]) for i in data[axis]}
                data[axis] = list(data[axis]) + [
                    i for i in _as_items(other[axis]) if normalize_name(i["name"]) not in existing
                ]
        data["version"] = other.get("version", f"{self.version}+custom")
        return _validated(data, "the merged taxonomy")


def _as_items(items: list[Any]) -> list[dict[str, Any]]:
    return [{"name": i} if isinstance(i, str) else dict(i) for i in items]


def _validated(data: dict[str, Any], source: str) -> Taxonomy:
    for axis in ("values", "countries", "topics"):
        if axis in data:
            data[axis] = _as_items(data[axis])
    try:
        return Taxonomy.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValuelensError(f"invalid taxonomy in {source}: {where}: {first['msg']}") from None


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValuelensError(f"cannot read taxonomy file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ValuelensError(f"taxonomy file {path} is not UTF-8 text") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ValuelensError(f"taxonomy file {path} is not valid YAML/JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValuelensError(
            f"taxonomy file {path} must hold a mapping with values/countries/topics"
        )
    return data


def load_taxonomy(path: str | Path | None = None, *, replace: bool = False) -> Taxonomy:
    """Load the built-in taxonomy, optionally extended or replaced by a user's YAML/JSON file.

    Args:
        path: a file with any of the keys `values`, `countries`, `topics` (lists of names or
            mappings with `name` and optional `type`/`definition`/`label`), and `version`.
        replace: substitute the axes present in the file instead of appending to them.
    """
    builtin = resources.files("valuelens.taxonomy").joinpath("taxonomy.yaml").read_text("utf-8")
    base = _validated(yaml.safe_load(builtin), "the built-in taxonomy")
    if path is None:
        return base
    return base.extended(_read_file(Path(path)), replace=replace)
