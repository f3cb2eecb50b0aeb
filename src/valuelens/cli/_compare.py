"""`valuelens compare`: several runs side by side, on the terminal and as CSV and JSON.

valuelens compare runs/gpt-4o-mini runs/gemma-2-9b --sort alignment_rate --out runs/compare
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table

from valuelens.cli._console import console, err_console

if TYPE_CHECKING:
    from valuelens.report._compare import AxisTable, Comparison

_SORT_NAMES = {
    "alignment_rate": "alignment rate",
    "distance": "mean distance",
    "accuracy": "accuracy",
}


def show_comparison(comparison: Comparison) -> None:
    """Print the warnings, the leaderboard and the per-country and per-topic/scenario tables."""
    if comparison.differences:
        err_console.print(
            "[yellow]warning: the runs cover different pair sets: "
            f"{'; '.join(comparison.differences)}. Their numbers are not directly comparable.[/]",
            highlight=False,
            soft_wrap=True,
        )
    if comparison.scoring_modes:
        modes = ", ".join(f"{label}: {mode}" for label, mode in comparison.scoring_modes.items())
        err_console.print(
            f"[yellow]warning: the runs were scored in different modes ({modes}); "
            "pairs without a choice count differently.[/]",
            highlight=False,
            soft_wrap=True,
        )
    console.print(_leaderboard(comparison))
    for table in comparison.axes:
        if table.key == "alignment_rate":
            console.print(_axis(table))


def _leaderboard(comparison: Comparison) -> Table:
    kind = "value-action" if comparison.kind == "value-action" else "ValueCompass"
    entries = comparison.leaderboard
    show_misaligned = any(e.misaligned is not None for e in entries)
    show_without = any(e.n_pairs_without_choice is not None for e in entries)
    # compact (no vertical rules, CI under the rate) so that it fits in 80 columns
    table = Table(
        title=f"Leaderboard: {len(entries)} {kind} runs, sorted by {_SORT_NAMES[comparison.sort]}",
        title_justify="left",
        caption="alignment rate: F1 with its 95% bootstrap CI; distance: mean over "
        "country x value" + ("; no choice: pairs without a Task 2 choice" if show_without else ""),
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("run", overflow="fold", min_width=8)
    headers = ["alignment\nrate\n(95% CI)", "accuracy"]
    headers += ["misaligned\npairs"] if show_misaligned else []
    headers += ["distance\n(country)", "pairs"]
    headers += ["no\nchoice"] if show_without else []
    for header in headers:
        table.add_column(header, justify="right", no_wrap=True)
    for e in entries:
        run = e.label if not e.model or e.model == e.label else f"{e.label}\n[dim]{e.model}[/]"
        ci = f"{_num(e.ci_low)}-{_num(e.ci_high)}" if math.isfinite(e.ci_low) else "—"
        cells = [str(e.rank), run, f"[bold]{_num(e.alignment_rate)}[/]\n[dim]{ci}[/]"]
        cells.append(_num(e.accuracy))
        cells += [_int(e.misaligned)] if show_misaligned else []
        cells += [_num(e.distance_mean), _int(e.n_pairs)]
        cells += [_int(e.n_pairs_without_choice)] if show_without else []
        table.add_row(*cells, end_section=e is not entries[-1])
    return table


def _axis(axis_table: AxisTable) -> Table:
    several = len(axis_table.runs) > 1
    table = Table(
        title=f"Alignment rate by {axis_table.axis}",
        title_justify="left",
        caption="best run in bold green; spread = best - worst" if several else None,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column(axis_table.axis, overflow="fold")
    for label in axis_table.runs:
        table.add_column(label, justify="right", no_wrap=True)
    if several:
        table.add_column("spread", justify="right")
    for row in axis_table.rows:
        cells = [f"[bold green]{_num(v)}[/]" if v == row.best else _num(v) for v in row.values]
        table.add_row(row.name, *cells, *([_num(row.spread)] if several else []))
    return table


def _num(value: float) -> str:
    return f"{value:.3f}" if math.isfinite(value) else "—"


def _int(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def write_comparison(comparison: Comparison, out: Path) -> list[Path]:
    """Write leaderboard.csv, by_<axis>.csv (alignment rate) and compare.json into `out`."""
    from valuelens._errors import ValuelensError
    from valuelens.report._compare import axis_frame, comparison_dict, leaderboard_frame

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValuelensError(f"cannot create output directory {out}: {exc.strerror}") from None
    written = [out / "leaderboard.csv"]
    leaderboard_frame(comparison).to_csv(written[0], index=False)
    for table in comparison.axes:
        if table.key == "alignment_rate":
            path = out / f"by_{table.axis}.csv"
            axis_frame(table).to_csv(path, index=False)
            written.append(path)
    data: dict[str, Any] = comparison_dict(comparison)
    path = out / "compare.json"
    path.write_text(
        json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8"
    )
    written.append(path)
    return written


def register(app: typer.Typer) -> None:
    """Add `compare` to the main app."""

    @app.command()
    def compare(
        run_dirs: Annotated[
            list[Path],
            typer.Argument(
                help="Run directories from `valuelens score`, `evaluate` or `compass score` "
                "(all of one kind).",
                show_default=False,
            ),
        ],
        out: Annotated[
            Path | None,
            typer.Option(
                "--out",
                "-o",
                help="Also write leaderboard.csv, by_country.csv, by_topic.csv "
                "(by_scenario.csv for ValueCompass runs) and compare.json in this folder.",
            ),
        ] = None,
        sort: Annotated[
            str,
            typer.Option(
                help="Rank by alignment_rate (highest first), distance (smallest first) "
                "or accuracy (highest first)."
            ),
        ] = "alignment_rate",
    ) -> None:
        """Compare runs: a leaderboard, then alignment rate by country and by topic, per run.

        Example: valuelens compare runs/gpt-4o-mini runs/gemma-2-9b --out runs/compare
        """
        from valuelens._errors import ValuelensError
        from valuelens.report._compare import SORT_KEYS, compare_runs
        from valuelens.report._load import load_runs

        key = sort.strip().lower()
        if key not in SORT_KEYS:
            raise ValuelensError(f"--sort takes {', '.join(SORT_KEYS)}, not {sort!r}")
        comparison = compare_runs(load_runs(run_dirs), sort=key)
        show_comparison(comparison)
        if out is not None:
            written = write_comparison(comparison, out)
            console.print(f"[dim]wrote {', '.join(p.name for p in written)} to {out}[/]")
