"""ValueCompass value names: the aliases that map other spellings to the taxonomy's names.

The built-in aliases are `value_aliases.yaml`; a user's YAML file (`aliases:` mapping) adds more.
Names match ignoring case and spacing (hyphens count).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from valuelens._errors import ValuelensError
from valuelens.data._io import read_yaml_mapping
from valuelens.taxonomy import Taxonomy, load_taxonomy, normalize_name
from valuelens.taxonomy._taxonomy import shown

_DATA_DIR = Path(__file__).parent
_MAX_NAME_CHARS = 200
_ALIAS_FILE_KEYS = ("version", "aliases")


def _fold_value(name: str) -> str:
    """Matching key for value names: case and spacing do not matter (hyphens do)."""
    return normalize_name(name).casefold()


def load_value_aliases(path: str | Path | None = None) -> dict[str, str]:
    """The built-in value-name aliases, plus those of a user's YAML file (`aliases:` mapping).

    Returns:
        Alias -> canonical value name.

    Raises:
        ValuelensError: the file cannot be read, or `aliases` is not a mapping of names to names.
    """
    sources = [_DATA_DIR / "value_aliases.yaml"] + ([Path(path)] if path is not None else [])
    aliases: dict[str, str] = {}
    for source in sources:
        data = read_yaml_mapping(source, "value aliases", _ALIAS_FILE_KEYS).get("aliases") or {}
        if not isinstance(data, dict):
            raise ValuelensError(
                f"value aliases file {source}: 'aliases' must be a mapping "
                f"(alias: canonical name), not {shown(data)}"
            )
        for alias, name in data.items():
            if not isinstance(alias, str) or not isinstance(name, str):
                bad = name if isinstance(alias, str) else alias
                raise ValuelensError(
                    f"value aliases file {source}: aliases[{shown(alias)}]: expected a name, "
                    f"found {shown(bad)}"
                )
            if not normalize_name(alias) or not normalize_name(name):
                raise ValuelensError(
                    f"value aliases file {source}: aliases[{shown(alias)}]: a name is empty"
                )
            aliases[normalize_name(alias)] = normalize_name(name)
    return aliases


@dataclass(frozen=True)
class ValueNames:
    """Matches spellings of value names to the canonical taxonomy names.

    Attributes:
        canonical: the value names in taxonomy order.
        aliases: alias -> canonical name (aliases to names outside `canonical` are ignored).
    """

    canonical: tuple[str, ...]
    aliases: Mapping[str, str]

    @cached_property
    def _lookup(self) -> dict[str, str]:
        known = set(self.canonical)
        table = {_fold_value(a): c for a, c in self.aliases.items() if c in known}
        table.update({_fold_value(c): c for c in self.canonical})
        return table

    def match(self, name: str, *, loose: bool = False) -> str | None:
        """The canonical name for `name`, or None.

        Args:
            name: a spelling (case and spacing are ignored).
            loose: also ignore punctuation around the name (for model-written JSON keys such as
                `"_successful"`).
        """
        key = _fold_value(name)
        if loose:
            key = re.sub(r"^[\W_]+|[\W_]+$", "", key)
        return self._lookup.get(key)

    def resolve(self, name: str, *, where: str) -> str:
        """The canonical name, or a one-line error that says where the bad name was found."""
        found = self.match(name)
        if found is not None:
            return found
        key = _fold_value(name)
        close = (
            difflib.get_close_matches(key, list(self._lookup), n=1, cutoff=0.6)
            if len(key) <= _MAX_NAME_CHARS
            else []
        )
        hint = f"; did you mean {self._lookup[close[0]]!r}?" if close else ""
        raise ValuelensError(
            f"{where}: {shown(str(name))} is not a known value name{hint} "
            "(add it to an aliases file with --aliases if it is another spelling)"
        )


def value_names(
    taxonomy: Taxonomy | None = None, aliases: str | Path | Mapping[str, str] | None = None
) -> ValueNames:
    """Value-name matcher for a taxonomy, with the built-in aliases plus the given ones.

    Args:
        taxonomy: defaults to the built-in taxonomy.
        aliases: extra aliases, as a mapping or a YAML file path.
    """
    tax = taxonomy or load_taxonomy()
    if isinstance(aliases, Mapping):
        table = {**load_value_aliases(), **{normalize_name(k): v for k, v in aliases.items()}}
    else:
        table = load_value_aliases(aliases)
    return ValueNames(tuple(tax.value_names), table)
