"""Loading inputs: the VIA actions, model outputs (Task 1 and Task 2) and their parsers.

VIA: `load_via` reads a file, `validate_via` counts what it holds, `via_pairs` puts the two
actions of a pair side by side; `parse_action_text` reads one generated answer and
`parse_attributions` one attribution cell. Every user table is read by `read_table`.

Also the ValueCompass inputs: the scenario list (`load_scenarios`), value-name aliases
(`load_value_aliases`, `value_names`), people's survey answers (`load_survey`) and models'
ratings of all values (`load_compass_answers`, `parse_compass_response`), each read into a tidy
long table (`SURVEY_COLUMNS`, `LLM_COLUMNS`). `load_predictions` reads an observer's predictions
of the explanation experiment (the authors' `*_explanation_outputs_*.csv` or a tidy table).

Example:
    >>> from valuelens.data import likert_from_answer
    >>> likert_from_answer("3: not like me"), likert_from_answer("Strongly agree")
    (3.0, 1.0)
"""

from valuelens.data._choices import (
    CHOICE_COLUMNS,
    ChoiceStatus,
    OptionAnswer,
    load_choices,
    parse_option_answer,
)
from valuelens.data._compass_llm import (
    LLM_COLUMNS,
    CompassReply,
    ValueAnswer,
    answers_table,
    load_compass_answers,
    paper_compat_scores,
    parse_compass_response,
    robust_likert,
)
from valuelens.data._download import default_via_path, download_via, ensure_via, via_cache_dir
from valuelens.data._io import read_table, require_columns
from valuelens.data._likert import (
    StatedParse,
    extract_json_object,
    likert_from_answer,
    parse_stated_response,
)
from valuelens.data._predictions import (
    PREDICTION_COLUMNS,
    LabelStatus,
    as_label,
    load_predictions,
    parse_label,
)
from valuelens.data._rows import DUPLICATE_POLICIES, Duplicates
from valuelens.data._scenarios import AuthorsLayout, CompassScenario, ScenarioSet, load_scenarios
from valuelens.data._stated import load_stated
from valuelens.data._survey import (
    DEFAULT_DEMOGRAPHICS,
    SURVEY_COLUMNS,
    load_survey,
    parse_survey_answer,
)
from valuelens.data._value_names import ValueNames, load_value_aliases, value_names
from valuelens.data._via_check import same_action, validate_via, via_pairs
from valuelens.data._via_parse import is_refusal, parse_action_text, parse_attributions
from valuelens.data._via_read import load_via

__all__ = [
    "CHOICE_COLUMNS",
    "DEFAULT_DEMOGRAPHICS",
    "DUPLICATE_POLICIES",
    "LLM_COLUMNS",
    "PREDICTION_COLUMNS",
    "SURVEY_COLUMNS",
    "AuthorsLayout",
    "ChoiceStatus",
    "CompassReply",
    "CompassScenario",
    "Duplicates",
    "LabelStatus",
    "OptionAnswer",
    "ScenarioSet",
    "StatedParse",
    "ValueAnswer",
    "ValueNames",
    "answers_table",
    "as_label",
    "default_via_path",
    "download_via",
    "ensure_via",
    "extract_json_object",
    "is_refusal",
    "likert_from_answer",
    "load_choices",
    "load_compass_answers",
    "load_predictions",
    "load_scenarios",
    "load_stated",
    "load_survey",
    "load_value_aliases",
    "load_via",
    "paper_compat_scores",
    "parse_action_text",
    "parse_attributions",
    "parse_compass_response",
    "parse_label",
    "parse_option_answer",
    "parse_stated_response",
    "parse_survey_answer",
    "read_table",
    "require_columns",
    "robust_likert",
    "same_action",
    "validate_via",
    "value_names",
    "via_cache_dir",
    "via_pairs",
]
