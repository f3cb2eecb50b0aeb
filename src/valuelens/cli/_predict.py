"""`valuelens predict`: can an observer model tell which action a target chose, from explanations?

valuelens predict score outputs/evaluation/explanations --out runs/predict-paper
valuelens predict run --run runs/gpt-4o-mini --model openai:gpt-4o-mini --out runs/predict-4o
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from valuelens.cli._console import console, escape, exit_if_incomplete, print_info, print_note
from valuelens.cli._options import (
    BaseUrlOpt,
    BatchOpt,
    ConcurrencyOpt,
    DryRunOpt,
    ModelArgOpt,
    ModelOpt,
    RpmOpt,
    SeedOpt,
    StoreOpt,
    TemperatureOpt,
    TemplatesOpt,
    TimeoutOpt,
    WaitOpt,
    session_settings,
)

if TYPE_CHECKING:
    from valuelens.pipeline._predict import SettingScores

_PREDICTIONS = "predictions"
_SCORES = "scores"


def show_prediction_scores(
    scores: Mapping[str, Mapping[str, SettingScores]], title: str, out: Path | None = None
) -> None:
    """Print F1, accuracy and the share of True predictions per target and setting.

    Args:
        scores: a summary's `scores`: {target: {setting: {f1, accuracy, n, ...}}}.
        title: the table's title.
        out: the run directory that was written, if any.
    """
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
    for target, by_setting in scores.items():
        for setting, row in by_setting.items():
            table.add_row(
                escape(str(target)),
                str(setting),
                f"{row['f1']:.3f}",
                f"{row['accuracy']:.3f}",
                f"{100 * row['predicted_true_rate']:.0f}",
                str(row["n"]),
                str(row["n_unparsed"]),
            )
    console.print(table)
    if out is not None:
        print_info(f"wrote {out}/summary.json, {_PREDICTIONS} and {_SCORES} tables", style="dim")


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
        out: Annotated[
            Path | None,
            typer.Option("--out", metavar="DIR", help="Directory to write.", show_default=False),
        ] = None,
        as_json: Annotated[
            bool,
            typer.Option(
                "--json",
                metavar="",
                help="Print one JSON object per file (file, target, setting, f1, accuracy, n) "
                "and nothing else on stdout.",
            ),
        ] = False,
    ) -> None:
        """Score predictions: binary F1 (positive = chosen) and accuracy per target and setting."""
        from valuelens.pipeline import score_predictions
        from valuelens.pipeline._predict import score_prediction_files

        if as_json:
            for entry in score_prediction_files(paths):
                typer.echo(json.dumps(entry))
            if out is not None:
                score_predictions(paths, out)
                print_note(f"wrote {out}/summary.json, {_PREDICTIONS} and {_SCORES} tables")
            return
        summary = score_predictions(paths, out)
        show_prediction_scores(summary["scores"], "action prediction from explanations", out)

    @predict.command()
    def run(
        run_dir: Annotated[
            Path,
            typer.Option("--run", metavar="DIR", help="Directory of a `valuelens evaluate` run."),
        ],
        out: Annotated[
            Path, typer.Option("--out", metavar="DIR", help="Directory to write (with its cache).")
        ],
        model: ModelOpt = "embedded",
        base_url: BaseUrlOpt = None,
        settings: Annotated[
            str,
            typer.Option(
                metavar="NAMES",
                help="default, attribution, explanation, attribution_explanation "
                "(comma-separated) or 'all'.",
            ),
        ] = "all",
        shots: Annotated[
            int,
            typer.Option(
                metavar="N",
                help="Few-shot pairs: both actions of each are shown, so SHOTS chosen and "
                "SHOTS rejected examples (the authors used 10 + 10).",
            ),
        ] = 10,
        seed: SeedOpt = 0,
        pairs: Annotated[
            int | None,
            typer.Option(
                metavar="N",
                help="Test pairs to draw (two items each).",
                show_default="all the others",
            ),
        ] = None,
        temperature: TemperatureOpt = 0.0,
        concurrency: ConcurrencyOpt = 8,
        rpm: RpmOpt = None,
        timeout: TimeoutOpt = None,
        model_arg: ModelArgOpt = None,
        batch: BatchOpt = False,
        templates: TemplatesOpt = None,
        store: StoreOpt = None,
        dry_run: DryRunOpt = False,
        wait: WaitOpt = False,
    ) -> None:
        """Ask an observer model which of a run's actions the target chose, in each setting.

        `--model` is the observer; `--templates` may hold predict/observer.jinja (your wording).
        """
        from valuelens.pipeline import run_predictions
        from valuelens.runner import Estimate

        observer = session_settings(
            model, base_url, concurrency, rpm, timeout, store, model_arg, batch=batch
        )
        summary = run_predictions(
            run_dir,
            observer,
            out,
            settings=settings,
            shots=shots,
            seed=seed,
            max_pairs=pairs,
            temperature=temperature,
            templates=templates,
            dry_run=dry_run,
            wait=wait,
        )
        if isinstance(summary, Estimate):
            print_info(summary.summary())
            return
        observer = summary["backend"].get("model") or summary["observer"]
        title = f"{observer} predicting {summary['target']}'s choices"
        show_prediction_scores(summary["scores"], title, out)
        print_note(
            f"{summary['n_items']} items x {len(summary['settings'])} settings, "
            f"{summary['n_examples']} examples; parse status {summary['parse_status']}"
        )
        exit_if_incomplete(summary.get("incomplete"))
