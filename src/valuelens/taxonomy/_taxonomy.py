"""The taxonomy (values, countries, topics) and the one safe reader of YAML/JSON data files."""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from valuelens._errors import UnknownNameError, ValuelensError

_SPACES = re.compile(r"\s+")
Axis = Literal["country", "topic", "value"]
_AXES = ("values", "countries", "topics")
_MAX_NAME_CHARS = 200
# Limits of a data file (taxonomy, scenarios, aliases): far above any real one, low enough that a
# hostile file (deep nesting, a YAML alias bomb, gigabytes) fails fast with one line.
_MAX_FILE_BYTES = 20_000_000
_MAX_DEPTH = 32
_MAX_NODES = 200_000
_Model = TypeVar("_Model", bound=BaseModel)
_MATCH_CHARS = 100  # longer unknown names get no "did you mean" (difflib is quadratic)
# Schwartz's four higher-order groups of the ten motivational types (hedonism, which he places
# between openness and self-enhancement, is counted with openness as in the ESS scoring).
HIGHER_ORDER = {
    "Power": "Self-Enhancement",
    "Achievement": "Self-Enhancement",
    "Hedonism": "Openness to Change",
    "Stimulation": "Openness to Change",
    "Self-Direction": "Openness to Change",
    "Universalism": "Self-Transcendence",
    "Benevolence": "Self-Transcendence",
    "Tradition": "Conservation",
    "Conformity": "Conservation",
    "Security": "Conservation",
}


def normalize_name(name: str) -> str:
    """Collapse runs of whitespace and strip the ends (the spelling a name is stored with)."""
    return _SPACES.sub(" ", str(name)).strip()


def name_key(name: str) -> str:
    """The key names are matched by: case and runs of whitespace do not matter."""
    return normalize_name(name).casefold()


def shown(value: object, limit: int = 60) -> str:
    """A short, safe description of a value for one-line messages (never a dump of the input)."""
    if isinstance(value, str):
        return repr(value if len(value) <= limit else value[:limit] + "...")
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return repr(value) if abs(value) < 10**30 else "a very large number"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def one_line(text: object, limit: int = 200) -> str:
    """Text squeezed onto one line and cut to `limit` characters."""
    squeezed = " ".join(str(text).split())
    return squeezed if len(squeezed) <= limit else squeezed[: limit - 3] + "..."


