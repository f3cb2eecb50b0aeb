"""The runs index: one page listing every run under a folder, with its headline numbers.

`index_runs(root)` finds each directory that holds a `summary.json` (at any depth, hidden
folders skipped) and reads it through the run record; a summary that cannot be read becomes a
row that says why instead of stopping the listing. `write_index(root)` writes `index.html`:
self-contained (inline style and script under a hash-pinned Content-Security-Policy), every
text escaped, a link to each run's `report.html` when it has one, and check boxes that select
runs for a comparison (served by `valuelens view --serve`, or as a command to copy).

Example:
    >>> rows = index_runs(Path("runs"))  # doctest: +SKIP
    >>> [(r.name, r.kind, r.complete) for r in rows]  # doctest: +SKIP
    [('gpt-4o-mini', 'value-action', True), ('llama', 'value-action', False)]
"""

from __future__ import annotations

import base64
import functools
import hashlib
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from valuelens._errors import ValuelensError
from valuelens._rundir import write_text_atomic
from valuelens.metrics import headline_measures
from valuelens.runs import SUMMARY_FILE, RunSummary, read_summary

TEMPLATES = Path(__file__).with_name("templates")
INDEX_FILE = "index.html"
REPORT_FILE = "report.html"
MAX_DEPTH = 6
"""How deep below the root run directories are looked for."""


@dataclass(frozen=True)
class Headline:
    """One headline number of a run, written for people."""

    label: str
    value: str
    interval: str


@dataclass(frozen=True)
class IndexedRun:
    """One row of the runs index.

    Attributes:
        path: the run directory relative to the indexed root (POSIX form).
        name: the run's label, else its model, else its folder name.
        kind: the run kind (`value-action`, `compass`, ...), or "unreadable".
        model: the model the run measured, when it says.
        written: when `summary.json` was last written (UTC, minutes).
        complete: False when requests failed for good, None when the run does not say.
        incomplete: why the run is incomplete, one line.
        headlines: the kind's headline measures that the summary holds.
        report: the run's report relative to the root, when it has one.
        error: why the summary could not be read (only for unreadable runs).
    """

    path: str
    name: str
    kind: str
    model: str | None
    written: str
    complete: bool | None
    incomplete: str | None
    headlines: tuple[Headline, ...]
    report: str | None
    error: str | None = None


def find_run_dirs(root: Path) -> list[Path]:
    """Every directory under `root` (itself included) that holds a `summary.json`, sorted."""
    if not root.is_dir():
        raise ValuelensError(f"{root} is not a folder of runs")
    return sorted(_walk(root, MAX_DEPTH))


def _walk(folder: Path, depth: int) -> Iterator[Path]:
    if (folder / SUMMARY_FILE).is_file():
        yield folder
    if depth == 0:
        return
    try:
        children = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError:
        return  # an unreadable folder holds no run we could show
    for child in children:
        yield from _walk(child, depth - 1)


def index_runs(root: Path) -> list[IndexedRun]:
    """One row per run directory under `root`, newest first."""
    root = Path(root)
    rows = [_indexed(run_dir, root) for run_dir in find_run_dirs(root)]
    return sorted(rows, key=lambda row: (row.written, row.path), reverse=True)


def _indexed(run_dir: Path, root: Path) -> IndexedRun:
    relative = run_dir.relative_to(root).as_posix() if run_dir != root else "."
    written = datetime.fromtimestamp((run_dir / SUMMARY_FILE).stat().st_mtime, UTC)
    report = f"{relative}/{REPORT_FILE}" if (run_dir / REPORT_FILE).is_file() else None
    try:
        summary = read_summary(run_dir)
    except ValuelensError as exc:
        return IndexedRun(
            relative,
            run_dir.name,
            "unreadable",
            None,
            f"{written:%Y-%m-%d %H:%M}",
            None,
            None,
            (),
            report,
            error=str(exc),
        )
    return IndexedRun(
        path=relative,
        name=summary.name or run_dir.resolve().name,
        kind=summary.kind,
        model=summary.model,
        written=f"{written:%Y-%m-%d %H:%M}",
        complete=summary.complete,
        incomplete=summary.incomplete,
        headlines=_headlines(summary),
        report=report,
    )


def _headlines(summary: RunSummary) -> tuple[Headline, ...]:
    shown = []
    for measure in headline_measures(summary.kind):
        value = measure.value_in(summary)
        if value is None or not measure.shown_for(summary):
            continue
        shown.append(
            Headline(measure.short, measure.format_value(value), measure.interval_text(summary))
        )
    return tuple(shown)


def compare_command(paths: list[str], out: str = "comparison.html") -> str:
    """The shell command that writes a comparison report of `paths` (relative to the root)."""
    return shlex.join(["valuelens", "report", *paths, "--out", out])


def render_index(root: Path, *, served: bool = False) -> str:
    """The HTML of the runs index of `root`.

    With `served`, the page's "Compare selected" button asks the local server
    (`valuelens view --serve`) for a comparison; otherwise it shows the command to run.
    """
    root = Path(root)
    rows = index_runs(root)
    script = (TEMPLATES / "index.js").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    csp = (
        f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    return (
        _environment()
        .get_template("index.html.j2")
        .render(
            root=root.resolve().name or str(root),
            rows=rows,
            kinds=sorted({row.kind for row in rows}),
            generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            script=script,
            csp=csp,
            served=served,
        )
    )


def write_index(root: Path, out: Path | None = None) -> Path:
    """Write the runs index of `root` to `out` (default `root/index.html`) and return its path."""
    root = Path(root)
    target = Path(out) if out is not None else root / INDEX_FILE
    html = render_index(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, html)
    return target


@functools.cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
