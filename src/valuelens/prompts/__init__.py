"""Prompt templates as data: Jinja2 files, eight variants per task, in our own wording.

The built-in files live in `valuelens/prompts/templates/`. A user's folder with the same layout
(for example the authors' exact prompts) replaces some or all of them with
`load_templates(folder)`:

    generate/variant_0.jinja ... variant_7.jinja      generation of VIA actions
    stated/variant_0.jinja ... variant_7.jinja        Task 1, all values in one JSON answer
    stated/digit.jinja                                Task 1, one value, one-digit answer
    action/variant_0.jinja ... variant_7.jinja        Task 2, JSON answer
    action/digit.jinja                                Task 2, one-digit answer
    predict/observer.jinja                            predicting choices from explanations
    compass/variant_0.jinja ... variant_7.jinja       ValueCompass, all values in one JSON answer

`load_templates(folder)` checks the first three tasks, and `predict` when the folder has that
subfolder; the compass files are checked when asked for, `load_templates(folder,
tasks=["compass"])`. Which files a task needs and
which variables they receive is the task's template contract (`template_contract(task)`); a
task added with `valuelens.tasks.register_task` brings its own.

The folder needs only the files it changes: every other template comes from the built-in set,
and `TemplateSet.sources` (and a run's `summary.json`, key `templates`) records which file came
from where. Other files in the folder (for example `_parts.jinja` with macros) may be imported or
included by name, e.g. `{% import "stated/_parts.jinja" as parts %}`; a name the folder does
not have is looked up among the built-in files. Undefined variables are errors, and a user's
templates run in Jinja's sandbox.

A user's template is sent exactly as Jinja renders it: trailing spaces and blank lines stay.
Jinja's own rules are the only changes: a line that holds only a `{% ... %}` tag leaves no trace
(`trim_blocks`, `lstrip_blocks`), Windows line endings become LF, a UTF-8 byte-order mark is
dropped, and so is the one newline that ends the file (write an empty last line to end the
prompt with a newline). The built-in templates are tidied (`tidy_text`: trailing spaces and
runs of blank lines removed, ends stripped).

Prompt languages: `load_templates(..., language="hi")` looks a name up in
`_lang/hi/` first (a user's `languages_dir/_lang/hi/`, then the built-in one), then among the
English files, so a language translates only the files with prose (`stated/_parts.jinja`,
`stated/digit.jinja`, `action/_parts.jinja`, `action/digit.jinja`) and keeps the variant files;
a user's template folder still wins. `TemplateSet.language_files` records which translated
files were found. The tasks then pass translated `country`, `topic` and value names and
definitions (see `valuelens.taxonomy.load_language`). English prompts are unchanged.

Variables every template receives:
    country (str), topic (str)
    variant (mapping): the variant's id and design factors (the fields of `GenerateVariant`,
        `StatedVariant` or `ActionVariant`), e.g. `variant.framing == "portrait"`.
A value is a mapping with `name`, `definition` and `type` (its motivational type).

generate/variant_N:
    value, polarity ("positive": the action expresses the value; "negative": it goes against
    it), max_words (int, the length limit of the action).
stated/variant_N:
    values (list of values, in the order chosen; taxonomy order by default), value_names
    (list of str, the JSON keys).
stated/digit:
    value (the one value asked about).
action/variant_N and action/digit:
    value, option1, option2 (the two action texts; which polarity is Option 1 is set by the
    variant, `variant.option1_polarity`, so user templates stay counterbalanced).
compass/variant_N (no `topic`; the variants are Task 1's, `STATED_VARIANTS`):
    country, scenario (mapping: name, vignette), values (list of values; a definition may be
    empty), value_names (list of str, the JSON keys).

Variant design (ids 0-7 as in the authors' code; the full tables are in
`valuelens.prompts._variants`):
    generate: wording = plain instruction (even ids) or role play (odd); the explanation
        request before the attribution request (0, 1, 4, 5) or after it (2, 3, 6, 7),
        `variant.order`; chat ending (0-3) or completion ending (4-7). Default 5, the variant
        the authors generated the VIA set with.
    stated: survey framing, 1 strongly agree .. 4 strongly disagree (0, 1, 4, 5) or portrait
        framing, 1 very much like me .. 4 not like me at all (2, 3, 6, 7); values before options
        (even) or options first (odd); chat ending (0-3) or "The answer is:" (4-7).
    action: wording 0 (0-3) or 1 (4-7); the negative action is Option 1 in 0, 1, 4, 5 and
        Option 2 in 2, 3, 6, 7; odd variants ask for an explanation. Default 5.

Example:
    >>> from valuelens.prompts import STATED_VARIANTS, load_templates
    >>> templates = load_templates()
    >>> text = templates.render("stated", "variant_0", {
    ...     "country": "Canada", "topic": "Environment",
    ...     "variant": STATED_VARIANTS[0].as_context(),
    ...     "values": [{"name": "Honest", "definition": "genuine, sincere", "type": "Benevolence"}],
    ...     "value_names": ["Honest"]})
    >>> "1 = strongly agree" in text
    True
"""

from valuelens.prompts._contracts import (
    DIGIT_TEMPLATE,
    TemplateContract,
    register_template_contract,
    template_contract,
    template_tasks,
    variant_template,
)
from valuelens.prompts._templates import (
    BUILT_IN,
    REQUIRED_TEMPLATES,
    TemplateSet,
    load_templates,
    template_sources,
)
from valuelens.prompts._variants import (
    ACTION_VARIANTS,
    DEFAULT_VARIANTS,
    GENERATE_VARIANTS,
    N_VARIANTS,
    STATED_VARIANTS,
    TASK_NAMES,
    ActionVariant,
    GenerateVariant,
    Polarity,
    StatedVariant,
    TaskName,
    select_variants,
)

__all__ = [
    "ACTION_VARIANTS",
    "BUILT_IN",
    "DEFAULT_VARIANTS",
    "DIGIT_TEMPLATE",
    "GENERATE_VARIANTS",
    "N_VARIANTS",
    "REQUIRED_TEMPLATES",
    "STATED_VARIANTS",
    "TASK_NAMES",
    "ActionVariant",
    "GenerateVariant",
    "Polarity",
    "StatedVariant",
    "TaskName",
    "TemplateContract",
    "TemplateSet",
    "load_templates",
    "register_template_contract",
    "select_variants",
    "template_contract",
    "template_sources",
    "template_tasks",
    "variant_template",
]
