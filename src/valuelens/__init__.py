"""valuelens: does a language model act on the values it says it holds?

The notebook API mirrors the command line, one function per stage:

    >>> import valuelens
    >>> result = valuelens.score("model_t1.csv", "model_choices.csv", paper_compat=True)  # doctest: +SKIP
    >>> result.summary["alignment_rate"]  # doctest: +SKIP

`import valuelens` is cheap: `score`, `load_stated`, `load_choices` and `load_taxonomy` are
imported on first use (PEP 562), so pandas loads only when a stage needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from valuelens._errors import ValuelensError

if TYPE_CHECKING:
    from valuelens._api import score
    from valuelens.data import load_choices, load_stated
    from valuelens.taxonomy import load_taxonomy

__all__ = ["ValuelensError", "load_choices", "load_stated", "load_taxonomy", "score"]

# Public name -> the module that defines it (imported on first access).
_LAZY: dict[str, str] = {
    "load_choices": "valuelens.data",
    "load_stated": "valuelens.data",
    "load_taxonomy": "valuelens.taxonomy",
    "score": "valuelens._api",
}


if not TYPE_CHECKING:  # hidden from type checkers, which would accept any attribute otherwise

    def __getattr__(name: str) -> Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # later lookups skip __getattr__
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
