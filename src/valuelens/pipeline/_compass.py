"""`compass`: collect a model's value ratings (ValueCompass) and score them against a survey."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Unpack

import pandas as pd

from valuelens._rundir import holds_run_dir
from valuelens.data import load_scenarios, load_survey
from valuelens.data._compass_llm import load_compass_answers
from valuelens.data._survey import SPELLINGS_ATTR
from valuelens.metrics._compass import CompassResult, compass_score
from valuelens.metrics._compass_groups import DEFAULT_MIN_RESPONDENTS
from valuelens.pipeline._completeness import Completeness, accumulated_usage, usage_of
from valuelens.pipeline._session import (
    ConnectionOptions,
    SessionSettings,
    open_session,
    run_requests,
    session_settings,
)
from valuelens.pipeline._tasks import configured_task
from valuelens.prompts import load_templates, template_sources
from valuelens.report import write_run
from valuelens.runner import Estimate, RunResult
from valuelens.tasks import CompassTask
from valuelens.taxonomy import load_taxonomy

ANSWERS = "answers"
"""The table of a compass run that `compass score --llm` reads."""
REPLIES = "replies"


def score_compass(
    humans: Path,
    llm: Path,
    *,
    out: Path | None = None,
    paper_compat: bool = False,
    model: str | None = None,
    taxonomy: Path | None = None,
    scenario_file: Path | None = None,
    aliases: Path | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    by: Sequence[str] | None = None,
    min_respondents: int = DEFAULT_MIN_RESPONDENTS,
) -> CompassResult:
    """Load a survey and one model's answers, score them and (with `out`) write a run directory.

    `by` names the survey columns to break the alignment down by (default: its demographic
    columns, then country and scenario; see `metrics._compass_groups`); levels with fewer
    than `min_respondents` respondents are flagged. The bootstrap uses `seed` for the
    intervals over cells and over respondents alike.

    Returns:
        The `CompassResult`.
    """
    tax = load_taxonomy(taxonomy)
    scenarios = load_scenarios(scenario_file)
    survey = load_survey(humans, taxonomy=tax, scenarios=scenarios, aliases=aliases)
    answers = load_compass_answers(llm, taxonomy=tax, scenarios=scenarios, aliases=aliases)
    result = compass_score(
        survey,
        answers,
        paper_compat=paper_compat,
        model=model,
        countries=tax.country_names,
        scenarios=scenarios.names,
        values=tax.value_names,
        n_resamples=n_resamples,
        seed=seed,
        by=by,
        min_respondents=min_respondents,
    )
    result.summary.update(
        taxonomy_version=tax.version,
        scenarios_version=scenarios.version,
        demographic_spellings=survey.attrs.get(SPELLINGS_ATTR, {}),
    )
    if out is not None:
        write_run(out, result.summary, result.tables)
    return result


@holds_run_dir("out")
def collect_compass_answers(
    session: SessionSettings | str,
    out: Path,
    *,
    countries: str | None = None,
    scenarios: str | None = None,
    values: str | None = None,
    variants: str | None = None,
    temperature: float = 0.2,
    seed: int = 0,
    taxonomy: Path | None = None,
    scenario_file: Path | None = None,
    model: str | None = None,
    templates: Path | None = None,
    dry_run: bool = False,
    wait: bool = False,
    **options: Unpack[ConnectionOptions],
) -> pd.DataFrame | Estimate:
    """Ask a model for compass ratings through the runner; write `answers` and `replies` to `out`.

    `session` is the model (a spec, or `SessionSettings` saying how to reach it; its other
    fields may also be given one by one, as `options`); `model` is the name to record. The
    cache is the shared store (or the one an older version left in `out`, see `run_cache`),
    so a rerun sends only unfinished requests; `out/requests.json` records which store and
    keys the run used. `timeout_s` limits one attempt; by default 120 s, and no limit for the
    embedded model, whose in-process generation cannot be cancelled (a retry would only add
    work).
    `templates` is a folder whose `compass/variant_N.jinja` files replace the built-in prompts
    (the others stay built-in); the summary's `templates` says where each one came from.

    Returns:
        The tidy answer table (also written as `out/answers.parquet` and `.csv`), or for a dry
        run the estimate of what would be sent. `attrs["completeness"]` (a `Completeness`)
        counts the requests that failed for good.
    """
    template_set = load_templates(templates, tasks=["compass"]) if templates else None
    task = configured_task(
        "compass",
        CompassTask,
        variants=variants,
        templates=template_set,
        temperature=temperature,
        seed=seed,
        taxonomy=load_taxonomy(taxonomy),
        scenarios=load_scenarios(scenario_file),
    )
    requests = task.build_requests(countries=countries, scenarios=scenarios, values=values)
    settings = session_settings(session, options)
    done = run_requests(open_session(settings, run_dir=out), requests, dry_run=dry_run)
    if isinstance(done, Estimate):
        return done
    label = model or done.identity.get("model") or settings.model
    completeness = Completeness.of({"compass": done.results}, done.totals)
    answers = task.answers(done.results, model=label)
    replies = _replies(done.results)
    summary = {
        "kind": "compass-answers",
        "model": label,
        "backend": done.identity,
        **settings.recorded_args(),
        "n_requests": len(requests),
        "n_failed_requests": int(replies["error"].notna().sum()),
        "parse_status": {str(k): int(v) for k, v in answers["parse_status"].value_counts().items()},
        "templates": template_sources(template_set, ["compass"]),
        **completeness.summary_fields(),
        **accumulated_usage(out, usage_of(done.totals)),
    }
    write_run(out, summary, {ANSWERS: answers, REPLIES: replies})
    answers.attrs["completeness"] = completeness
    return answers


def _replies(results: Sequence[RunResult]) -> pd.DataFrame:
    """The model's raw text (or error) per request, for auditing the parsed ratings."""
    return pd.DataFrame(
        [
            {
                "country": r.request.metadata.get("country"),
                "scenario": r.request.metadata.get("scenario"),
                "variant": r.request.metadata.get("variant"),
                "text": r.response.text if r.response is not None else None,
                "error": r.error,
                "cached": r.cached,
            }
            for r in results
        ],
        columns=["country", "scenario", "variant", "text", "error", "cached"],
    )
