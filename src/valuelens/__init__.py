"""valuelens: does a language model act on the values it says it holds?

The notebook API mirrors the command line, one function per stage:

    >>> import valuelens
    >>> result = valuelens.score("model_t1.csv", "model_choices.csv", paper_compat=True)  # doctest: +SKIP
    >>> result.summary["alignment_rate"]  # doctest: +SKIP
"""

from valuelens._api import score
from valuelens._errors import ValuelensError
from valuelens.data import load_choices, load_stated
from valuelens.taxonomy import load_taxonomy

__all__ = ["ValuelensError", "load_choices", "load_stated", "load_taxonomy", "score"]
