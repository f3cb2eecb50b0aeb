"""Lazy public names for a package (PEP 562), shared by `valuelens` and `valuelens.models`."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping


def lazy_exports(
    module_name: str, table: Mapping[str, str], public: Iterable[str] = ()
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """Build a module's `__getattr__` and `__dir__` for names imported on first access.

    Args:
        module_name: The package the functions serve (its `__name__`).
        table: Public name -> the module that defines it.
        public: Further names `dir()` lists (usually the package's `__all__`).

    Returns:
        `(getattr_fn, dir_fn)`: `getattr_fn(name)` imports the defining module, stores the
        value in the package's globals (so later lookups skip it) and returns it; `dir_fn()`
        lists the package's globals and `public`.
    """
    listed = frozenset(public) | frozenset(table)

    def getattr_fn(name: str) -> object:
        source = table.get(name)
        if source is None:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        vars(sys.modules[module_name])[name] = value  # later lookups skip getattr_fn
        return value

    def dir_fn() -> list[str]:
        return sorted({*vars(sys.modules[module_name]), *listed})

    return getattr_fn, dir_fn
