"""Loading inputs: the VIA actions, model outputs (Task 1 and Task 2) and their parsers.

Example:
    >>> from valuelens.data import likert_from_answer
    >>> likert_from_answer("3: not like me"), likert_from_answer("Strongly agree")
    (3.0, 1.0)
"""

from valuelens.data._download import default_via_path, download_via, ensure_via, via_cache_dir
from valuelens.data._io import read_table, require_columns
from valuelens.data._likert import (
    StatedParse,
    extract_json_object,
    likert_from_answer,
    parse_stated_response,
)
from valuelens.data._results import load_choices, load_stated
from valuelens.data._via import is_refusal, load_via, parse_action_text, validate_via, via_pairs

__all__ = [
    "StatedParse",
    "default_via_path",
    "download_via",
    "ensure_via",
    "extract_json_object",
    "is_refusal",
    "likert_from_answer",
    "load_choices",
    "load_stated",
    "load_via",
    "parse_action_text",
    "parse_stated_response",
    "read_table",
    "require_columns",
    "validate_via",
    "via_cache_dir",
    "via_pairs",
]
