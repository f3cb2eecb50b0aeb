"""The notebook API: each stage as a function that returns pandas objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pandas as pd

from valuelens.data import Duplicates, load_choices, load_stated
from valuelens.metrics import ValueActionResult, score_value_action, variant_scores
from valuelens.report import write_run
from valuelens.taxonomy import Taxonomy, load_taxonomy


def score(
    stated: str | Path,
    actions: str | Path,
    *,
    out: str | Path | None = None,
    paper_compat: bool = False,
    taxonomy: Taxonomy | None = None,
    model: str | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    sample: bool | None = None,
    duplicates: Duplicates = "error",
    wait: bool = False,
) -> ValueActionResult:
    """Score the value-action gap from Task 1 answers and Task 2 choices on disk.

    Args:
        stated: Task 1 responses (the authors' raw format or a tidy long table).
        actions: Task 2 choices (columns country, topic, value, choice or t2_chosen_polarity),
            or the authors' prompt-robustness file (`evaluation_0` ... `evaluation_7`).
        out: when given, write the run directory there (summary.json, tables as Parquet and CSV).
        paper_compat: follow the authors' rules (strict JSON; in a full-grid Task 2 file a pair
            without a choice counts as positive).
        taxonomy: the axes to resolve names against (default: the built-in taxonomy).
        model: a name to record in the summary.
        n_resamples: bootstrap resamples over scenarios for the confidence intervals.
        seed: bootstrap seed.
        sample: whether the Task 2 file is a sample of pairs. A sample's scope is its own
            pairs, in either mode: pairs outside it are not part of the run (paper mode does
            not count them as positive). None (default) decides from the file: the authors'
            robustness layout is a sample, any other file covers the full grid (where paper
            mode keeps the paper's rule, which reproduces the published numbers).
        duplicates: what to do with repeated rows in either file: `error` (default), keep the
            `first` or the `last`, or count repeats as extra `variants`.
        wait: when another process holds the run directory, wait for it instead of failing.

    Example:
        >>> result = score("gpt-4o-mini_t1.csv", "choices.csv", paper_compat=True)  # doctest: +SKIP
        >>> round(result.summary["alignment_rate"], 3)  # doctest: +SKIP
        0.564
    """
    taxonomy = taxonomy or load_taxonomy()
    stated_long = load_stated(
        stated, taxonomy=taxonomy, paper_compat=paper_compat, duplicates=duplicates
    )
    choices = load_choices(actions, taxonomy=taxonomy, duplicates=duplicates)
    layout = str(choices.attrs.get("layout", "long"))
    is_sample = layout == "robustness" if sample is None else sample
    scope: Literal["grid", "sample"] = "sample" if is_sample else "grid"
    result = score_value_action(
        stated_long,
        choices,
        taxonomy,
        paper_compat=paper_compat,
        action_scope=scope,
        n_resamples=n_resamples,
        seed=seed,
    )
    result.summary = {
        "model": model,
        "label": model or Path(stated).stem,
        **result.summary,
        **_input_facts(choices, layout, scope, duplicates),
    }
    result.tables["variants"] = variant_scores(
        stated_long, choices, taxonomy, paper_compat=paper_compat, action_scope=scope
    )
    result.tables["choices"] = choices
    if out is not None:
        write_run(out, result.summary, result.tables, wait=wait)
    return result


def _input_facts(choices: pd.DataFrame, layout: str, scope: str, duplicates: str) -> dict[str, Any]:
    """What the summary records about the Task 2 file: layout, scope, parse statuses."""
    statuses = choices["parse_status"].value_counts()
    return {
        "action_scope": scope,
        "actions_layout": layout,
        "n_pairs_in_actions_file": len(choices.drop_duplicates(["country", "topic", "value"])),
        "parse_status_action": {str(k): int(v) for k, v in statuses.items()},
        "duplicates": duplicates,
    }
