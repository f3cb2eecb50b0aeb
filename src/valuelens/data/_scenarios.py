"""ValueCompass scenarios: the situations in which an AI system assists people.

The built-in list is `scenarios.yaml`; a user's YAML file extends it (a scenario with a built-in
name replaces that one) or replaces it. Names match ignoring case, spaces, '_' and '-'.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from valuelens._errors import UnknownNameError, ValuelensError
from valuelens.data._io import read_yaml_mapping
from valuelens.taxonomy import normalize_name
from valuelens.taxonomy._taxonomy import describe_validation_error, shown

_DATA_DIR = Path(__file__).parent
_MAX_NAME_CHARS = 200
_SCENARIO_FILE_KEYS = ("version", "scenarios", "authors_llm_countries")


def _fold(name: str) -> str:
    """Matching key for scenario names: case, '_' and '-' and spacing do not matter."""
    return re.sub(r"[\s_\-]+", " ", str(name)).strip().casefold()


class AuthorsLayout(BaseModel):
    """Where a scenario sits in the ValueCompass authors' files (only needed to import them)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    human_file: int | None = None
    llm_index: int | None = None
    keyword: str = ""


class CompassScenario(BaseModel):
    """One situation in which an AI system assists people."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1, max_length=_MAX_NAME_CHARS)
    key: str = Field("", max_length=_MAX_NAME_CHARS)
    label: str = Field("", max_length=_MAX_NAME_CHARS)
    aliases: tuple[Annotated[str, Field(max_length=_MAX_NAME_CHARS)], ...] = ()
    vignette: str = ""
    authors: AuthorsLayout = AuthorsLayout()

    @model_validator(mode="after")
    def _clean(self) -> CompassScenario:
        if not normalize_name(self.name):
            raise ValueError("a scenario name is empty")
        object.__setattr__(self, "name", normalize_name(self.name))
        object.__setattr__(self, "vignette", normalize_name(self.vignette))
        return self

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every accepted spelling: name, key, label and aliases."""
        return tuple(s for s in (self.name, self.key, self.label, *self.aliases) if s)


class ScenarioSet(BaseModel):
    """The ordered list of scenarios; order is the order of reports and prompts."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    version: str = "custom"
    scenarios: tuple[CompassScenario, ...] = Field(min_length=1)
    authors_llm_countries: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _unambiguous(self) -> ScenarioSet:
        owner: dict[str, str] = {}
        for scenario in self.scenarios:
            for spelling in {_fold(s) for s in scenario.spellings}:
                if owner.setdefault(spelling, scenario.name) != scenario.name:
                    raise ValueError(
                        f"{shown(spelling)} names both {shown(owner[spelling])} and "
                        f"{shown(scenario.name)}"
                    )
        return self

    @cached_property
    def names(self) -> list[str]:
        """Scenario names in order."""
        return [s.name for s in self.scenarios]

    @cached_property
    def _by_spelling(self) -> dict[str, str]:
        return {_fold(sp): s.name for s in self.scenarios for sp in s.spellings}

    def get(self, name: str) -> CompassScenario:
        """The scenario with this name or any accepted spelling."""
        canonical = self.resolve(name)
        return next(s for s in self.scenarios if s.name == canonical)

    def resolve(self, name: str) -> str:
        """Canonical scenario name, or a one-line error that lists close matches."""
        folded = _fold(name)
        if folded in self._by_spelling:
            return self._by_spelling[folded]
        close = (
            difflib.get_close_matches(folded, list(self._by_spelling), n=3, cutoff=0.6)
            if len(folded) <= _MAX_NAME_CHARS
            else []
        )
        names = list(dict.fromkeys(self._by_spelling[c] for c in close))
        hint = f"; did you mean {', '.join(repr(n) for n in names)}?" if names else ""
        known = ", ".join(self.names)
        raise UnknownNameError(f"unknown scenario {shown(str(name))}{hint} (known: {known})")

    def resolve_many(self, names: str | Sequence[str] | None) -> list[str]:
        """Resolve a comma-separated string or a list; None or "all" selects every scenario."""
        if names is None or (isinstance(names, str) and names.strip().lower() in {"", "all"}):
            return list(self.names)
        items = names.split(",") if isinstance(names, str) else list(names)
        return [self.resolve(n) for n in items if n.strip()]

    def find_in_text(self, text: str) -> str | None:
        """The scenario whose authors' keyword occurs in `text` (case-sensitive), if exactly one."""
        found = [s.name for s in self.scenarios if s.authors.keyword and s.authors.keyword in text]
        return found[0] if len(found) == 1 else None

    def from_authors_index(self, *, llm_index: int) -> str | None:
        """The scenario with this index `s` in the authors' LLM file names."""
        return next((s.name for s in self.scenarios if s.authors.llm_index == llm_index), None)

    def label(self, name: str) -> str:
        """Short label for figures."""
        scenario = self.get(name)
        return scenario.label or scenario.name


def _validated_scenarios(data: Mapping[str, object], source: str) -> ScenarioSet:
    try:
        return ScenarioSet.model_validate(data)
    except ValidationError as exc:
        raise ValuelensError(
            f"invalid scenarios in {source}: {describe_validation_error(exc)}"
        ) from None


def load_scenarios(path: str | Path | None = None, *, replace: bool = False) -> ScenarioSet:
    """Load the built-in scenarios, optionally extended or replaced by a user's YAML file.

    Args:
        path: a YAML file with a `scenarios` list (items with `name`, `vignette` and optional
            `key`, `label`, `aliases`). A scenario with a built-in name (ignoring case, spaces,
            '_' and '-') replaces the built-in one.
        replace: use only the file's scenarios.

    Returns:
        The scenario list.

    Raises:
        ValuelensError: the file cannot be read or does not have that shape (one line naming
            the file and the first offending entry).
    """
    builtin = read_yaml_mapping(_DATA_DIR / "scenarios.yaml", "scenarios", _SCENARIO_FILE_KEYS)
    if path is None:
        return _validated_scenarios(builtin, "the built-in scenarios")
    extra = read_yaml_mapping(Path(path), "scenarios", _SCENARIO_FILE_KEYS)
    if not isinstance(extra.get("scenarios"), list):
        raise ValuelensError(
            f"scenarios file {path} must have a 'scenarios' list, not "
            f"{shown(extra.get('scenarios'))}"
        )
    items: list[Any] = [] if replace else list(builtin["scenarios"])
    for index, item in enumerate(extra["scenarios"]):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            raise ValuelensError(
                f"invalid scenarios in {path}: scenarios[{index}] must be a mapping with a "
                f"'name' (found {shown(item if name is None else name)})"
            )
        items = [i for i in items if _fold(i["name"]) != _fold(name)] + [item]
    merged = {
        "version": extra.get("version", f"{builtin['version']}+custom"),
        "scenarios": items,
        "authors_llm_countries": extra.get(
            "authors_llm_countries", builtin.get("authors_llm_countries", [])
        ),
    }
    return _validated_scenarios(merged, str(path))
