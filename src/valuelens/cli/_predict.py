"""`valuelens predict`: can an observer model tell which action a target chose, from explanations?

valuelens predict score outputs/evaluation/explanations --out runs/predict-paper
valuelens predict run --run runs/gpt-4o-mini --model openai:gpt-4o-mini --out runs/predict-4o
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from valuelens._rundir import holds_run_dir
from valuelens.cli._console import console, escape, exit_if_incomplete, print_info, print_note
from valuelens.cli._evaluate import WaitOpt

if TYPE_CHECKING:
    import pandas as pd

_PREDICTIONS = "predictions"
_SCORES = "scores"


def _ordered_scores(predictions: pd.DataFrame) -> pd.DataFrame:
    """Scores per target and setting, settings in their canonical order."""
    from valuelens.metrics._predict import prediction_scores
    from valuelens.prompts._variants import PREDICT_SETTINGS

    scores = prediction_scores(predictions, by=["target", "setting"])
    rank = {s: i for i, s in enumerate(PREDICT_SETTINGS)}
    order = scores["setting"].map(lambda s: rank.get(s, len(rank)))
    return (
        scores.assign(_order=order)
        .sort_values(["target", "_order"], kind="stable")
        .drop(columns="_order")
    )


def _scores_summary(scores: pd.DataFrame) -> dict[str, dict[str, dict[str, Any]]]:
    """{target: {setting: {f1, accuracy, n, n_scored, n_unparsed, ...}}}."""
    nested: dict[str, dict[str, dict[str, Any]]] = {}
    for row in scores.to_dict("records"):
        fields = {str(k): v for k, v in row.items() if k not in ("target", "setting")}
        nested.setdefault(str(row["target"]), {})[str(row["setting"])] = fields
    return nested


def show_prediction_scores(scores: pd.DataFrame, title: str, out: Path | None = None) -> None:
    """Print F1, accuracy and the share of True predictions per target and setting."""
    table = Table(title=escape(title), title_justify="left")
    for name, justify in (
        ("target", "left"),
        ("setting", "left"),
        ("F1", "right"),
        ("acc.", "right"),
        ("% True", "right"),
        ("n", "right"),
        ("unread", "right"),
    ):
        table.add_column(
            name,
            justify=justify,  # type: ignore[arg-type]
            no_wrap=name in ("target", "setting"),
            min_width=len("attribution_explanation") if name == "setting" else None,
        )
    for row in scores.to_dict("records"):
        table.add_row(
            escape(str(row["target"])),
            str(row["setting"]),
            f"{row['f1']:.3f}",
            f"{row['accuracy']:.3f}",
            f"{100 * row['predicted_true_rate']:.0f}",
            str(row["n"]),
            str(row["n_unparsed"]),
        )
    console.print(table)
    if out is not None:
        print_info(f"wrote {out}/summary.json, {_PREDICTIONS} and {_SCORES} tables", style="dim")


def score_predictions(paths: Sequence[Path], out: Path | None = None) -> dict[str, Any]:
    """Load prediction files, score them per target and setting, and (with `out`) write a run.

    Returns:
        The summary (`scores`: {target: {setting: {f1, accuracy, n, ...}}}).
    """
    from valuelens.data._predictions import load_predictions
    from valuelens.report import write_run

    predictions = load_predictions(paths)
    scores = _ordered_scores(predictions)
    summary: dict[str, Any] = {
        "kind": "predict-scores",
        "sources": [str(p) for p in paths],
        "positive_class": True,
        "parse_status": {
            str(k): int(v) for k, v in predictions["parse_status"].value_counts().items()
        },
        "scores": _scores_summary(scores),
    }
    if out is not None:
        write_run(out, summary, {_PREDICTIONS: predictions, _SCORES: scores})
    show_prediction_scores(scores, "action prediction from explanations", out)
    return summary


def _read_run_table(run: Path, name: str) -> pd.DataFrame:
    import pandas as pd

    from valuelens._errors import ValuelensError
    from valuelens.data._io import read_table

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
    import json

    try:
        summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return run.name
    label = summary.get("label") or summary.get("model") if isinstance(summary, dict) else None
    return str(label) if label else run.name


@holds_run_dir("out")
def run_predictions(
    run: Path,
    model: str,
    out: Path,
    *,
    settings: str = "all",
    shots: int = 10,
    seed: int = 0,
    max_pairs: int | None = None,
    temperature: float = 0.0,
    concurrency: int = 8,
    base_urls: Sequence[str] = (),
    templates: Path | None = None,
    progress: bool = True,
    dry_run: bool = False,
    wait: bool = False,
) -> dict[str, Any] | None:
    """Build items from an `evaluate` run, ask the observer model, score and write `out`.

    Returns:
        The summary (with `complete` and `requests_failed_by_stage`, see
        `valuelens._completeness`), or None for a dry run (which only prints what would be sent).
    """
    from valuelens._completeness import Completeness, accumulated_usage, usage_of
    from valuelens.models import load_backend
    from valuelens.prompts import load_templates
    from valuelens.report import write_run
    from valuelens.runner import Runner, Store
    from valuelens.tasks._predict import predict_items, predict_task, split_examples

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
    backend = load_backend(model, base_urls=base_urls)
    target = _target_label(run)
    with Store(out / "cache.sqlite") as store:
        runner = Runner(backend, store, concurrency=concurrency, progress=progress)
        if dry_run:
            print_info(runner.estimate(requests).summary())
            return None
        results = asyncio.run(_run_and_close(runner, backend, requests))
    completeness = Completeness.of({"predict": results}, runner.totals)
    observer = str(backend.identity.get("model") or model)
    predictions = task.to_frame(task.parse_many(results)).assign(target=target, observer=observer)
    scores = _ordered_scores(predictions)
    summary: dict[str, Any] = {
        "kind": "predict-run",
        "run": str(run),
        "target": target,
        "observer": model,
        "backend": backend.identity,
        "settings": list(task.settings),
        "shots_per_label": shots,
        "n_examples": len(examples),
        "n_items": len(tests),
        "n_pairs_decided": len(items) // 2,
        "seed": seed,
        "temperature": temperature,
        "templates": str(templates) if templates else "built-in",
        "positive_class": True,
        "parse_status": {
            str(k): int(v) for k, v in predictions["parse_status"].value_counts().items()
        },
        **completeness.summary_fields(),
        **accumulated_usage(out, usage_of(runner.totals)),
        "scores": _scores_summary(scores),
    }
    write_run(
        out,
        summary,
        {
            "items": tests,
            "examples": examples,
            _PREDICTIONS: predictions,
            _SCORES: scores,
        },
    )
    show_prediction_scores(scores, f"{observer} predicting {target}'s choices", out)
    return summary


async def _run_and_close(runner: Any, backend: Any, requests: list[Any]) -> Any:
    try:
        return await runner.run(requests)
    finally:
        await backend.aclose()


def register(app: typer.Typer) -> None:
    """Add the `predict` command group to the main app."""
    predict = typer.Typer(
        help="Predicting gaps from explanations: can an observer model tell which action a "
        "target model chose, from the action alone or with its attributions and explanation?",
        no_args_is_help=True,
    )
    app.add_typer(predict, name="predict")

    @predict.command()
    def score(
        paths: Annotated[
            list[Path],
            typer.Argument(
                help="The authors' {target}_explanation_outputs_{setting}.csv files, folders "
                "of them, or predictions tables (e.g. predictions.parquet of `predict run`).",
            ),
        ],
        out: Annotated[Path, typer.Option("--out", help="Directory to write.")],
    ) -> None:
        """Score predictions: binary F1 (positive = chosen) and accuracy per target and setting."""
        score_predictions(paths, out)

    @predict.command()
    def run(
        run_dir: Annotated[
            Path, typer.Option("--run", help="Directory of a `valuelens evaluate` run.")
        ],
        out: Annotated[Path, typer.Option("--out", help="Directory to write (with its cache).")],
        model: Annotated[
            str, typer.Option(help="Observer model: 'embedded', 'openai:NAME', ...")
        ] = "embedded",
        settings: Annotated[
            str,
            typer.Option(
                help="default, attribution, explanation, attribution_explanation "
                "(comma-separated) or 'all'."
            ),
        ] = "all",
        shots: Annotated[
            int,
            typer.Option(
                help="Few-shot pairs: both actions of each are shown, so SHOTS chosen and "
                "SHOTS rejected examples (the authors used 10 + 10)."
            ),
        ] = 10,
        seed: Annotated[int, typer.Option(help="Seed for drawing examples and items.")] = 0,
        pairs: Annotated[
            int | None,
            typer.Option(help="Test pairs to draw (two items each); default: all the others."),
        ] = None,
        temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.0,
        concurrency: Annotated[int, typer.Option(help="Requests in flight.")] = 8,
        base_url: Annotated[
            list[str] | None,
            typer.Option(help="API root for openai/anthropic specs (repeat for replicas)."),
        ] = None,
        templates: Annotated[
            Path | None,
            typer.Option(help="Template folder with predict/observer.jinja (your wording)."),
        ] = None,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Print requests, tokens and cost; send nothing.")
        ] = False,
        wait: WaitOpt = False,
    ) -> None:
        """Ask an observer model which of a run's actions the target chose, in each setting."""
        summary = run_predictions(
            run_dir,
            model,
            out,
            settings=settings,
            shots=shots,
            seed=seed,
            max_pairs=pairs,
            temperature=temperature,
            concurrency=concurrency,
            base_urls=base_url or (),
            templates=templates,
            dry_run=dry_run,
            wait=wait,
        )
        if summary is not None:
            print_note(
                f"{summary['n_items']} items x {len(summary['settings'])} settings, "
                f"{summary['n_examples']} examples; parse status {summary['parse_status']}"
            )
            exit_if_incomplete(summary.get("incomplete"))
