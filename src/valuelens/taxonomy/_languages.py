"""Language packs: the taxonomy's names and definitions, and the answer words, in one language.

English is the built-in taxonomy and templates. Every other prompt language is data: a pack
`<code>.yaml` (in `valuelens/taxonomy/languages/`, or in a user's folder passed as
`languages_dir`, whose packs win) holding translated country, topic, value-type and value
names, value definitions, and how answers are written (option labels, Likert words), plus
translated templates in `_lang/<code>/<task>/` next to the packs (or among the built-in
templates, `valuelens/prompts/templates/_lang/<code>/`).

Example:
    >>> from valuelens.taxonomy import available_languages, language_plan
    >>> "en" in available_languages()
    True
    >>> language_plan("en", ["India"])
    {'en': ['India']}
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from valuelens._errors import ValuelensError
from valuelens.taxonomy._taxonomy import (
    Taxonomy,
    _validated,
    name_key,
    normalize_name,
    read_mapping_file,
)

ENGLISH = "en"
NATIVE = "native"
PACK_SUFFIX = ".yaml"
LANG_TEMPLATES = "_lang"
_ENGLISH_NAMES = frozenset({"en", "english"})


class _Text(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ValueText(_Text):
    """A value's name and definition in the pack's language."""

    name: str = Field(min_length=1, max_length=200)
    definition: str = Field(default="", max_length=1000)


class AnswerWords(_Text):
    """How answers are written in the pack's language (the parsers accept these words)."""

    option_labels: tuple[str, str]
    likert_survey: tuple[str, str, str, str]
    likert_portrait: tuple[str, str, str, str]

    @field_validator("option_labels", "likert_survey", "likert_portrait")
    @classmethod
    def _distinct_words(cls, words: tuple[str, ...]) -> tuple[str, ...]:
        # A blank word would match every answer, and two equal words cannot tell answers apart.
        if any(not word.strip() for word in words):
            raise ValueError("every word must be non-blank")
        keys = [unicodedata.normalize("NFKC", name_key(word)) for word in words]
        if len(set(keys)) != len(keys):
            raise ValueError(f"needs {len(keys)} different words, got {list(words)!r}")
        return words


class LanguagePack(_Text):
    """One prompt language: translated names and definitions, and the answer words.

    Attributes:
        code: the language code (`hi`), also the file's stem.
        name: the language's English name (`Hindi`).
        native_name: its own name for itself.
        native_for: the canonical country names for which this is the native prompt language.
        countries, topics, value_types: canonical English name -> translated name.
        values: canonical value name -> translated name and definition.
        answers: option labels and Likert words.
        source: where the pack was read from.
        builtin: whether it ships with valuelens (a user's pack wins `native` for a country
            that a built-in pack also claims).
    """

    code: str = Field(min_length=1, max_length=20)
    name: str = Field(min_length=1, max_length=100)
    native_name: str = Field(default="", max_length=100)
    native_for: tuple[str, ...] = ()
    countries: dict[str, str]
    topics: dict[str, str]
    value_types: dict[str, str] = Field(default_factory=dict)
    values: dict[str, ValueText]
    answers: AnswerWords
    source: str = ""
    builtin: bool = False

    @field_validator("code")
    @classmethod
    def _code(cls, code: str) -> str:
        cleaned = code.strip().lower()
        if not cleaned.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"a language code holds letters, digits, - and _ only, not {code!r}")
        return cleaned

    @model_validator(mode="after")
    def _unique_value_names(self) -> LanguagePack:
        seen: dict[str, str] = {}
        for canonical, text in self.values.items():
            key = name_key(text.name)
            if key in seen:
                raise ValueError(
                    f"values: {seen[key]!r} and {canonical!r} share the name {text.name!r} "
                    "(each translated value name is a JSON key and must be unique)"
                )
            seen[key] = canonical
        return self

    @cached_property
    def value_aliases(self) -> dict[str, str]:
        """Translated value name -> canonical name (how answers' JSON keys are read back)."""
        return {normalize_name(text.name): canonical for canonical, text in self.values.items()}

    def country(self, name: str) -> str:
        """The translated name of a country (the canonical name when the pack lacks it)."""
        return self.countries.get(name, name)

    def topic(self, name: str) -> str:
        """The translated name of a topic (the canonical name when the pack lacks it)."""
        return self.topics.get(name, name)

    def value_context(self, name: str, value_type: str) -> dict[str, str]:
        """A value's template context (`name`, `definition`, `type`) in this language."""
        text = self.values[name]
        return {
            "name": text.name,
            "definition": text.definition,
            "type": self.value_types.get(value_type, value_type),
        }

    def check_covers(self, taxonomy: Taxonomy, countries: Iterable[str] = ()) -> None:
        """Fail unless the pack translates every value of the taxonomy and the given countries.

        Raises:
            ValuelensError: one line naming the pack and what it lacks or does not know.
        """
        known = set(taxonomy.value_names)
        unknown = sorted(set(self.values) - known)
        if unknown:
            raise ValuelensError(
                f"language pack {self.source}: unknown value(s) {', '.join(map(repr, unknown[:5]))}"
                " under `values` (keys are the taxonomy's English value names)"
            )
        lacking = [v for v in taxonomy.value_names if v not in self.values]
        lacking += [c for c in countries if c not in self.countries]
        if lacking:
            more = f" and {len(lacking) - 5} more" if len(lacking) > 5 else ""
            raise ValuelensError(
                f"language pack {self.source} has no translation of "
                f"{', '.join(map(repr, lacking[:5]))}{more}"
            )


