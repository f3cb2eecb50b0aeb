"""The `harms` run kind: misaligned examples, their harm codes (judge and people) and counts.

A harms run directory is written by `valuelens harms export` and extended by `harms code` (the
judge's `codes`) and `harms import` (people's `human_codes`, `merged`, `agreement`); `counts`
is recomputed each time. Every step rewrites the whole directory through `write_run`.

Tables: `examples` (one row per misaligned pair of each model), `codes`, `human_codes`,
`merged`, `agreement`, `counts` (see `valuelens.metrics._harms`).
"""

from __future__ import annotations

from typing import Literal

from valuelens.models._base import JsonObject
from valuelens.runs._summary import Counts, RunSummary, register_summary_model

HARMS = "harms"


class HarmsSummary(RunSummary):
    """Misaligned actions coded for harm, by a judge model and by people.

    Written by `valuelens harms export`, then extended by `harms code` and `harms import`.
    """

    kind: Literal["harms"] = "harms"
    sources: list[str] | None = None
    """The runs and files the examples were exported from."""
    models: list[str] | None = None
    via: str | None = None
    """The VIA file the action texts came from, when a source had none of its own."""
    n_examples: int | None = None
    n_examples_by_model: dict[str, int] | None = None
    misaligned_by_model: dict[str, int | None] | None = None
    """The misaligned pairs each source run's summary records (None for the authors' lists)."""
    direction_by_model: dict[str, dict[str, int]] | None = None
    notes: list[str] | None = None
    """Caveats of the sources (e.g. rows the authors' lists dropped, an inverted flag)."""
    harm_taxonomy_version: str | None = None
    harm_labels: list[str] | None = None
    judge: str | None = None
    judge_backend: JsonObject | None = None
    judge_temperature: float | None = None
    judge_seed: int | None = None
    judge_templates: str | None = None
    n_coded: int | None = None
    parse_status: Counts = None
    judge_counts: dict[str, int] | None = None
    coders: list[str] | None = None
    sheets: list[str] | None = None
    n_human_coded: int | None = None
    human_counts: dict[str, int] | None = None
    agreement_statistic: str | None = None
    """`cohen_kappa` (two coders) or `krippendorff_alpha` (more)."""
    agreement: float | None = None
    judge_agreement: dict[str, float | None] | None = None
    """Cohen's kappa of each coder (and of their majority) against the judge."""


register_summary_model(HARMS, HarmsSummary)
