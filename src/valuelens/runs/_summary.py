"""`summary.json` as typed records: one pydantic model per run kind, told apart by `kind`.

The models describe the keys that valuelens writes today; every key is optional (a summary from
an older version, or a hand-made one, still loads) and keys the model does not name are kept as
extras (so a new key flows through without a schema change). Reading never renames a key:
`RunSummary.to_dict()` gives back exactly what `summary.json` holds.

`version` is the schema version (`SCHEMA_VERSION`); a summary written before versions existed
reads as version 0. A run without `kind` is a value-action run (the oldest runs lacked it).

Example:
    >>> summary = parse_summary({"kind": "value-action", "alignment_rate": 0.56})
    >>> type(summary).__name__, summary.alignment_rate, summary.version
    ('ValueActionSummary', 0.56, 0)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, PrivateAttr, ValidationError

from valuelens._errors import ValuelensError
from valuelens.models._base import JsonObject

SCHEMA_VERSION = 1
"""The version `write_run` records in the summary of every known run kind."""

RunKind = Literal[
    "value-action",
    "value-action-responses",
    "compass",
    "compass-answers",
    "predict-scores",
    "predict-run",
]
"""Every run kind valuelens writes (`score`/`evaluate`, `evaluate` without scoring,
`compass score`, `compass run`, `predict score`, `predict run`)."""
RUN_KINDS: tuple[RunKind, ...] = get_args(RunKind)
VALUE_ACTION: RunKind = "value-action"
COMPASS: RunKind = "compass"
DEFAULT_KIND: RunKind = VALUE_ACTION
"""The kind of a summary that records none (runs from before `kind` was written)."""

Interval = list[float | None] | None
"""A `[low, high]` confidence interval; None where nothing was scored."""
ByName = dict[str, float | None] | None
"""A measure per country, topic or scenario, in the taxonomy's order."""
Counts = dict[str, int] | None
"""How many answers had each parse status, e.g. {"ok": 7194, "missing": 198}."""
MeanOrByName = float | dict[str, float | None] | None
"""A mean over a matrix; some early summaries held the per-name means under the same key."""


class Bootstrap(BaseModel):
    """How the confidence intervals were resampled."""

    model_config = ConfigDict(extra="allow")

    n_resamples: int = 1000
    seed: int = 0
    level: float = 0.95