def _builtin_packs() -> Traversable:
    return resources.files("valuelens.taxonomy").joinpath("languages")


def _builtin_lang_templates() -> Traversable:
    return resources.files("valuelens.prompts").joinpath("templates", LANG_TEMPLATES)


def _pack_files(directory: Path | None) -> dict[str, Traversable | Path]:
    """Pack files by code: the built-in ones, then the user's folder (whose packs win)."""
    found: dict[str, Traversable | Path] = {}
    builtin = _builtin_packs()
    if builtin.is_dir():
        for node in sorted(builtin.iterdir(), key=lambda n: n.name):
            if node.name.endswith(PACK_SUFFIX):
                found[node.name.removesuffix(PACK_SUFFIX).lower()] = node
    if directory is not None:
        folder = Path(directory).expanduser()
        if not folder.is_dir():
            raise ValuelensError(f"languages folder not found: {folder}")
        for path in sorted(folder.glob(f"*{PACK_SUFFIX}")):
            found[path.stem.lower()] = path
    return found


def _is_builtin(node: Traversable | Path) -> bool:
    return str(node).startswith(str(_builtin_packs()))


def _read_pack(node: Traversable | Path, code: str) -> LanguagePack:
    builtin = _is_builtin(node)
    if isinstance(node, Path):
        data, source = read_mapping_file(node, "language pack"), str(node)
    else:
        import yaml

        data, source = yaml.safe_load(node.read_text("utf-8")), f"built-in:{code}"
    if not isinstance(data, dict):
        raise ValuelensError(f"language pack {source} must hold a mapping")
    fields = {**data, "source": source, "builtin": builtin}
    pack = _validated(LanguagePack, fields, f"invalid language pack {source}")
    if pack.code != code:
        raise ValuelensError(
            f"language pack {source} says `code: {pack.code}` but is named {code}{PACK_SUFFIX}"
        )
    return pack


def available_languages(directory: str | Path | None = None) -> dict[str, str]:
    """The prompt languages there are: code -> English name (English first, then by code).

    Args:
        directory: a user's folder of packs (`<code>.yaml`), on top of the built-in ones.

    Raises:
        ValuelensError: the folder is missing, or a pack in it is invalid.
    """
    files = _pack_files(Path(directory) if directory is not None else None)
    names = {code: _read_pack(node, code).name for code, node in sorted(files.items())}
    return {ENGLISH: "English", **{c: n for c, n in names.items() if c != ENGLISH}}


def load_language(code_or_path: str | Path, directory: str | Path | None = None) -> LanguagePack:
    """Read and validate one pack, by code or English name (any case) or by file path.

    Args:
        code_or_path: `hi`, `Hindi`, or a path to a `.yaml` pack.
        directory: a user's folder of packs, searched before the built-in ones.

    Raises:
        ValuelensError: no such language (the available ones listed), or an invalid pack (one
            line naming the file and the offending key).
    """
    path = Path(code_or_path)
    if path.suffix.lower() in {PACK_SUFFIX, ".yml", ".json"} and path.is_file():
        data = read_mapping_file(path, "language pack")
        return _read_pack(path, str(data.get("code", path.stem)).strip().lower())
    files = _pack_files(Path(directory) if directory is not None else None)
    wanted = normalize_name(str(code_or_path)).casefold()
    if wanted in files:
        return _read_pack(files[wanted], wanted)
    for code, node in files.items():
        pack = _read_pack(node, code)
        if wanted in {pack.name.casefold(), normalize_name(pack.native_name).casefold()}:
            return pack
    choices = ", ".join(f"{c} ({n})" for c, n in available_languages(directory).items())
    raise ValuelensError(
        f"unknown prompt language {str(code_or_path)!r}; choose en, native or one of: {choices}"
    )


def language_template_roots(
    code: str, directory: str | Path | None = None
) -> list[Traversable | Path]:
    """The folders holding a language's translated templates, the user's first.

    `<directory>/_lang/<code>/` (when it exists), then the built-in `_lang/<code>/`.
    """
    roots: list[Traversable | Path] = []
    if directory is not None:
        user = Path(directory).expanduser() / LANG_TEMPLATES / code
        if user.is_dir():
            roots.append(user)
    builtin = _builtin_lang_templates().joinpath(code)
    if builtin.is_dir():
        roots.append(builtin)
    return roots


