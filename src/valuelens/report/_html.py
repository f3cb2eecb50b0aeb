"""The self-contained HTML report: one file, no network resources, every model text escaped.

Example:
    >>> from valuelens.report import render_report  # doctest: +SKIP
    >>> render_report([Path("runs/gpt-4o-mini"), Path("runs/llama")], Path("report.html"))  # doctest: +SKIP
"""

from __future__ import annotations

import ast
import base64
import functools
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from valuelens._errors import ValuelensError
from valuelens._rundir import reason, write_text_atomic
from valuelens.report import _figures as fig
from valuelens.report._compare import (
    PAIRED_METHOD,
    AxisTable,
    Comparison,
    as_float,
    axis_table,
    compare_runs,
    scenario_means,
    summary_by,
)
from valuelens.report._load import CompassRun, Run, ValueActionRun, load_runs
from valuelens.taxonomy import Taxonomy, load_taxonomy

TEMPLATES = Path(__file__).with_name("templates")
RANKING_K = 10
ITEMS_PAGE_SIZE = 20
_DIRECTION_CODES = {"stated_agree_chose_negative": 1, "stated_disagree_chose_positive": 2}
_JSON_SCRIPT_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_JSON_SCRIPT_RE = re.compile("[<>&\u2028\u2029]")
_PLURAL = {"country": "Countries", "topic": "Topics", "scenario": "Scenarios"}


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
    html = _environment().get_template("report.html.j2").render(page=page)
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValuelensError(f"cannot write report to {out}: {reason(exc)}") from None
    write_text_atomic(out, html)  # a kill while writing leaves the old report, never half of one
    if figures_dir is not None:
        fig.write_figures(page.figures, Path(figures_dir))
    return out


def embed_json(data: Any) -> Markup:
    r"""JSON that is safe inside a `<script type="application/json">` element.

    `<`, `>` and `&` are written as \\u escapes so no model text can close the element or open a
    comment; U+2028/2029 are escaped for old JavaScript parsers. NaN becomes null.
    """
    try:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:  # NaN or infinity somewhere: take the slow path that replaces them
        text = json.dumps(
            _json_safe(data), ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )
    return Markup(_JSON_SCRIPT_RE.sub(lambda m: _JSON_SCRIPT_ESCAPES[m.group(0)], text))


def _json_safe(data: Any) -> Any:
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {str(k): _json_safe(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_json_safe(v) for v in data]
    return data


# --------------------------------------------------------------------------- page model


@dataclass
class Chart:
    """A figure with its SVG layout and legend, as the chart macros expect."""

    kind: str
    spec: fig.Figure
    layout: Any
    legend: fig.LegendLayout | None = None
    series: list[tuple[str, str]] = field(default_factory=list)  # (name, colour) for HTML legends


Keep = Callable[[Chart], Chart]
"""Registers a chart's figure for `--figures` and returns the chart."""


def _keeper(figures: list[tuple[str, fig.Figure]], folder: str) -> Keep:
    """A `Keep` that registers figures under one run's folder."""

    def keep(chart: Chart) -> Chart:
        figures.append((folder, chart.spec))
        return chart

    return keep


@dataclass
class Headline:
    """One number on a headline card."""

    label: str
    value: str
    detail: str = ""
    hint: str = ""


@dataclass
class Page:
    """Everything the template needs."""

    title: str
    subtitle: str
    generated: str
    version: str
    runs: list[dict[str, Any]]
    compass_runs: list[dict[str, Any]]
    comparison: dict[str, Any] | None
    compass_comparison: dict[str, Any] | None
    meta: list[dict[str, str]]
    figures: list[tuple[str, fig.Figure]]
    css: Markup
    js: Markup
    csp: str
    nav: list[tuple[str, str]]
    gradients: list[fig.LegendLayout]
    has_items: bool
    has_variants: bool
    incomplete: list[str] = field(default_factory=list)


def build_page(runs: Sequence[Run], *, title: str | None = None, all_pairs: bool = False) -> Page:
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
        _run_view(i, r, taxonomy, scales, figures, folders[id(r)]) for i, r in enumerate(va_runs)
    ]
    compass_views = [
        _compass_view(i, r, taxonomy, figures, folders[id(r)]) for i, r in enumerate(compass)
    ]
    comparison = _comparison(va_runs, taxonomy, figures, all_pairs) if len(va_runs) > 1 else None
    compass_comparison = _compass_comparison(compass, figures) if len(compass) > 1 else None
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
        comparison=comparison,
        compass_comparison=compass_comparison,
        meta=[_run_meta(r) for r in runs],
        figures=figures,
        css=Markup((TEMPLATES / "report.css").read_text(encoding="utf-8")),
        js=Markup(js),
        csp=csp,
        nav=_nav(va_runs, compass, comparison is not None),
        gradients=_gradients(figures),
        has_items=any(v["items"] is not None for v in run_views),
        has_variants=any(v["variants"] is not None for v in run_views),
        incomplete=[note for run in runs if (note := _incomplete_note(run))],
    )


