"""The pipeline: each command that runs a model, from its options to its run directory.

Every function here opens one session (`open_session`: backend, cache and runner, closed on
every exit path), sends its requests through it, and writes what it found; the CLI only parses
options, calls one of these and prints.

Example:
    >>> from valuelens.pipeline import EvaluateConfig, evaluate  # doctest: +SKIP
    >>> outcome = evaluate(EvaluateConfig(out=Path("runs/x"), countries="Canada"))  # doctest: +SKIP
    >>> outcome.summary["alignment_rate"]  # doctest: +SKIP
"""

from valuelens.pipeline._compass import collect_compass_answers, score_compass
from valuelens.pipeline._completeness import Completeness, accumulated_usage, usage_of
from valuelens.pipeline._evaluate import (
    EVALUATE_TASKS,
    EvaluateConfig,
    EvaluateOutcome,
    estimate,
    estimate_async,
    evaluate,
    evaluate_async,
    evaluate_tasks,
    generation_reason,
)
from valuelens.pipeline._generate import generate_actions
from valuelens.pipeline._predict import run_predictions, score_predictions
from valuelens.pipeline._session import (
    CACHE_NAME,
    LEDGER_NAME,
    Answers,
    Session,
    SessionSettings,
    default_store,
    open_session,
    output_cache,
    read_ledger,
    run_cache,
    run_requests,
)

__all__ = [
    "CACHE_NAME",
    "EVALUATE_TASKS",
    "LEDGER_NAME",
    "Answers",
    "Completeness",
    "EvaluateConfig",
    "EvaluateOutcome",
    "Session",
    "SessionSettings",
    "accumulated_usage",
    "collect_compass_answers",
    "default_store",
    "estimate",
    "estimate_async",
    "evaluate",
    "evaluate_async",
    "evaluate_tasks",
    "generate_actions",
    "generation_reason",
    "open_session",
    "output_cache",
    "read_ledger",
    "run_cache",
    "run_predictions",
    "run_requests",
    "score_compass",
    "score_predictions",
    "usage_of",
]
