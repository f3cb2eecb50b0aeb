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

from valuelens.cli._console import console, escape, print_info, print_note, print_warning

if TYPE_CHECKING:
    from valuelens.report._compare import AxisTable, Comparison, PairedRow


def show_comparison(comparison: Comparison) -> None:
    """Print the warnings and notes, the leaderboard, the paired tests and the axis tables."""
    for warning in comparison.warnings:
        print_warning(f"{warning}.")
    notes = comparison.notes
    if notes:
        print_note(f"note: {notes[0]}:", style="")
        for line in notes[1:]:
            print_note(f"  {line}", style="")
    console.print(_leaderboard(comparison))
    if comparison.extra_measures:
        console.print(_extra(comparison))
    if comparison.paired:
        console.print(_paired(comparison.paired))
    for table in comparison.axes:
        if table.key == "alignment_rate":
            console.print(_axis(table))


def _paired(rows: list[PairedRow]) -> Table:
    first = rows[0].test
    scenarios = {row.test.n_scenarios for row in rows}
    over = f"{scenarios.pop():,} common scenarios" if len(scenarios) == 1 else "common scenarios"
    method = "exact permutation" if all(r.test.exact for r in rows) else "permutation"
    table = Table(
        title=f"Paired tests against the leader, {escape(rows[0].first)}",
        title_justify="left",
        caption=f"leader - run over {over}; {round(100 * first.level)}% bootstrap CI "
        f"({first.n_resamples:,} resamples); p: two-sided paired {method} test",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("run", overflow="fold", min_width=8)
    for header in ("alignment rate", "accuracy", "distance"):
        table.add_column(header, justify="right", no_wrap=True)
    from valuelens.metrics import PAIRED_MEASURES

    for row in rows:
        cells = []
        for measure in PAIRED_MEASURES:
            d = row.test.differences[measure]
            ci = f"{_signed(d.ci_low)} to {_signed(d.ci_high)}"
            cells.append(f"[bold]{_signed(d.difference)}[/]\n[dim]{ci}[/]\n{_p(d.p_value)}")
        table.add_row(escape(row.second), *cells, end_section=row is not rows[-1])
    return table


def _signed(value: float) -> str:
    return f"{value:+.3f}" if math.isfinite(value) else "—"


def _p(value: float) -> str:
    if not math.isfinite(value):
        return "p —"
    return "p<0.001" if value < 0.001 else f"p={value:.3f}"


def _leaderboard(comparison: Comparison) -> Table:
    from valuelens.runs import VALUE_ACTION

    kind = "value-action" if comparison.kind == VALUE_ACTION else "ValueCompass"
    entries = comparison.leaderboard
    show_misaligned = any(e.misaligned is not None for e in entries)
    show_without = any(e.n_pairs_without_choice is not None for e in entries)
    # compact (no vertical rules, CI under the rate) so that it fits in 80 columns
    table = Table(
        title=f"Leaderboard: {len(entries)} {kind} runs, "
        f"sorted by {escape(comparison.sort_measure.short)}",
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
    headers += ["distance\n(country)", "pairs\ncompared"]
    headers += ["no\nchoice"] if show_without else []
    for header in headers:
        table.add_column(header, justify="right", no_wrap=True)
    for e in entries:
        label, model = escape(e.label), escape(e.model or "")
        run = label if not e.model or e.model == e.label else f"{label}\n[dim]{model}[/]"
        ci = f"{_num(e.ci_low)}-{_num(e.ci_high)}" if math.isfinite(e.ci_low) else "—"
        cells = [str(e.rank), run, f"[bold]{_num(e.alignment_rate)}[/]\n[dim]{ci}[/]"]
        cells.append(_num(e.accuracy))
        cells += [_int(e.misaligned)] if show_misaligned else []
        cells += [_num(e.distance_mean), e.pairs_text]
        cells += [_int(e.n_pairs_without_choice)] if show_without else []
        table.add_row(*cells, end_section=e is not entries[-1])
    return table


def _extra(comparison: Comparison) -> Table:
    """The leaderboard's other headline measures, one row each, one column per run."""
    entries = comparison.leaderboard
    several = len(entries) > 1
    table = Table(
        title="Leaderboard, other measures",
        title_justify="left",
        caption="best run in bold green" if several else None,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("measure", overflow="fold")
    for e in entries:
        table.add_column(escape(e.label), justify="right", no_wrap=True)
    for m in comparison.extra_measures:
        values = [e.extra.get(m.key, math.nan) for e in entries]
        best = _best(values, m.higher_is_better) if several else None
        cells = [
            f"[bold green]{m.format_value(v)}[/]" if v == best else m.format_value(v)
            for v in values
        ]
        table.add_row(escape(m.label), *cells)
    return table


def _best(values: list[float], higher_is_better: bool | None) -> float | None:
    """The best of two or more finite values, None without a direction or a contest."""
    finite = [v for v in values if math.isfinite(v)]
    if higher_is_better is None or len(set(finite)) < 2:
        return None
    return max(finite) if higher_is_better else min(finite)


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
        table.add_column(escape(label), justify="right", no_wrap=True)
    if several:
        table.add_column("spread", justify="right")
    for row in axis_table.rows:
        cells = [f"[bold green]{_num(v)}[/]" if v == row.best else _num(v) for v in row.values]
        table.add_row(escape(row.name), *cells, *([_num(row.spread)] if several else []))
    return table


def _num(value: float) -> str:
    return f"{value:.3f}" if math.isfinite(value) else "—"


def _int(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def write_comparison(comparison: Comparison, out: Path) -> list[Path]:
    """Write leaderboard.csv, by_<axis>.csv (alignment rate), paired.csv and compare.json."""
    from functools import partial

    from valuelens._rundir import run_dir_lock, staged_writes
    from valuelens.report._compare import (
        axis_frame,
        comparison_dict,
        leaderboard_frame,
        paired_frame,
    )

    data: dict[str, Any] = comparison_dict(comparison)
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    written = [out / "leaderboard.csv"]
    # All files are complete before any replaces its predecessor; compare.json goes last.
    with run_dir_lock(out), staged_writes() as stage:
        stage.add(written[0], partial(leaderboard_frame(comparison).to_csv, index=False))
        for table in comparison.axes:
            if table.key == "alignment_rate":
                path = out / f"by_{table.axis}.csv"
                stage.add(path, partial(axis_frame(table).to_csv, index=False))
                written.append(path)
        if comparison.paired:
            path = out / "paired.csv"
            stage.add(path, lambda p: paired_frame(comparison).to_csv(p, index=False))
            written.append(path)
        stage.add_text(out / "compare.json", text)
    written.append(out / "compare.json")
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
                "(by_scenario.csv for ValueCompass runs), paired.csv and compare.json in "
                "this folder.",
            ),
        ] = None,
        sort: Annotated[
            str,
            typer.Option(
                help="Rank by alignment_rate (highest first), distance (smallest first), "
                "accuracy (highest first) or any other measure key of the runs' kind that has "
                "a direction (e.g. misaligned, smallest first)."
            ),
        ] = "alignment_rate",
        all_pairs: Annotated[
            bool,
            typer.Option(
                "--all-pairs",
                help="Score each value-action run on its own pairs (its summary) instead of "
                "on the pairs that every run scored.",
            ),
        ] = False,
        bootstrap: Annotated[
            int, typer.Option(help="Bootstrap resamples of the paired tests.")
        ] = 1000,
        seed: Annotated[int, typer.Option(help="Seed of the paired tests.")] = 0,
    ) -> None:
        """Compare runs: a leaderboard, paired tests, then alignment rate by country and topic.

        Value-action runs are rescored on the pairs that all of them scored (--all-pairs to
        opt out); each run is tested against the leader on the scenarios both scored.

        Example: valuelens compare runs/gpt-4o-mini runs/gemma-2-9b --out runs/compare
        """
        from valuelens.report._compare import compare_runs
        from valuelens.report._load import load_runs

        key = sort.strip().lower()
        comparison = compare_runs(
            load_runs(run_dirs), sort=key, all_pairs=all_pairs, n_resamples=bootstrap, seed=seed
        )
        show_comparison(comparison)
        if out is not None:
            written = write_comparison(comparison, out)
            print_info(f"wrote {', '.join(p.name for p in written)} to {out}", style="dim")
