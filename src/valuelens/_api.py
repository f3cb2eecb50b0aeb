"""The notebook API: each stage as a function that returns pandas objects."""

from __future__ import annotations

from pathlib import Path

from valuelens.data import load_choices, load_stated
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
) -> ValueActionResult:
    """Score the value-action gap from Task 1 answers and Task 2 choices on disk.

    Args:
        stated: Task 1 responses (the authors' raw format or a tidy long table).
        actions: Task 2 choices (columns country, topic, value, choice or t2_chosen_polarity),
            or the authors' prompt-robustness file (`evaluation_0` ... `evaluation_7`).
        out: when given, write the run directory there (summary.json, tables as Parquet and CSV).
        paper_compat: follow the authors' rules (strict JSON; no choice counts as positive).
        taxonomy: the axes to resolve names against (default: the built-in taxonomy).
        model: a name to record in the summary.
        n_resamples: bootstrap resamples over scenarios for the confidence intervals.
        seed: bootstrap seed.

    Example:
        >>> result = score("gpt-4o-mini_t1.csv", "choices.csv", paper_compat=True)  # doctest: +SKIP
        >>> round(result.summary["alignment_rate"], 3)  # doctest: +SKIP
        0.564
    """
    taxonomy = taxonomy or load_taxonomy()
    stated_long = load_stated(stated, taxonomy=taxonomy, paper_compat=paper_compat)
    choices = load_choices(actions, taxonomy=taxonomy)
    result = score_value_action(
        stated_long,
        choices,
        taxonomy,
        paper_compat=paper_compat,
        n_resamples=n_resamples,
        seed=seed,
    )
    result.summary = {"model": model, "label": model or Path(stated).stem, **result.summary}
    result.tables["variants"] = variant_scores(
        stated_long, choices, taxonomy, paper_compat=paper_compat
    )
    if out is not None:
        write_run(out, result.summary, result.tables)
    return result
