"""valuelens: does a language model act on the values it says it holds?

The notebook API mirrors the command line, one function per stage (`evaluate`, `compass`,
`compass_score`, `predict`, `score`, `compare`, `report`, and the `load_*` readers); each
returns its results with pandas DataFrames:

    >>> import valuelens
    >>> outcome = valuelens.evaluate("runs/demo", countries="Canada", topics="Health")  # doctest: +SKIP
    >>> outcome.summary["alignment_rate"], outcome.tables["pairs"].shape  # doctest: +SKIP
    >>> result = valuelens.score("model_t1.csv", "model_choices.csv", paper_compat=True)  # doctest: +SKIP
    >>> valuelens.compare(["runs/demo", "runs/other"]).leaderboard  # doctest: +SKIP

`import valuelens` is cheap: every public name but `ValuelensError` is imported on first use
(PEP 562), so pandas and the model clients load only when a stage needs them.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING

from valuelens._errors import ValuelensError
from valuelens._lazy import lazy_exports

if TYPE_CHECKING:
    from valuelens._api import compare, compass, compass_score, evaluate, predict, report, score
    from valuelens.data import load_choices, load_stated
    from valuelens.taxonomy import load_taxonomy

__all__ = [
    "ValuelensError",
    "compare",
    "compass",
    "compass_score",
    "evaluate",
    "load_choices",
    "load_stated",
    "load_taxonomy",
    "predict",
    "report",
    "score",
]

# Public name -> the module that defines it (imported on first access).
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        ("compare", "compass", "compass_score", "evaluate", "predict", "report", "score"),
        "valuelens._api",
    ),
    "load_choices": "valuelens.data",
    "load_stated": "valuelens.data",
    "load_taxonomy": "valuelens.taxonomy",
}


if not TYPE_CHECKING:  # hidden from type checkers, which would accept any attribute otherwise
    __getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)


class _Package(types.ModuleType):
    """The `valuelens` module: `valuelens.report` stays the notebook function.

    A subpackage is called `report` too, and the import system binds each subpackage it loads
    as an attribute of its parent, which would turn `valuelens.report(...)` into "module is not
    callable" once anything imported the subpackage. That one binding is skipped; the
    subpackage is still imported as usual (`from valuelens.report import render_report`).
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name == "report" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
