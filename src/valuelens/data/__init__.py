"""Loading inputs: the VIA actions, model outputs (Task 1 and Task 2) and their parsers.

Example:
    >>> from valuelens.data import likert_from_answer
    >>> likert_from_answer("3: not like me"), likert_from_answer("Strongly agree")
    (3.0, 1.0)
"""

from valuelens.data._io import read_table, require_columns
from valuelens.data._likert import (
    StatedParse,
    extract_json_object,
    likert_from_answer,
    parse_stated_response,
)
from valuelens.data._results import load_choices, load_stated

__all__ = [
    "StatedParse",
    "extract_json_object",
    "likert_from_answer",
    "load_choices",
    "load_stated",
    "parse_stated_response",
    "read_table",
    "require_columns",
]
