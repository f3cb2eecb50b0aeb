"""`predict`: can an observer model tell which action a target chose, from its explanations?"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Required, TypedDict, Unpack, cast

import pandas as pd

from valuelens._errors import ValuelensError
from valuelens._rundir import holds_run_dir
from valuelens.data._io import read_table
from valuelens.data._predictions import _files as prediction_files
from valuelens.data._predictions import load_predictions
from valuelens.metrics._predict import prediction_scores
from valuelens.pipeline._completeness import Completeness, accumulated_usage, usage_of
from valuelens.pipeline._session import (
    ConnectionOptions,
    SessionSettings,
    open_session,
    run_requests,
    session_settings,
)
from valuelens.prompts import load_templates
from valuelens.prompts._variants import PREDICT_SETTINGS
from valuelens.report import write_run
from valuelens.runner import Estimate
from valuelens.tasks._predict import predict_items, predict_task, split_examples

PREDICTIONS = "predictions"
"""The table of every prediction (one row per item and setting)."""
SCORES = "scores"
"""The table of scores per target and setting."""


class SettingScores(TypedDict):
    """The scores of one target in one setting (positive class: chosen)."""

    n: int
    n_scored: int
    n_unparsed: int
    f1: float
    accuracy: float
    precision: float
    recall: float
    predicted_true_rate: float


ScoresByTarget = dict[str, dict[str, SettingScores]]
"""{target: {setting: scores}}, settings in their canonical order."""


class PredictScores(TypedDict):
    """The summary `predict score` writes."""

    kind: Literal["predict-scores"]
    sources: list[str]
    positive_class: bool
    parse_status: dict[str, int]
    scores: ScoresByTarget


class FileScores(TypedDict, total=False):
    """The scores of one predictions file (`predict score --json` prints one per line)."""

    file: Required[str]
    target: str
    setting: str
    f1: Required[float]
    accuracy: Required[float]
    n: Required[int]
    n_unparsed: Required[int]


def score_predictions(paths: Sequence[Path], out: Path | None = None) -> PredictScores:
    """Load prediction files, score them per target and setting, and (with `out`) write a run.

    Returns:
        The summary (`scores`: {target: {setting: {f1, accuracy, n, ...}}}, in the canonical
        order of the settings).
    """
    predictions = load_predictions(paths)
    scores = _ordered_scores(predictions)
    summary = PredictScores(
        kind="predict-scores",
        sources=[str(p) for p in paths],
        positive_class=True,
        parse_status=_status_counts(predictions),
        scores=_scores_summary(scores),
    )
    if out is not None:
        write_run(out, summary, {PREDICTIONS: predictions, SCORES: scores})
    return summary


def score_prediction_files(paths: Sequence[Path]) -> list[FileScores]:
    """Score each predictions file on its own (folders stand for the files in them).

    `target` and `setting` are given when the file holds one of each and they are known
    (the authors' `{target}_explanation_outputs_{setting}.csv` names both).
    """
    scored: list[FileScores] = []
    for path in prediction_files(paths):
        predictions = load_predictions(path)
        row = prediction_scores(predictions, by=[]).iloc[0]
        entry = FileScores(
            file=str(path),
            f1=float(row["f1"]),
            accuracy=float(row["accuracy"]),
            n=int(row["n"]),
            n_unparsed=int(row["n_unparsed"]),
        )
        for column in ("target", "setting"):
            names = predictions[column].dropna().unique()
            if len(names) == 1 and names[0] != "unknown":
                entry[column] = str(names[0])
        scored.append(entry)
    return scored


def _status_counts(predictions: pd.DataFrame) -> dict[str, int]:
    return {str(k): int(v) for k, v in predictions["parse_status"].value_counts().items()}


@holds_run_dir("out")
def run_predictions(
    run: Path,
    session: SessionSettings | str,
    out: Path,
    *,
    settings: str = "all",
    shots: int = 10,
    seed: int = 0,
    max_pairs: int | None = None,
    temperature: float = 0.0,
    templates: Path | None = None,
    dry_run: bool = False,
    wait: bool = False,
    **options: Unpack[ConnectionOptions],
) -> dict[str, Any] | Estimate:
    """Build items from an `evaluate` run, ask the observer model, score and write `out`.

    `session` is the observer (a model spec, or `SessionSettings` saying how to reach it;
    its other fields may also be given one by one, as `options`). Its cache is the shared
    store (or the one an older version left in `out`, see `run_cache`) unless `store` names
    another; `out/requests.json` records which.

    Returns:
        The summary (with `complete` and `requests_failed_by_stage`, see
        `valuelens.pipeline.Completeness`), or for a dry run the estimate of what would be
        sent.
    """
    observer = session_settings(session, options)
    items = predict_items(_read_run_table(run, "actions"), _read_run_table(run, "responses_action"))
    examples, tests = split_examples(items, shots, seed=seed, max_pairs=max_pairs)
    task = predict_task(
        examples,
        settings=settings,
        templates=load_templates(templates, tasks=("predict",)) if templates else None,
        temperature=temperature,
        seed=seed,
    )
    requests = task.build_requests(tests)
    target = _target_label(run)
    done = run_requests(open_session(observer, run_dir=out), requests, dry_run=dry_run)
    if isinstance(done, Estimate):
        return done
    completeness = Completeness.of({"predict": done.results}, done.totals)
    predictions = task.to_frame(task.parse_many(done.results)).assign(
        target=target, observer=str(done.identity.get("model") or observer.model)
    )
    scores = _ordered_scores(predictions)
    summary: dict[str, Any] = {
        "kind": "predict-run",
        "run": str(run),
        "target": target,
        "observer": observer.model,
        "backend": done.identity,
        **observer.recorded_args(),
        "settings": list(task.settings),
        "shots_per_label": shots,
        "n_examples": len(examples),
        "n_items": len(tests),
        "n_pairs_decided": len(items) // 2,
        "seed": seed,
        "temperature": temperature,
        "templates": str(templates) if templates else "built-in",
        "positive_class": True,
        "parse_status": _status_counts(predictions),
        **completeness.summary_fields(),
        **accumulated_usage(out, usage_of(done.totals)),
        "scores": _scores_summary(scores),
    }
    tables = {"items": tests, "examples": examples, PREDICTIONS: predictions, SCORES: scores}
    write_run(out, summary, tables)
    return summary


def _ordered_scores(predictions: pd.DataFrame) -> pd.DataFrame:
    """Scores per target and setting, settings in their canonical order."""
    scores = prediction_scores(predictions, by=["target", "setting"])
    rank = {s: i for i, s in enumerate(PREDICT_SETTINGS)}
    order = scores["setting"].map(lambda s: rank.get(s, len(rank)))
    return (
        scores.assign(_order=order)
        .sort_values(["target", "_order"], kind="stable")
        .drop(columns="_order")
    )


def _scores_summary(scores: pd.DataFrame) -> ScoresByTarget:
    """{target: {setting: {f1, accuracy, n, n_scored, n_unparsed, ...}}}."""
    nested: ScoresByTarget = {}
    for row in scores.to_dict("records"):
        fields = {str(k): v for k, v in row.items() if k not in ("target", "setting")}
        nested.setdefault(str(row["target"]), {})[str(row["setting"])] = cast(SettingScores, fields)
    return nested


def _read_run_table(run: Path, name: str) -> pd.DataFrame:
    parquet, csv = run / f"{name}.parquet", run / f"{name}.csv"
    if parquet.is_file():
        return pd.read_parquet(parquet)
    if csv.is_file():
        return read_table(csv, what=f"the run's {name} table")
    raise ValuelensError(
        f"{run} has no {name} table; pass the directory of a `valuelens evaluate` run "
        "that ran Task 2"
    )


def _target_label(run: Path) -> str:
    try:
        summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return run.name
    label = summary.get("label") or summary.get("model") if isinstance(summary, dict) else None
    return str(label) if label else run.name
