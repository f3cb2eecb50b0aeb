"""The self-contained HTML report: one file, no network resources, every model text escaped.

This module assembles the page: it loads the runs, asks each section module for its part
(`_value_action`, `_compass`, `_comparison`, `_items`) and each registered section
(`_sections.register_section`) for its body, and renders `templates/report.html.j2`.

Example:
    >>> from valuelens.report import render_report  # doctest: +SKIP
    >>> render_report([Path("runs/gpt-4o-mini"), Path("runs/llama")], Path("report.html"))  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from markupsafe import Markup

from valuelens._errors import ValuelensError
from valuelens._rundir import reason, write_text_atomic
from valuelens.report import _figures as fig
from valuelens.report import _svg as svg
from valuelens.report._comparison import comparison, compass_comparison
from valuelens.report._compass import compass_view
from valuelens.report._draw import write_figures
from valuelens.report._load import CompassRun, LoadedRun, ValueActionRun, load_runs
from valuelens.report._sections import (
    TEMPLATES,
    BuiltSection,
    SectionContext,
    build_sections,
    report_environment,
)
from valuelens.report._value_action import run_view
from valuelens.runs import COMPASS, SUMMARY_MODELS, VALUE_ACTION
from valuelens.taxonomy import load_taxonomy

# how the title and subtitle name each kind of run a report holds
_KIND_TITLES: dict[str, str] = {
    VALUE_ACTION: "Value-action gap",
    COMPASS: "ValueCompass",
    "value-action-responses": "Value-action responses",
    "compass-answers": "ValueCompass answers",
    "predict-scores": "Value prediction",
    "predict-run": "Value prediction",
}
_KIND_SUBTITLES: dict[str, str] = {
    VALUE_ACTION: "stated values (Task 1) against value-informed actions (Task 2)",
    COMPASS: "human survey answers against model answers (ValueCompass)",
}


def render_report(
    run_dirs: Sequence[Path],
    out: Path,
    *,
    figures_dir: Path | None = None,
    title: str | None = None,
    all_pairs: bool = False,
) -> Path:
    """Write one self-contained HTML report for one or more run directories.

    Args:
        run_dirs: directories written by `valuelens score`, `valuelens evaluate` or
            `valuelens compass score` (each holds a `summary.json`).
        out: the HTML file to write (parent folders are created).
        figures_dir: when given, the same figures are also written there as PNG and SVG.
        title: page title; by default it names the runs.
        all_pairs: compare value-action runs each on its own pairs, not on the pairs that
            every run scored (the default, as `valuelens compare`).

    Returns:
        the path of the written HTML file.

    Raises:
        ValuelensError: when a run directory is missing or unreadable.
    """
    runs = load_runs([Path(p) for p in run_dirs])
    page = build_page(runs, title=title, all_pairs=all_pairs)
    html = report_environment().get_template("report.html.j2").render(page=page)
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValuelensError(f"cannot write report to {out}: {reason(exc)}") from None
    write_text_atomic(out, html)  # a kill while writing leaves the old report, never half of one
    if figures_dir is not None:
        write_figures(page.figures, Path(figures_dir))
    return out


@dataclass
class Page:
    """Everything the template needs."""

    title: str
    subtitle: str
    generated: str
    version: str
    runs: list[dict[str, object]]
    compass_runs: list[dict[str, object]]
    comparison: dict[str, object] | None
    compass_comparison: dict[str, object] | None
    meta: list[dict[str, str]]
    figures: list[tuple[str, fig.Figure]]
    css: Markup
    js: Markup
    csp: str
    nav: list[tuple[str, str]]
    gradients: list[svg.LegendLayout]
    has_items: bool
    has_variants: bool
    incomplete: list[str] = field(default_factory=list)
    sections: list[BuiltSection] = field(default_factory=list)
    """Registered sections (`register_section`) with something to show, in page order."""


def build_page(
    runs: Sequence[LoadedRun], *, title: str | None = None, all_pairs: bool = False
) -> Page:
    """Compute every table, figure and embedded data set of the report."""
    taxonomy = load_taxonomy()
    figures: list[tuple[str, fig.Figure]] = []
    va_runs = [r for r in runs if isinstance(r, ValueActionRun)]
    compass = [r for r in runs if isinstance(r, CompassRun)]
    scales = {
        "stated": fig.polarity_scale("agree", "disagree", "stated"),
        "chosen": fig.polarity_scale("positive action", "negative action", "chosen"),
        # one distance scale per axis, shared by all runs so their heatmaps compare directly
        "distance-country": fig.distance_scale(
            _max_distance(va_runs, "country"), "distance-country"
        ),
        "distance-topic": fig.distance_scale(_max_distance(va_runs, "topic"), "distance-topic"),
    }
    folders = _folders(runs)
    run_views = [
        run_view(i, r, taxonomy, scales, figures, folders[id(r)]) for i, r in enumerate(va_runs)
    ]
    compass_views = [
        compass_view(i, r, taxonomy, figures, folders[id(r)]) for i, r in enumerate(compass)
    ]
    compared = comparison(va_runs, taxonomy, figures, all_pairs) if len(va_runs) > 1 else None
    compass_compared = compass_comparison(compass, figures) if len(compass) > 1 else None
    sections = build_sections(SectionContext(runs, taxonomy, figures, folders))
    js = (TEMPLATES / "report.js").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode("ascii")
    csp = (
        f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    return Page(
        title=title or _default_title(runs),
        subtitle=_subtitle(runs),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=_version(),
        runs=run_views,
        compass_runs=compass_views,
        comparison=compared,
        compass_comparison=compass_compared,
        meta=[_run_meta(r) for r in runs],
        figures=figures,
        css=Markup((TEMPLATES / "report.css").read_text(encoding="utf-8")),
        js=Markup(js),
        csp=csp,
        nav=_nav(va_runs, compass, compared is not None, sections),
        gradients=_gradients(figures),
        has_items=any(v["items"] is not None for v in run_views),
        has_variants=any(v["variants"] is not None for v in run_views),
        incomplete=[note for run in runs if (note := _incomplete_note(run))],
        sections=sections,
    )


def _incomplete_note(run: LoadedRun) -> str | None:
    """One line for a run whose numbers come from partial data, or None for a complete run.

    A run is incomplete when its summary says `"complete": false` (requests that failed for
    good, see `valuelens.pipeline._completeness`) or, for summaries written before that field, when
    answers are missing because their requests failed (parse status `error`).
    """
    s = run.summary
    if s.get("complete") is False:
        line = str(s.get("incomplete") or "some requests failed for good")
        return f"{run.label}: {line}"
    if s.get("complete") is not None:
        return None
    errors = 0
    for key in ("parse_status_stated", "parse_status_action", "parse_status"):
        counts = s.get(key)
        if isinstance(counts, dict) and isinstance(counts.get("error"), int):
            errors += counts["error"]
    if errors:
        return f"{run.label}: {errors:,} answers are missing because their requests failed"
    return None


def _gradients(figures: Sequence[tuple[str, fig.Figure]]) -> list[svg.LegendLayout]:
    """One gradient definition per colour scale, shared by every legend that uses it."""
    scales: dict[str, fig.ColorScale] = {}
    for _, figure in figures:
        if isinstance(figure, fig.Heatmap):
            scales.setdefault(figure.scale.key, figure.scale)
    return [svg.legend_layout(scale) for scale in scales.values()]


def _max_distance(runs: Sequence[ValueActionRun], axis: str) -> float:
    tables = [r.distance_country if axis == "country" else r.distance_topic for r in runs]
    values = [float(t["distance"].max()) for t in tables if t["distance"].notna().any()]
    return max(values, default=1.0)


def _nav(
    va_runs: Sequence[ValueActionRun],
    compass: Sequence[CompassRun],
    has_comparison: bool,
    sections: Sequence[BuiltSection] = (),
) -> list[tuple[str, str]]:
    nav = [("overview", "Overview")] if va_runs else []
    if has_comparison:
        nav.append(("comparison", "Comparison"))
    if va_runs:
        nav += [
            ("by-scenario", "By country & topic"),
            ("heatmaps", "Heatmaps"),
            ("rankings", "Rankings"),
            ("misalignment", "Misalignment"),
        ]
        if any(r.variants is not None for r in va_runs):
            nav.append(("robustness", "Robustness"))
        if any(r.has_items for r in va_runs):
            nav.append(("items", "Items"))
    if compass:
        nav.append(("compass", "Human vs model"))
    nav += [(section.key, section.title) for section in sections]
    nav.append(("about", "About"))
    return nav


def _default_title(runs: Sequence[LoadedRun]) -> str:
    """Named after what the report holds: value-action runs first, else ValueCompass, else the rest."""
    labels = [r.label for r in runs]
    shown = ", ".join(labels[:3]) + (f" and {len(labels) - 3} more" if len(labels) > 3 else "")
    kinds = _kinds(runs)
    if VALUE_ACTION in kinds:
        what = _KIND_TITLES[VALUE_ACTION]
    else:
        names = list(dict.fromkeys(_kind_title(kind) for kind in kinds))
        what = " and ".join(names) if len(names) < 3 else "valuelens"
    return f"{what} report: {shown}"


def _kind_title(kind: str) -> str:
    return _KIND_TITLES.get(kind) or kind.replace("-", " ").replace("_", " ").capitalize()


def _subtitle(runs: Sequence[LoadedRun]) -> str:
    parts = [_kind_subtitle(kind) for kind in _kinds(runs)]
    text = "; ".join(parts)
    return text[:1].upper() + text[1:]


def _kind_subtitle(kind: str) -> str:
    """The known kinds' own line, else the first line of the kind's summary model's docstring."""
    if kind in _KIND_SUBTITLES:
        return _KIND_SUBTITLES[kind]
    model = SUMMARY_MODELS.get(kind)
    doc = (model.__doc__ or "").strip().splitlines() if model is not None else []
    line = doc[0].strip().rstrip(".") if doc else ""
    return f"{_kind_title(kind)} runs" + (f": {line[:1].lower()}{line[1:]}" if line else "")