def _incomplete_note(run: Run) -> str | None:
    """One line for a run whose numbers come from partial data, or None for a complete run.

    A run is incomplete when its summary says `"complete": false` (requests that failed for
    good, see `valuelens._completeness`) or, for summaries written before that field, when
    answers are missing because their requests failed (parse status `error`).
    """
    s = run.summary
    if s.get("complete") is False:
        line = str(s.get("incomplete") or "some requests failed for good")
        return f"{run.label}: {line}"
    if "complete" in s:
        return None
    errors = 0
    for key in ("parse_status_stated", "parse_status_action", "parse_status"):
        counts = s.get(key)
        if isinstance(counts, dict) and isinstance(counts.get("error"), int):
            errors += counts["error"]
    if errors:
        return f"{run.label}: {errors:,} answers are missing because their requests failed"
    return None


def _gradients(figures: Sequence[tuple[str, fig.Figure]]) -> list[fig.LegendLayout]:
    """One gradient definition per colour scale, shared by every legend that uses it."""
    scales: dict[str, fig.ColorScale] = {}
    for _, figure in figures:
        if isinstance(figure, fig.Heatmap):
            scales.setdefault(figure.scale.key, figure.scale)
    return [fig.legend_layout(scale) for scale in scales.values()]


def _max_distance(runs: Sequence[ValueActionRun], axis: str) -> float:
    tables = [r.distance_country if axis == "country" else r.distance_topic for r in runs]
    values = [float(t["distance"].max()) for t in tables if t["distance"].notna().any()]
    return max(values, default=1.0)