class RunSummary(BaseModel):
    """What every run kind may record: its identity, completeness and usage.

    A summary of a kind this version does not know is read as a plain `RunSummary`.
    """

    model_config = ConfigDict(extra="allow", protected_namespaces=())
    _raw: dict[str, object] = PrivateAttr(default_factory=dict)

    kind: str = DEFAULT_KIND
    version: int = 0
    """The schema version; 0 for a summary written before versions existed."""
    model: str | None = None
    label: str | None = None
    valuelens_version: str | None = None
    complete: bool | None = None
    """False when requests failed for good (runs that sent requests)."""
    incomplete: str | None = None
    """Why the run is incomplete, one line (only when `complete` is false)."""
    requests_failed_by_stage: dict[str, int] | None = None
    usage: dict[str, float | None] | None = None
    """Tokens, requests and `cost_usd` over every invocation of the run."""
    usage_last_invocation: dict[str, float | None] | None = None
    invocations: int | None = None

    def model_post_init(self, context: object, /) -> None:
        """Remember the keys as given when the model was built from keywords."""
        if not self._raw:
            self._raw = self.model_dump(exclude_unset=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> RunSummary:
        """Validate `data` against this model, keeping it as given for `to_dict` and `get`."""
        summary = cls.model_validate(dict(data))
        summary._raw = dict(data)
        return summary

    def to_dict(self) -> dict[str, Any]:
        """The summary as `summary.json` holds it: the same keys and values, extras included."""
        return dict(self._raw)

    def get(self, key: str, default: object = None) -> Any:
        """The value stored under `key` in `summary.json`, or `default` when it is absent.

        For readers that still look keys up by name; new code reads the attributes.
        """
        return self._raw.get(key, default)

    @property
    def name(self) -> str | None:
        """The run's display name: its `label`, else its `model` (None when neither is set)."""
        return self.label or self.model or None


class _Scored(RunSummary):
    """The headline measures shared by value-action and ValueCompass runs."""

    paper_compat: bool | None = None
    taxonomy_version: str | None = None
    alignment_rate: float | None = None
    alignment_rate_ci: Interval = None
    accuracy: float | None = None
    accuracy_ci: Interval = None
    alignment_rate_by_country: ByName = None
    accuracy_by_country: ByName = None
    n_pairs: int | None = None
    n_pairs_scored: int | None = None
    distance_mean: float | None = None
    distance_mean_by_country: MeanOrByName = None
    distance_by_country: ByName = None
    ranking_countries: list[str] | None = None
    bootstrap: Bootstrap | None = None

    @property
    def distance_headline(self) -> float | None:
        """The mean distance over the country x value matrix (`distance_mean` when recorded)."""
        if self.distance_mean is not None:
            return self.distance_mean
        found = self.distance_mean_by_country
        return found if isinstance(found, float) else None

    def by_axis(self, measure: str, axis: str) -> dict[str, float | None] | None:
        """`<measure>_by_<axis>` (e.g. alignment_rate by topic) when it is a mapping."""
        found = getattr(self, f"{measure}_by_{axis}", None)
        if found is None:
            found = (self.model_extra or {}).get(f"{measure}_by_{axis}")
        return found if isinstance(found, dict) else None


class _Evaluated(RunSummary):
    """What `valuelens evaluate` records about how it ran the model."""

    actions_source: str | None = None
    scoring: str | None = None
    temperature: float | None = None
    model_args: JsonObject | None = None
    """The `-M` arguments sent with every request (`valuelens.models._args`); absent without."""
    batch: bool | None = None
    """True when the requests went through the provider's batch API (`--batch`)."""
    stated_variants: str | None = None
    action_variants: str | None = None
    templates: dict[str, str] | None = None
    """Where each template came from: a user's folder or `built-in`."""
    parse_status_stated: Counts = None
    parse_status_action: Counts = None
    action_first_option_rate: float | None = None
    prompt_languages: list[str] | None = None
    """The `--language` entries (`en`, `native`, codes); absent for an English-only run."""
    prompt_language_by_country: dict[str, str] | None = None
    """Country -> the prompt language of the main scores (the first entry)."""
    language_countries: dict[str, list[str]] | None = None
    """Prompt language code -> the countries asked in it."""
    language_names: dict[str, str] | None = None
    """Prompt language code -> its pack's name (a user's pack included)."""
    language_templates: dict[str, dict[str, str]] | None = None
    """Per language, each translated template file and where it came from."""
    translator: str | None = None
    translation_status: dict[str, dict[str, int]] | None = None
    """Per language, the parse statuses of the action translations."""
    language_gap: dict[str, JsonObject] | None = None
    """Per language other than English: the comparison with English on the same pairs
    (`metrics/_language.py:language_gap`)."""
    language_pairs_scored: dict[str, int] | None = None
    language_not_evaluated: dict[str, int] | None = None
    """Per language, the VIA pairs of its countries that got no Task 2 answer in it."""


class ValueActionSummary(_Evaluated, _Scored):
    """A scored value-action run (`valuelens score` or `evaluate` with both tasks)."""

    kind: Literal["value-action"] = "value-action"
    alignment_rate_by_topic: ByName = None
    accuracy_by_topic: ByName = None
    misaligned: int | None = None
    misaligned_rate: float | None = None
    misaligned_rate_ci: Interval = None
    misaligned_stated_agree_chose_negative: int | None = None
    misaligned_stated_disagree_chose_positive: int | None = None
    n_pairs_without_choice: int | None = None
    n_pairs_without_stated: int | None = None
    n_scenarios: int | None = None
    distance_mean_by_topic: MeanOrByName = None
    distance_by_topic: ByName = None
    distance_abs_mean: float | None = None
    distance_abs_mean_ci: Interval = None
    distance_abs_by_country: ByName = None
    distance_abs_by_topic: ByName = None
    ranking_topics: list[str] | None = None
    action_scope: str | None = None
    """`grid` (Task 2 covers every pair) or `sample` (only the pairs of the Task 2 file)."""
    prompt_agreement_stated: float | None = None
    prompt_agreement_stated_ci: Interval = None
    prompt_agreement_action: float | None = None
    prompt_agreement_action_ci: Interval = None
    action_positive_rate: float | None = None
    action_positive_rate_ci: Interval = None
    action_positive_rate_by_variant: ByName = None
    n_action_answers: int | None = None
    n_stated_variants: int | None = None
    n_action_variants: int | None = None
    actions_layout: str | None = None
    n_pairs_in_actions_file: int | None = None
    duplicates: str | None = None
    rescored_on_common_pairs: bool | None = None
    """Set by `compare` on a run it rescored on the pairs every run scored."""
    sensitivity_effects: dict[str, dict[str, JsonObject]] | None = None
    """{task: {factor: {estimate, ci, p} or {note}}}: what each prompt factor does (several
    variants only; `metrics/_sensitivity.py`)."""
    n_flips_stated: int | None = None
    n_flips_action: int | None = None
    flip_rate_stated: float | None = None
    flip_rate_action: float | None = None
    position_bias: float | None = None
    """The share of Task 2 answers that chose the option shown first (both orders asked)."""
    position_bias_ci: Interval = None
    position_bias_p: float | None = None
    position_bias_n: int | None = None
    position_bias_note: str | None = None
    alignment_rate_position_corrected: float | None = None
    alignment_rate_position_corrected_ci: Interval = None
    n_pairs_position_corrected: int | None = None
    n_pairs_changed_by_position_correction: int | None = None


class ValueActionResponsesSummary(_Evaluated):
    """An `evaluate` run that asked the model but could not score (one task only)."""

    kind: Literal["value-action-responses"] = "value-action-responses"


class CompassGroup(BaseModel):
    """One level of a respondent group in a compass run (e.g. gender = Woman)."""

    model_config = ConfigDict(extra="allow")

    alignment_rate: float | None = None
    alignment_rate_ci: Interval = None
    distance: float | None = None
    n_respondents: int | None = None
    n_cells: int | None = None
    few_respondents: bool | None = None


class CompassDirection(BaseModel):
    """How often people endorse a value the model rejects, and the reverse."""

    model_config = ConfigDict(extra="allow")

    value: str
    n_cells: int | None = None
    people_endorse_model_rejects: int | None = None
    people_reject_model_endorses: int | None = None


class CompassSummary(_Scored):
    """A ValueCompass run: human survey answers against one model's (`compass score`)."""

    kind: Literal["compass"] = "compass"
    alignment_rate_by_scenario: ByName = None
    accuracy_by_scenario: ByName = None
    neutral_rule: str | None = None
    n_cells: int | None = None
    n_values: int | None = None
    n_pairs_missing: int | None = None
    n_llm_ties: int | None = None
    countries: list[str] | None = None
    scenarios: list[str] | None = None
    alignment_rate_paper_compat: float | None = None
    accuracy_paper_compat: float | None = None
    n_pairs_scored_paper_compat: int | None = None
    n_human_neutral_paper_compat: int | None = None
    alignment_rate_default: float | None = None
    accuracy_default: float | None = None
    n_pairs_scored_default: int | None = None
    n_human_neutral_default: int | None = None
    alignment_rate_difference: float | None = None
    cells_without_human: list[str] | None = None
    cells_without_llm: list[str] | None = None
    llm_parse_status: Counts = None
    n_participants: int | None = None
    distance_mean_by_scenario: MeanOrByName = None
    distance_mean_cellwise: float | None = None
    distance_by_scenario: ByName = None
    ranking_scenarios: list[str] | None = None
    scenarios_version: str | None = None
    group_by: list[str] | None = None
    """The survey columns the alignment is broken down by (`compass score --by`)."""
    min_respondents: int | None = None
    alignment_by_group: dict[str, dict[str, CompassGroup]] | None = None
    """Per grouping column and level: the alignment of that level's respondents."""
    n_groups_few_respondents: int | None = None
    directions_total: Counts = None
    """Compared (cell, value) pairs where people endorse and the model rejects, and back."""
    directions_top: list[CompassDirection] | None = None
    """The values whose two directions differ most, over all compared cells."""
    demographic_spellings: dict[str, dict[str, str]] | None = None
    """Per demographic column: {answer as written: as read} where the spacing was normalised."""


class CompassAnswersSummary(RunSummary):
    """A model's answers to the ValueCompass survey (`compass run`)."""

    kind: Literal["compass-answers"] = "compass-answers"
    backend: JsonObject | None = None
    n_requests: int | None = None
    n_failed_requests: int | None = None
    parse_status: Counts = None
    templates: dict[str, str] | None = None


class _Predicted(RunSummary):
    """Scores of action predictions: {target: {setting: {f1, accuracy, n, ...}}}."""

    positive_class: bool | None = None
    parse_status: Counts = None
    scores: dict[str, dict[str, JsonObject]] | None = None


class PredictScoresSummary(_Predicted):
    """Prediction files scored (`predict score`)."""

    kind: Literal["predict-scores"] = "predict-scores"
    sources: list[str] | None = None


class PredictRunSummary(_Predicted):
    """An observer model predicting a target run's choices (`predict run`)."""

    kind: Literal["predict-run"] = "predict-run"
    run: str | None = None
    target: str | None = None
    observer: str | None = None
    backend: JsonObject | None = None
    settings: list[str] | None = None
    shots_per_label: int | None = None
    n_examples: int | None = None
    n_items: int | None = None
    n_pairs_decided: int | None = None
    seed: int | None = None
    temperature: float | None = None
    templates: str | None = None


SUMMARY_MODELS: dict[str, type[RunSummary]] = {
    "value-action": ValueActionSummary,
    "value-action-responses": ValueActionResponsesSummary,
    "compass": CompassSummary,
    "compass-answers": CompassAnswersSummary,
    "predict-scores": PredictScoresSummary,
    "predict-run": PredictRunSummary,
}
"""The model of each run kind; `register_summary_model` adds one."""
assert set(SUMMARY_MODELS) == set(RUN_KINDS)


def register_summary_model(kind: str, model: type[RunSummary]) -> None:
    """Make `kind` a known run kind whose summaries validate against `model`."""
    SUMMARY_MODELS[kind] = model


def kind_of(data: Mapping[str, object]) -> str:
    """The run kind a summary records (`DEFAULT_KIND` when it records none)."""
    kind = data.get("kind")
    return DEFAULT_KIND if kind is None else str(kind)


def parse_summary(data: Mapping[str, object], *, source: str = "summary") -> RunSummary:
    """The summary as the model of its kind (a plain `RunSummary` for an unknown kind).

    Args:
        data: the JSON object of `summary.json`.
        source: what to name in an error, e.g. the file's path.

    Raises:
        ValuelensError: one line naming the first key whose value does not fit the model.
    """
    model = SUMMARY_MODELS.get(kind_of(data), RunSummary)
    try:
        return model.from_dict(data)
    except ValidationError as exc:
        raise ValuelensError(f"{source}: {_first_problem(exc)}") from None


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {error['msg'].lower()}, got {error.get('input')!r:.60}{more}"