def _kinds(runs: Sequence[LoadedRun]) -> list[str]:
    """The run kinds present, value-action and ValueCompass first, then in the runs' order."""
    present = list(dict.fromkeys(str(r.kind) for r in runs))
    first = [k for k in (VALUE_ACTION, COMPASS) if k in present]
    return first + [k for k in present if k not in first]


def _version() -> str:
    try:
        return version("valuelens")
    except PackageNotFoundError:
        return "unknown"


def _folders(runs: Sequence[LoadedRun]) -> dict[int, str]:
    """A distinct, file-system-safe folder name per run for exported figures."""
    names: dict[int, str] = {}
    used: set[str] = set()
    for run in runs:
        base = re.sub(r"[^A-Za-z0-9._-]+", "-", run.label).strip("-.") or "run"
        name, n = base, 2
        while name in used:
            name, n = f"{base}-{n}", n + 1
        used.add(name)
        names[id(run)] = name
    return names


def _yes_no(flag: object) -> str:
    return "yes" if flag is True else "no" if flag is False else "—"


def _run_meta(run: LoadedRun) -> dict[str, str]:
    s = run.summary
    boot = s.get("bootstrap") or {}
    rows = {
        "Run": run.label,
        "Kind": run.kind,
        "Model": str(s.get("model") or "—"),
        "Directory": run.path.name,
        "Taxonomy": str(s.get("taxonomy_version") or "—"),
        "Paper-compatible": _yes_no(s.get("paper_compat")),
        "Variants (stated / action)": f"{s.get('n_stated_variants', '—')} / "
        f"{s.get('n_action_variants', '—')}",
        "Bootstrap": (
            f"{boot.get('n_resamples', '—')} resamples, seed {boot.get('seed', '—')}, "
            f"level {boot.get('level', '—')}"
        )
        if boot
        else "—",
    }
    return rows