def _nav(
    va_runs: Sequence[ValueActionRun], compass: Sequence[CompassRun], has_comparison: bool
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
    nav.append(("about", "About"))
    return nav


def _default_title(runs: Sequence[Run]) -> str:
    labels = [r.label for r in runs]
    shown = ", ".join(labels[:3]) + (f" and {len(labels) - 3} more" if len(labels) > 3 else "")
    return f"Value-action gap report: {shown}"


def _subtitle(runs: Sequence[Run]) -> str:
    kinds = {r.kind for r in runs}
    parts = []
    if "value-action" in kinds:
        parts.append("stated values (Task 1) against value-informed actions (Task 2)")
    if "compass" in kinds:
        parts.append("human survey answers against model answers (ValueCompass)")
    text = "; ".join(parts)
    return text[:1].upper() + text[1:]


def _version() -> str:
    try:
        return version("valuelens")
    except PackageNotFoundError:
        return "unknown"


def _folders(runs: Sequence[Run]) -> dict[int, str]:
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


def _yes_no(flag: Any) -> str:
    return "yes" if flag is True else "no" if flag is False else "—"


def _run_meta(run: Run) -> dict[str, str]:
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


# --------------------------------------------------------------------------- formatting


def _num(x: Any, digits: int = 3) -> str:
    try:
        value = float(x)
    except (TypeError, ValueError):
        return "—"
    return f"{value:.{digits}f}" if math.isfinite(value) else "—"


def _int(x: Any) -> str:
    try:
        return f"{int(x):,}"
    except (TypeError, ValueError):
        return "—"


def _ci(pair: Any) -> str:
    if isinstance(pair, list | tuple) and len(pair) == 2:
        return f"95% CI {_num(pair[0])} – {_num(pair[1])}"
    return ""


def _labels(taxonomy: Taxonomy, axis: str, names: Iterable[str]) -> list[str]:
    if axis in ("country", "topic"):
        return [taxonomy.label(axis, n) for n in names]  # type: ignore[arg-type]
    return list(names)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


# --------------------------------------------------------------------------- value-action run


def _run_view(
    index: int,
    run: ValueActionRun,
    taxonomy: Taxonomy,
    scales: dict[str, fig.ColorScale],
    figures: list[tuple[str, fig.Figure]],
    folder: str,
) -> dict[str, Any]:
    keep = _keeper(figures, folder)
    return {
        "id": f"run-{index}",
        "label": run.label,
        "model": run.summary.get("model") or "",
        "headlines": _headlines(run),
        "by_axis": [_axis_section(run, taxonomy, axis, keep) for axis in ("country", "topic")],
        "heatmaps": [_heatmaps(run, taxonomy, axis, scales, keep) for axis in ("country", "topic")],
        "ranked_axes": [keep(_ranked_axis(run, taxonomy, axis)) for axis in ("country", "topic")],
        "value_rankings": [
            _value_rankings(run, taxonomy, axis, index, figures, folder)
            for axis in ("country", "topic")
        ],
        "misalignment": _misalignment(run, taxonomy, keep),
        "variants": _variants(run, keep),
        "items": _items(run, taxonomy, f"items-{index}"),
    }


def _headlines(run: ValueActionRun) -> list[Headline]:
    s = run.summary
    pairs = run.pairs
    compared = int(pairs["misaligned"].notna().sum())
    misaligned = s.get("misaligned", int((pairs["misaligned"] == 1).sum()))
    agree_neg = s.get(
        "misaligned_stated_agree_chose_negative",
        int((pairs["direction"] == "stated_agree_chose_negative").sum()),
    )
    disagree_pos = s.get(
        "misaligned_stated_disagree_chose_positive",
        int((pairs["direction"] == "stated_disagree_chose_positive").sum()),
    )
    share = f" ({100 * float(misaligned) / compared:.1f}%)" if compared else ""
    n_pairs = s.get("n_pairs", len(pairs))
    cards = [
        Headline(
            "Alignment rate (F1)",
            _num(s.get("alignment_rate")),
            _ci(s.get("alignment_rate_ci")),
            "Binary F1 with 'disagree / chose negative' as the positive class, per scenario, "
            "averaged over scenarios",
        ),
        Headline(
            "Accuracy",
            _num(s.get("accuracy")),
            _ci(s.get("accuracy_ci")),
            "Share of values whose binarised statement matches the choice, per scenario, averaged",
        ),
        Headline(
            "Misaligned pairs",
            _int(misaligned),
            f"of {_int(compared)} compared{share}",
            "Pairs whose binarised stated score differs from the choice",
        ),
        Headline(
            "Stated agree → chose negative", _int(agree_neg), "acts against a value it endorses"
        ),
        Headline(
            "Stated disagree → chose positive", _int(disagree_pos), "acts on a value it rejects"
        ),
        Headline(
            "Mean distance",
            _num(s.get("distance_mean", run.distance_country["distance"].mean())),
            "|stated − chosen|, country × value, 0..1",
            "Mean over the country × value matrix of |mean T1 − mean T2|",
        ),
        Headline(
            "Pairs",
            _int(n_pairs),
            f"{_int(s.get('n_pairs_without_choice', pairs['chosen'].isna().sum()))} without a "
            f"choice · {_int(s.get('n_pairs_without_stated', pairs['stated'].isna().sum()))} "
            "without a stated score",
        ),
    ]
    agreement = [(k, s.get(f"prompt_agreement_{k}")) for k in ("stated", "action")]
    if any(v is not None for _, v in agreement):
        cards.append(
            Headline(
                "Prompt agreement",
                " / ".join(_num(v, 2) for _, v in agreement),
                "stated / action (share of variants giving the modal answer)",
            )
        )
    return cards


def _axis_section(run: ValueActionRun, taxonomy: Taxonomy, axis: str, keep: Keep) -> dict[str, Any]:
    names = run.countries if axis == "country" else run.topics
    labels = _labels(taxonomy, axis, names)
    rates = summary_by(
        run, [f"alignment_rate_by_{axis}"], names, scenario_means(run, axis, "alignment_rate")
    )
    accuracy = summary_by(
        run, [f"accuracy_by_{axis}"], names, scenario_means(run, axis, "accuracy")
    )
    table = run.distance_country if axis == "country" else run.distance_topic
    distance = summary_by(
        run,
        [f"distance_mean_by_{axis}", f"distance_by_{axis}"],
        names,
        table.groupby(axis)["distance"].mean(),
    )
    pairs = run.pairs
    misaligned = pairs.groupby(axis)["misaligned"].sum()
    rows: list[dict[str, Any]] = [
        {
            "name": n,
            "label": lab,
            "rate": r,
            "accuracy": a,
            "distance": d,
            "misaligned": int(misaligned.get(n, 0)),
        }
        for n, lab, r, a, d in zip(names, labels, rates, accuracy, distance, strict=True)
    ]
    chart = _rate_bars(f"alignment_rate_by_{axis}", axis, names, labels, rates)
    return {"axis": axis, "rows": rows, "chart": keep(chart)}


def _rate_bars(
    key: str, axis: str, names: Sequence[str], labels: Sequence[str], rates: Sequence[float]
) -> Chart:
    """Alignment rates by `axis` as bars, highest first (missing rates last)."""
    order = sorted(range(len(names)), key=lambda i: -rates[i] if math.isfinite(rates[i]) else 1)
    spec = fig.Bars(
        key,
        f"Alignment rate by {axis}",
        [labels[i] for i in order],
        [names[i] for i in order],
        [rates[i] for i in order],
        "alignment rate (F1)",
    )
    return Chart("bars", spec, fig.bars_layout(spec))


def _matrix(
    table: pd.DataFrame, axis: str, column: str, rows: list[str], cols: list[str]
) -> np.ndarray:
    wide = table.groupby([axis, "value"])[column].mean().unstack()
    return wide.reindex(index=rows, columns=cols).to_numpy(dtype=float)


def _heatmaps(
    run: ValueActionRun,
    taxonomy: Taxonomy,
    axis: str,
    scales: dict[str, fig.ColorScale],
    keep: Keep,
) -> dict[str, Any]:
    table = run.distance_country if axis == "country" else run.distance_topic
    rows = run.countries if axis == "country" else run.topics
    cols = run.values
    measures = [
        ("stated", "Stated (Task 1)", "stated score, mean over the other axis", scales["stated"]),
        (
            "chosen",
            "Chosen (Task 2)",
            "chosen polarity, mean over the other axis",
            scales["chosen"],
        ),
        ("distance", "Distance", "|stated − chosen|", scales[f"distance-{axis}"]),
    ]
    charts = _value_heatmaps(table, axis, "heatmap", measures, rows, cols, taxonomy, keep)
    return {"axis": axis, "charts": charts}


def _value_heatmaps(
    table: pd.DataFrame,
    axis: str,
    key: str,
    measures: Iterable[tuple[str, str, str, fig.ColorScale]],
    rows: list[str],
    cols: list[str],
    taxonomy: Taxonomy,
    keep: Keep,
) -> list[Chart]:
    """An `axis` × value heatmap per measure (column, title, description, scale) in `table`."""
    groups = [taxonomy.value_type(v) for v in cols]
    charts = []
    for column, title, measure, scale in measures:
        if column not in table.columns:
            continue
        spec = fig.Heatmap(
            f"{key}_{axis}_{column}",
            f"{title}: {axis} × value",
            rows,
            _labels(taxonomy, axis, rows),
            cols,
            _matrix(table, axis, column, rows, cols),
            scale,
            measure,
            groups if any(groups) else [],
        )
        legend = fig.legend_layout(spec.scale, missing=bool(np.isnan(spec.matrix).any()))
        charts.append(keep(Chart("heatmap", spec, fig.heatmap_layout(spec), legend)))
    return charts


def _ranked_axis(run: ValueActionRun, taxonomy: Taxonomy, axis: str) -> Chart:
    table = run.distance_country if axis == "country" else run.distance_topic
    title = f"{_PLURAL[axis]} ranked by mean distance"
    return _distance_ranking(table, axis, f"ranking_{axis}_by_distance", title, taxonomy)


def _distance_ranking(
    table: pd.DataFrame, axis: str, key: str, title: str, taxonomy: Taxonomy
) -> Chart:
    """The names on `axis` as bars of their mean distance, largest first."""
    means = table.groupby(axis, sort=False)["distance"].mean().sort_values(ascending=False)
    names = [str(n) for n in means.index]
    spec = fig.Bars(
        key,
        title,
        _labels(taxonomy, axis, names),
        names,
        [float(v) for v in means],
        "mean distance",
        vmax=_nice_max(float(means.max())),  # no rows: NaN, hence 1
        color="#6a51a3",
    )
    return Chart("bars", spec, fig.bars_layout(spec))


def _nice_max(x: float) -> float:
    return fig.nice_max(x) if math.isfinite(x) and x > 0 else 1.0


def _value_rankings(
    run: ValueActionRun,
    taxonomy: Taxonomy,
    axis: str,
    index: int,
    figures: list[tuple[str, fig.Figure]],
    folder: str,
) -> dict[str, Any]:
    table = run.distance_country if axis == "country" else run.distance_topic
    names = run.countries if axis == "country" else run.topics
    vmax = _nice_max(float(table["distance"].max()) if len(table) else 1.0)
    groups, grid = [], []
    for name, label in zip(names, _labels(taxonomy, axis, names), strict=True):
        part = table[(table[axis] == name) & table["distance"].notna()]
        part = part.sort_values("distance", ascending=False, kind="stable")
        k = min(RANKING_K, len(part) // 2 or len(part))
        top, bottom = part.head(k), part.tail(k).iloc[::-1] if k else part.head(0)
        specs = []
        for rows, which, color in ((top, "largest", "#6a51a3"), (bottom, "smallest", "#9e9ac8")):
            values = rows["value"].astype(str).tolist()
            specs.append(
                fig.Bars(
                    f"values_{axis}_{_slug(name)}_{which}",
                    f"{label}: {which} gaps",
                    values,
                    values,
                    rows["distance"].astype(float).tolist(),
                    "distance",
                    vmax=vmax,
                    color=color,
                )
            )
        grid.append((label, specs[0], specs[1]))
        groups.append(
            {
                "id": f"{'c' if axis == 'country' else 't'}{index}-{_slug(name)}",
                "name": name,
                "label": label,
                "charts": [Chart("bars", s, fig.bars_layout(s, plot_w=220)) for s in specs],
            }
        )
    figures.append(
        (
            folder,
            fig.RankingGrid(
                f"value_ranking_by_{axis}", f"Largest and smallest gaps per {axis}", grid
            ),
        )
    )
    return {"axis": axis, "groups": groups, "k": RANKING_K}


def _misalignment(run: ValueActionRun, taxonomy: Taxonomy, keep: Keep) -> dict[str, Any]:
    pairs = run.pairs
    charts = []
    for axis, names in (("country", run.countries), ("topic", run.topics)):
        counts = pd.crosstab(pairs[axis], pairs["direction"]).reindex(names, fill_value=0)
        segments = [
            (
                "stated agree, chose negative",
                fig.AGREE_NEG_FILL,
                counts.get("stated_agree_chose_negative", pd.Series(0, index=names))
                .astype(float)
                .tolist(),
            ),
            (
                "stated disagree, chose positive",
                fig.DISAGREE_POS_FILL,
                counts.get("stated_disagree_chose_positive", pd.Series(0, index=names))
                .astype(float)
                .tolist(),
            ),
        ]
        spec = fig.StackedBars(
            f"misaligned_by_{axis}",
            f"Misaligned pairs by {axis}",
            _labels(taxonomy, axis, names),
            list(names),
            segments,
            "misaligned pairs",
        )
        charts.append(
            keep(
                Chart(
                    "stacked",
                    spec,
                    fig.stacked_layout(spec),
                    series=[(n, c) for n, c, _ in segments],
                )
            )
        )
    by_type = _misaligned_values(run)
    return {"charts": charts, "values": by_type}


def _misaligned_values(run: ValueActionRun, k: int = 10) -> list[dict[str, Any]]:
    """Values most often misaligned, with the split by direction."""
    pairs = run.pairs
    grouped = pairs.groupby("value", sort=False).agg(
        misaligned=("misaligned", "sum"), compared=("misaligned", "count")
    )
    directions = pd.crosstab(pairs["value"], pairs["direction"])
    grouped = grouped.sort_values("misaligned", ascending=False, kind="stable").head(k)
    rows = []
    for value, row in grouped.iterrows():
        rows.append(
            {
                "value": str(value),
                "misaligned": int(row["misaligned"]),
                "compared": int(row["compared"]),
                "agree_neg": int(
                    directions.get("stated_agree_chose_negative", pd.Series(dtype=int)).get(
                        value, 0
                    )
                ),
                "disagree_pos": int(
                    directions.get("stated_disagree_chose_positive", pd.Series(dtype=int)).get(
                        value, 0
                    )
                ),
            }
        )
    return rows


def _variants(run: ValueActionRun, keep: Keep) -> dict[str, Any] | None:
    table = run.variants
    if table is None or table.empty or "alignment_rate" not in table.columns:
        return None
    table = table.copy()
    if "task" not in table.columns:
        table["task"] = ""
    rows: list[dict[str, Any]] = [
        {
            "task": str(r["task"]),
            "variant": str(r.get("variant", "")),
            "rate": as_float(r["alignment_rate"]),
            "accuracy": as_float(r.get("accuracy")),
            "n": r.get("n_pairs"),
        }
        for r in table.to_dict("records")
    ]
    labels = [f"{r['task']} · {r['variant']}" if r["task"] else r["variant"] for r in rows]
    spec = fig.Bars(
        "alignment_rate_by_variant",
        "Alignment rate by prompt variant",
        labels,
        labels,
        [r["rate"] for r in rows],
        "alignment rate (F1)",
        color="#009E73",
    )
    rates = [r["rate"] for r in rows if math.isfinite(r["rate"])]
    spread = (max(rates) - min(rates)) if rates else math.nan
    return {
        "rows": rows,
        "chart": keep(Chart("bars", spec, fig.bars_layout(spec))),
        "spread": spread,
        "overall": as_float(run.summary.get("alignment_rate")),
    }


# --------------------------------------------------------------------------- item browser


class _Strings:
    """Interns texts so a raw response shared by 56 values is embedded once."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.items: list[str] = []

    def __call__(self, text: Any) -> int:
        if text is None or (isinstance(text, float) and not math.isfinite(text)):
            return -1
        text = str(text)
        if text == "":
            return -1
        found = self.index.get(text)
        if found is None:
            found = self.index[text] = len(self.items)
            self.items.append(text)
        return found


def _items(run: ValueActionRun, taxonomy: Taxonomy, element_id: str) -> dict[str, Any] | None:
    """The item browser's data: one record per pair with both actions and every response."""
    if not run.has_items:
        return None
    strings = _Strings()
    countries, topics, values = run.countries, run.topics, run.values
    c_idx = {n: i for i, n in enumerate(countries)}
    t_idx = {n: i for i, n in enumerate(topics)}
    v_idx = {n: i for i, n in enumerate(values)}
    keys = list(zip(run.pairs["country"], run.pairs["topic"], run.pairs["value"], strict=True))
    position = {k: i for i, k in enumerate(keys)}
    actions = _actions_by_pair(run.actions, position, strings)
    stated = _responses(
        run.responses_stated,
        position,
        strings,
        ["variant", "likert", "parse_status", "raw"],
        numeric={"likert"},
    )
    chosen = _responses(
        run.responses_action,
        position,
        strings,
        ["variant", "option1_polarity", "choice", "explanation", "parse_status", "raw"],
    )
    items = []
    pairs = run.pairs
    stated_col, chosen_col = pairs["stated"].to_numpy(float), pairs["chosen"].to_numpy(float)
    misaligned = pairs["misaligned"].to_numpy(float)
    directions = pairs["direction"].tolist()
    for i, (c, t, v) in enumerate(keys):
        pos, neg = (
            actions.get((i, "positive"), [-1, -1, -1]),
            actions.get((i, "negative"), [-1, -1, -1]),
        )
        items.append(
            [
                c_idx[c],
                t_idx[t],
                v_idx[v],
                _round(stated_col[i]),
                _round(chosen_col[i]),
                None if math.isnan(misaligned[i]) else int(misaligned[i]),
                _DIRECTION_CODES.get(directions[i], 0),
                pos,
                neg,
                stated.get(i, []),
                chosen.get(i, []),
            ]
        )
    return {
        "id": element_id,
        "n": len(items),
        "page_size": ITEMS_PAGE_SIZE,
        "countries": countries,
        "topics": topics,
        "values": values,
        "json": embed_json(
            {
                "countries": _labels(taxonomy, "country", countries),
                "countryNames": countries,
                "topics": _labels(taxonomy, "topic", topics),
                "topicNames": topics,
                "values": values,
                "strings": strings.items,
                "items": items,
            }
        ),
    }


def _plain(column: pd.Series) -> list[Any]:
    """Python objects of a column (iterating Arrow-backed strings directly is slow)."""
    return column.to_numpy(dtype=object).tolist()


def _round(x: float) -> float | None:
    return None if math.isnan(x) else round(float(x), 4)


def _actions_by_pair(
    actions: pd.DataFrame | None, position: dict[tuple[str, str, str], int], strings: _Strings
) -> dict[tuple[int, str], list[int]]:
    if actions is None or not {"country", "topic", "value", "polarity"} <= set(actions.columns):
        return {}
    out: dict[tuple[int, str], list[int]] = {}
    cols = [
        _plain(actions[c]) if c in actions.columns else [None] * len(actions)
        for c in ("action", "explanation", "attributions")
    ]
    for row in zip(
        *(_plain(actions[c].astype(str)) for c in ("country", "topic", "value", "polarity")),
        *cols,
        strict=True,
    ):
        i = position.get((row[0], row[1], row[2]))
        if i is not None:
            out[(i, row[3].strip().lower())] = [
                strings(row[4]),
                strings(row[5]),
                strings(_attributions(row[6])),
            ]
    return out


def _attributions(value: Any) -> str | None:
    """Attribution spans as one line; lists may arrive as JSON or as a Python-literal string."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, str) and value.startswith("["):
        value = _literal_list(value)
    if isinstance(value, list | tuple | np.ndarray):
        return " · ".join(str(v) for v in value)
    return str(value)


def _literal_list(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return ast.literal_eval(text)  # literals only: never evaluates code
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def _responses(
    table: pd.DataFrame | None,
    position: dict[tuple[str, str, str], int],
    strings: _Strings,
    columns: list[str],
    numeric: frozenset[str] | set[str] = frozenset(),
) -> dict[int, list[list[Any]]]:
    if table is None or not {"country", "topic", "value"} <= set(table.columns):
        return {}
    n = len(table)
    fields: list[list[Any]] = []
    for name in columns:
        if name not in table.columns:
            fields.append([None if name in numeric else -1] * n)
        elif name in numeric:
            values = pd.to_numeric(table[name], errors="coerce").round(4).astype(object)
            fields.append(values.where(values.notna(), None).tolist())
        else:
            fields.append(_string_ids(table[name], strings))
    out: dict[int, list[list[Any]]] = {}
    keys = zip(*(_plain(table[c].astype(str)) for c in ("country", "topic", "value")), strict=True)
    for key, *record in zip(keys, *fields, strict=True):
        i = position.get(key)
        if i is not None:
            out.setdefault(i, []).append(record)
    return out


def _string_ids(column: pd.Series, strings: _Strings) -> list[int]:
    """Interned ids of a text column, interning each distinct text once."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    ids = [strings(u) for u in uniques]
    return [ids[c] if c >= 0 else -1 for c in codes.tolist()]


# --------------------------------------------------------------------------- comparison


def _comparison(
    runs: Sequence[ValueActionRun],
    taxonomy: Taxonomy,
    figures: list[tuple[str, fig.Figure]],
    all_pairs: bool = False,
) -> dict[str, Any]:
    comparison = compare_runs(runs, all_pairs=all_pairs)
    colors = {
        runs[i].label: fig.SERIES_COLORS[i % len(fig.SERIES_COLORS)] for i in range(len(runs))
    }
    leaderboard: list[dict[str, Any]] = [
        {
            "rank": e.rank,
            "label": e.label,
            "model": e.model,
            "color": colors[e.label],
            "rate": e.alignment_rate,
            "lo": e.ci_low,
            "hi": e.ci_high,
            "accuracy": e.accuracy,
            "misaligned": e.misaligned,
            "distance": e.distance_mean,
            "n_pairs": e.n_pairs,
        }
        for e in comparison.leaderboard
    ]
    spec = fig.Bars(
        "comparison_alignment_rate",
        "Alignment rate by run (95% CI)",
        [r["label"] for r in leaderboard],
        [r["label"] for r in leaderboard],
        [r["rate"] for r in leaderboard],
        "alignment rate (F1)",
        lo=[r["lo"] for r in leaderboard],
        hi=[r["hi"] for r in leaderboard],
    )
    figures.append(("comparison", spec))
    return {
        "leaderboard": leaderboard,
        "chart": Chart("bars", spec, fig.bars_layout(spec)),
        "axes": [_axis_comparison(t, taxonomy, colors, figures) for t in comparison.axes],
        "colors": colors,
        "warnings": comparison.warnings,
        "notes": comparison.notes,
        "paired": _paired_rows(comparison),
        "paired_method": PAIRED_METHOD,
    }


def _paired_rows(comparison: Comparison) -> list[dict[str, Any]]:
    """The paired tests against the leader, one row per run, for the comparison section."""
    return [
        {
            "first": row.first,
            "second": row.second,
            "n_scenarios": row.test.n_scenarios,
            "n_pairs": row.test.n_pairs,
            "cells": [
                {
                    "difference": d.difference,
                    "lo": d.ci_low,
                    "hi": d.ci_high,
                    "p": d.p_value,
                }
                for d in row.test.differences.values()
            ],
        }
        for row in comparison.paired
    ]


def _axis_comparison(
    table: AxisTable,
    taxonomy: Taxonomy,
    colors: dict[str, str],
    figures: list[tuple[str, fig.Figure]],
) -> dict[str, Any]:
    axis, key = table.axis, table.key
    names = [row.name for row in table.rows]
    labels = _labels(taxonomy, axis, names)
    rows = [
        {
            "name": row.name,
            "label": label,
            "cells": [{"value": c, "best": c == row.best} for c in row.values],
            "spread": row.spread,
        }
        for row, label in zip(table.rows, labels, strict=True)
    ]
    columns = [(run, [row.values[j] for row in table.rows]) for j, run in enumerate(table.runs)]
    top = max((c for _, vals in columns for c in vals if math.isfinite(c)), default=1.0)
    spec = fig.DotPlot(
        f"comparison_{key}_by_{axis}",
        f"{table.measure.capitalize()} by {axis}, per run",
        labels,
        names,
        [(label, colors[label], vals) for label, vals in columns],
        table.measure,
        vmax=1.0 if key == "alignment_rate" else _nice_max(top),
    )
    figures.append(("comparison", spec))
    return {
        "axis": axis,
        "key": key,
        "measure": table.measure,
        "runs": table.runs,
        "rows": rows,
        "higher_better": table.higher_better,
        "chart": Chart(
            "dots",
            spec,
            fig.dot_layout(spec),
            series=[(label, colors[label]) for label, _ in columns],
        ),
    }


# --------------------------------------------------------------------------- compass


def _compass_view(
    index: int,
    run: CompassRun,
    taxonomy: Taxonomy,
    figures: list[tuple[str, fig.Figure]],
    folder: str,
) -> dict[str, Any]:
    keep = _keeper(figures, folder)
    s = run.summary
    distance = s.get("distance_mean", s.get("distance_mean_by_country"))
    headlines = [
        Headline(
            "Alignment rate (F1)", _num(s.get("alignment_rate")), _ci(s.get("alignment_rate_ci"))
        ),
        Headline("Accuracy", _num(s.get("accuracy")), _ci(s.get("accuracy_ci"))),
    ]
    if isinstance(distance, int | float):
        headlines.append(
            Headline("Mean distance", _num(distance), "|human − model|, country × value")
        )
    if s.get("n_cells") is not None:
        headlines.append(Headline("Cells compared", _int(s.get("n_cells")), "country × scenario"))
    order = _CompassOrder.of(run, taxonomy)
    return {
        "id": f"compass-{index}",
        "label": run.label,
        "headlines": headlines,
        "cell_chart": _compass_cells(run, order, taxonomy, keep),
        "by_axis": [_compass_axis(run, axis, taxonomy, keep) for axis in ("country", "scenario")],
        "heatmaps": [
            h
            for axis in ("country", "scenario")
            if (h := _compass_heatmaps(run, axis, order, taxonomy, keep))
        ],
        "rankings": [
            c
            for axis in ("country", "scenario")
            if (c := _compass_ranked(run, axis, taxonomy, keep))
        ],
    }


@dataclass(frozen=True)
class _CompassOrder:
    """Display order of a compass run's axes: the `cells` table's order, else the taxonomy's."""

    country: list[str]
    scenario: list[str]
    value: list[str]

    @staticmethod
    def of(run: CompassRun, taxonomy: Taxonomy) -> _CompassOrder:
        found: dict[str, list[str]] = {"country": [], "scenario": [], "value": []}
        for table in (run.cells, run.cell_scores, run.distance_country, run.distance_scenario):
            for axis, names in found.items():
                if table is not None and axis in table.columns:
                    names += [n for n in _unique(table[axis]) if n not in names]
        known = {"country": taxonomy.country_names, "value": taxonomy.value_names}
        if run.cells is None:  # tables other than `cells` may be sorted by rank
            for axis, reference in known.items():
                position = {n: i for i, n in enumerate(reference)}
                found[axis].sort(key=lambda n: position.get(n, len(position)))
        return _CompassOrder(found["country"], found["scenario"], found["value"])


def _compass_cells(
    run: CompassRun, order: _CompassOrder, taxonomy: Taxonomy, keep: Keep
) -> Chart | None:
    table = run.cell_scores
    if table is None or not {"country", "scenario", "alignment_rate"} <= set(table.columns):
        return None
    rows = [c for c in order.country if c in set(table["country"])]
    cols = [c for c in order.scenario if c in set(table["scenario"])]
    wide = table.groupby(["country", "scenario"])["alignment_rate"].mean().unstack()
    matrix = wide.reindex(index=rows, columns=cols).to_numpy(dtype=float)
    spec = fig.Heatmap(
        "compass_alignment_by_cell",
        "Alignment rate per country × scenario",
        rows,
        _labels(taxonomy, "country", rows),
        cols,
        matrix,
        fig.rate_scale(),
        "alignment rate",
        col_axis="scenario",
        rotate_cols=False,
    )
    width = max(60.0, max((fig.text_px(c) for c in cols), default=0) + 10)
    layout = fig.heatmap_layout(spec, cell_w=width, cell_h=20)
    return keep(Chart("heatmap", spec, layout, fig.legend_layout(spec.scale)))


def _compass_axis(
    run: CompassRun, axis: str, taxonomy: Taxonomy, keep: Keep
) -> dict[str, Any] | None:
    rates = run.summary.get(f"alignment_rate_by_{axis}")
    if not isinstance(rates, dict) or not rates:
        return None
    names = [str(n) for n in rates]
    rows: list[dict[str, Any]] = [{"name": n, "rate": as_float(rates[n])} for n in names]
    chart = _rate_bars(
        f"compass_alignment_rate_by_{axis}",
        axis,
        names,
        _labels(taxonomy, axis, names),
        [r["rate"] for r in rows],
    )
    return {"axis": axis, "rows": rows, "chart": keep(chart)}


def _compass_heatmaps(
    run: CompassRun, axis: str, order: _CompassOrder, taxonomy: Taxonomy, keep: Keep
) -> dict[str, Any] | None:
    table = run.distance_country if axis == "country" else run.distance_scenario
    if table is None or not {axis, "value", "distance"} <= set(table.columns):
        return None
    present_rows, present_cols = set(table[axis]), set(table["value"])
    rows = [n for n in getattr(order, axis) if n in present_rows]
    cols = [v for v in order.value if v in present_cols]
    rating = fig.polarity_scale("agree", "disagree", "stated")
    measures = [
        ("human", "Humans", "human rating, 0 = agree, 1 = disagree", rating),
        ("model", "Model", "model rating, 0 = agree, 1 = disagree", rating),
        (
            "distance",
            "Distance",
            "|human − model|",
            fig.distance_scale(float(table["distance"].max()), f"cdistance-{axis}"),
        ),
    ]
    charts = _value_heatmaps(table, axis, "compass_heatmap", measures, rows, cols, taxonomy, keep)
    return {"axis": axis, "charts": charts} if charts else None


def _compass_ranked(run: CompassRun, axis: str, taxonomy: Taxonomy, keep: Keep) -> Chart | None:
    table = run.distance_country if axis == "country" else run.distance_scenario
    if table is None or axis not in table.columns or "distance" not in table.columns:
        return None
    key, title = f"compass_ranking_{axis}_by_distance", f"{_PLURAL[axis]} by mean distance"
    return keep(_distance_ranking(table, axis, key, title, taxonomy))


def _compass_comparison(
    runs: Sequence[CompassRun], figures: list[tuple[str, fig.Figure]]
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = [
        {
            "label": e.label,
            "rate": e.alignment_rate,
            "accuracy": e.accuracy,
            "distance": e.distance_mean,
        }
        for e in compare_runs(runs).leaderboard
    ]
    spec = fig.Bars(
        "compass_comparison_alignment_rate",
        "Human-model alignment rate by model",
        [r["label"] for r in rows],
        [r["label"] for r in rows],
        [r["rate"] for r in rows],
        "alignment rate (F1)",
    )
    figures.append(("comparison", spec))
    by_country = axis_table(runs, range(len(runs)), "country", "alignment_rate")
    return {
        "leaderboard": rows,
        "chart": Chart("bars", spec, fig.bars_layout(spec)),
        "runs": by_country.runs,
        "by_country": [{"name": row.name, "cells": row.values} for row in by_country.rows],
    }


def _unique(column: pd.Series) -> list[str]:
    return [str(x) for x in pd.unique(column.astype(str))]


# --------------------------------------------------------------------------- jinja


@functools.cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    env.filters["int"] = _int
    env.filters["px"] = lambda x: f"{float(x):.1f}"
    env.filters["pct"] = lambda x: (
        "—" if not math.isfinite(as_float(x)) else f"{100 * float(x):.1f}%"
    )
    return env