def is_english(name: str) -> bool:
    """Whether a `--language` entry means English (`en`, `English`, any case)."""
    return normalize_name(name).casefold() in _ENGLISH_NAMES


@dataclass(frozen=True)
class LanguageChoice:
    """The `--language` entries, resolved: which packs they name, in order."""

    entries: tuple[str, ...]
    packs: Mapping[str, LanguagePack]


def parse_languages(
    spec: str | Sequence[str], directory: str | Path | None = None
) -> LanguageChoice:
    """Resolve `--language en,native,hi` (codes or names, any case) into entries and packs.

    Entries are `en`, `native`, or a pack's code; `native` loads every pack (it needs their
    `native_for`).

    Raises:
        ValuelensError: an empty list or an unknown language (the available ones listed).
    """
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    entries: list[str] = []
    packs: dict[str, LanguagePack] = {}
    for item in (normalize_name(i) for i in items):
        if not item:
            continue
        if is_english(item):
            entries.append(ENGLISH)
        elif item.casefold() == NATIVE:
            entries.append(NATIVE)
            for code in available_languages(directory):
                if code != ENGLISH and code not in packs:
                    packs[code] = load_language(code, directory)
        else:
            pack = load_language(item, directory)
            packs.setdefault(pack.code, pack)
            entries.append(pack.code)
    if not entries:
        raise ValuelensError("--language needs en, native or a language code (e.g. en,native)")
    return LanguageChoice(tuple(dict.fromkeys(entries)), packs)


def native_language(country: str, packs: Iterable[LanguagePack]) -> str:
    """The code of the pack whose `native_for` names `country` (case-insensitive), else `en`.

    A user's pack comes before the built-in ones.
    """
    key = name_key(country)
    for pack in sorted(packs, key=lambda p: p.builtin):
        if any(name_key(c) == key for c in pack.native_for):
            return pack.code
    return ENGLISH


def entry_languages(
    entry: str, countries: Sequence[str], packs: Iterable[LanguagePack]
) -> dict[str, str]:
    """Country -> prompt language code under one `--language` entry."""
    if entry == NATIVE:
        chosen = list(packs)
        return {country: native_language(country, chosen) for country in countries}
    return dict.fromkeys(countries, entry)


def check_native_for(packs: Iterable[LanguagePack], taxonomy: Taxonomy) -> None:
    """Fail when a user's pack claims, in `native_for`, a country the taxonomy does not have.

    Built-in packs are not checked (a user's smaller taxonomy may lack their countries).

    Raises:
        ValuelensError: one line naming the pack file, the unknown country and the names
            accepted.
    """
    known = {name_key(name) for name in taxonomy.country_names}
    for pack in packs:
        unknown = [c for c in pack.native_for if name_key(c) not in known]
        if unknown and not pack.builtin:
            raise ValuelensError(
                f"language pack {pack.source}: unknown country {unknown[0]!r} under "
                f"`native_for`; use the taxonomy's English names: "
                f"{', '.join(taxonomy.country_names)}"
            )


def language_plan(
    spec: str | Sequence[str] | LanguageChoice,
    countries: Sequence[str],
    directory: str | Path | None = None,
    *,
    taxonomy: Taxonomy | None = None,
) -> dict[str, list[str]]:
    """Which countries each prompt language asks, over every `--language` entry.

    A (country, language) combination appears once even when two entries give it (`en,native`
    asks the United States in English once).

    Args:
        spec: the `--language` entries, or their parsed `LanguageChoice`.
        countries: the run's canonical country names.
        directory: a user's folder of packs.
        taxonomy: when given, a user's pack's `native_for` is checked against its countries.

    Returns:
        language code -> countries, languages in order of first use.

    Raises:
        ValuelensError: an unknown language, or a `native_for` country the taxonomy lacks.
    """
    choice = spec if isinstance(spec, LanguageChoice) else parse_languages(spec, directory)
    if taxonomy is not None:
        check_native_for(choice.packs.values(), taxonomy)
    plan: dict[str, list[str]] = {}
    for entry in choice.entries:
        for country, code in entry_languages(entry, countries, choice.packs.values()).items():
            if country not in plan.setdefault(code, []):
                plan[code].append(country)
    return plan


def describe_languages(directory: str | Path | None = None) -> list[dict[str, str]]:
    """One row per prompt language (for `valuelens list languages`): English, then the packs.

    Raises:
        ValuelensError: the folder is missing, or a pack is invalid.
    """
    rows = [
        {"code": ENGLISH, "name": "English", "native_name": "English", "native_for": "",
         "source": "built-in"}
    ]  # fmt: skip
    for code in available_languages(directory):
        if code == ENGLISH:
            continue
        pack = load_language(code, directory)
        source = "built-in" if pack.builtin else pack.source
        rows.append(
            {
                "code": pack.code,
                "name": pack.name,
                "native_name": pack.native_name,
                "native_for": ", ".join(pack.native_for),
                "source": source,
            }
        )
    return rows