class _Named(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(max_length=_MAX_NAME_CHARS)

    @model_validator(mode="after")
    def _clean(self) -> _Named:
        name = normalize_name(self.name)
        if not name:
            raise ValueError("a name is empty")
        object.__setattr__(self, "name", name)
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
            counts = Counter(name_key(item.name) for item in items)
            dupes = sorted({i.name for i in items if counts[name_key(i.name)] > 1})
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

    @cached_property
    def name_index(self) -> dict[str, dict[str, str]]:
        """Per axis, matching key (see `name_key`) -> canonical name."""
        return {
            axis: {name_key(name): name for name in self.names(axis)}
            for axis in ("country", "topic", "value")
        }

    def names(self, axis: Axis) -> list[str]:
        """Names along one axis (`country`, `topic` or `value`)."""
        return {
            "country": self.country_names,
            "topic": self.topic_names,
            "value": self.value_names,
        }[axis]

    def resolve(self, axis: Axis, name: str) -> str:
        """Return the canonical name, or raise a one-line error that lists close matches.

        Case and runs of whitespace are ignored: `india` and ` UNITED  states` resolve to
        `India` and `United States`.
        """
        by_key = self.name_index[axis]
        key = name_key(name)
        if key in by_key:
            return by_key[key]
        close: list[str] = []
        if len(key) <= _MATCH_CHARS:
            matches = difflib.get_close_matches(key, list(by_key), n=3, cutoff=0.6)
            close = [by_key[m] for m in matches]
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownNameError(f"unknown {axis} {shown(str(name))}{hint}")

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

    def value_group(self, name: str) -> str:
        """Higher-order group of a value's type (`HIGHER_ORDER`; '' for a type outside it)."""
        return HIGHER_ORDER.get(self.value_type(name), "")

    def extended(self, other: Mapping[str, object], *, replace: bool = False) -> Taxonomy:
        """A new taxonomy with `other`'s axes added (or, with `replace`, substituted).

        Items whose name is already present (in any case) are skipped when adding.

        Raises:
            ValuelensError: `other` is not a valid taxonomy file (one line naming the entry).
        """
        return self._extended(other, replace=replace, source="the taxonomy extension")

    def _extended(self, other: Mapping[str, object], *, replace: bool, source: str) -> Taxonomy:
        extra = _validated(_TaxonomyFile, other, f"invalid taxonomy in {source}")
        axes: dict[str, Sequence[_Named]] = {
            "values": self.values,
            "countries": self.countries,
            "topics": self.topics,
        }
        for axis in _AXES:
            items: tuple[_Named, ...] | None = getattr(extra, axis)
            if items is None:
                continue
            if replace:
                axes[axis] = items
            else:
                existing = {name_key(item.name) for item in axes[axis]}
                added = [i for i in items if name_key(i.name) not in existing]
                axes[axis] = [*axes[axis], *added]
        version = extra.version if extra.version is not None else f"{self.version}+custom"
        return _validated(Taxonomy, {"version": version, **axes}, f"invalid taxonomy in {source}")


def _names_as_items(items: object) -> object:
    """Let a list give bare names (`- Honest`) for `{name: Honest}`."""
    if isinstance(items, list | tuple):
        return [{"name": i} if isinstance(i, str) else i for i in items]
    return items


class _TaxonomyFile(BaseModel):
    """What a user's taxonomy file may hold: any of the three axes and a version."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    version: str | None = None
    values: tuple[Value, ...] | None = None
    countries: tuple[Country, ...] | None = None
    topics: tuple[Topic, ...] | None = None

    @field_validator("values", "countries", "topics", mode="before")
    @classmethod
    def _bare_names(cls, items: object) -> object:
        return _names_as_items(items)

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, version: object) -> object:
        is_number = isinstance(version, int | float) and not isinstance(version, bool)
        return str(version) if is_number else version


def _location(loc: Sequence[int | str]) -> str:
    """A pydantic error location as `countries[2].label`."""
    where = ""
    for step in loc:
        where += f"[{step}]" if isinstance(step, int) else (f".{step}" if where else str(step))
    return where


_ITEMS = {"Value", "Country", "Topic"}
_PLAIN_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "missing",
    "model_type": "expected a mapping",
    "dict_type": "expected a mapping",
    "tuple_type": "expected a list",
    "list_type": "expected a list",
    "string_type": "expected text",
}


def describe_validation_error(exc: ValidationError) -> str:
    """The first problem of a pydantic error as one line: where, what, and what was found."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    message = _PLAIN_MESSAGES.get(first["type"], str(first["msg"]).removeprefix("Value error, "))
    if first["type"] == "model_type" and first.get("ctx", {}).get("class_name") in _ITEMS:
        message = "expected a name or a mapping with 'name'"
    where = _location(first["loc"])
    found = f" (found {shown(first['input'])})" if first["type"] != "value_error" else ""
    more = f"; {len(errors) - 1} more problem(s)" if len(errors) > 1 else ""
    return one_line(f"{where + ': ' if where else ''}{message}{found}{more}", 400)


def _validated(model: type[_Model], data: object, context: str) -> _Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValuelensError(f"{context}: {describe_validation_error(exc)}") from None


def _check_shape(data: object, source: str) -> None:
    """Refuse a tree nested too deeply or too large (YAML aliases count at every use)."""
    stack: list[tuple[object, int]] = [(data, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict | list):
            continue
        children = list(node.values()) if isinstance(node, dict) else node
        if depth > _MAX_DEPTH:
            raise ValuelensError(f"{source} is nested more than {_MAX_DEPTH} levels deep")
        nodes += len(children)
        if nodes > _MAX_NODES:
            raise ValuelensError(
                f"{source} holds more than {_MAX_NODES:,} entries (YAML aliases count at each use)"
            )
        stack.extend((child, depth + 1) for child in children)


def read_mapping_file(path: Path, what: str) -> dict[str, object]:
    """Read a YAML (or, for `.json`, JSON) file that must hold a mapping, with one-line errors.

    Args:
        path: the file.
        what: what it holds, for messages ("taxonomy", "scenarios").

    Raises:
        ValuelensError: unreadable, not UTF-8, not valid YAML/JSON, not a mapping, nested too
            deeply or too large.
    """
    label = f"{what} file {path}"
    try:
        if path.stat().st_size > _MAX_FILE_BYTES:
            raise ValuelensError(f"{label} is larger than {_MAX_FILE_BYTES:,} bytes")
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ValuelensError(f"cannot read {label}: {exc.strerror or type(exc).__name__}") from None
    except UnicodeDecodeError as exc:
        raise ValuelensError(
            f"{label} is not UTF-8 text (bad byte at offset {exc.start}); re-save it as UTF-8"
        ) from None
    syntax = "JSON" if path.suffix.lower() == ".json" else "YAML"
    try:
        data = json.loads(text) if syntax == "JSON" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ValuelensError(f"{label} is not valid {syntax}: {_syntax_problem(exc)}") from None
    except RecursionError:
        raise ValuelensError(f"{label} is nested too deeply") from None
    except (ValueError, OverflowError) as exc:  # a date or number YAML matched but cannot build
        raise ValuelensError(
            f"{label} holds a value that cannot be read: {one_line(exc)}"
        ) from None
    if not isinstance(data, dict):
        raise ValuelensError(f"{label} must hold a mapping (key: value lines), not {shown(data)}")
    _check_shape(data, label)
    return data


def _syntax_problem(exc: Exception) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return one_line(
            f"{exc.problem or exc.context} (line {mark.line + 1}, column {mark.column + 1})"
        )
    return one_line(exc)


def load_taxonomy(path: str | Path | None = None, *, replace: bool = False) -> Taxonomy:
    """Load the built-in taxonomy, optionally extended or replaced by a user's YAML/JSON file.

    Args:
        path: a file with any of the keys `values`, `countries`, `topics` (lists of names or
            mappings with `name` and optional `type`/`definition`/`label`), and `version`.
        replace: substitute the axes present in the file instead of appending to them.

    Raises:
        ValuelensError: the file cannot be read or does not have that shape; the message names
            the file and the first offending entry (e.g. `countries[0]`).
    """
    builtin = resources.files("valuelens.taxonomy").joinpath("taxonomy.yaml").read_text("utf-8")
    data = yaml.safe_load(builtin)
    for axis in _AXES:
        data[axis] = _names_as_items(data[axis])
    base: Taxonomy = _validated(Taxonomy, data, "invalid built-in taxonomy")
    if path is None:
        return base
    path = Path(path)
    return base._extended(read_mapping_file(path, "taxonomy"), replace=replace, source=str(path))
