"""Report speed and size for two full runs (7,392 pairs each), against baselines in one process.

Two cases: runs from `valuelens score` (aggregates only) and runs from `valuelens evaluate`
(with the item browser: both actions, 8 stated answers and 2 action answers per pair). The data
are synthetic (seeded), built by the test helper `tests/support/report_runfactory.py`; with
`--reference DIR` the score-like runs use the authors' reconstructed per-pair files instead.
Baselines: json.dumps of the same tables written to disk, and pandas `to_html` of the pairs.
When Chromium is installed, the page's load time in headless Chromium is measured too.

    uv run python benchmarks/bench_report.py [--repeat 3] [--reference ../shared/reference]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from functools import partial
from pathlib import Path

import pandas as pd

from _common import best_of  # first: it puts tests/ on sys.path

# isort: split
from support.report_runfactory import (
    grid,
    reference_pairs,
    synthetic_items,
    synthetic_pairs,
    synthetic_variants,
    write_value_action_run,
)
from valuelens.report._html import render_report

MODELS = ("gpt-4o-mini", "Llama-3.3-70B-Instruct")


def make_runs(base: Path, reference: Path | None, items: bool) -> list[Path]:
    runs = []
    for i, model in enumerate(MODELS):
        if reference is not None and not items:
            csv = reference / "reconstructed" / f"{model}_t1t2_joined.reconstructed.csv"
            pairs = reference_pairs(csv)
        else:
            pairs = synthetic_pairs(grid(12, 11), seed=i)
        tables = (
            synthetic_items(pairs, seed=i, n_stated_variants=8, n_action_variants=2)
            if items
            else None
        )
        runs.append(
            write_value_action_run(
                base / f"{model}-{'items' if items else 'score'}",
                pairs,
                label=model,
                model=model,
                items=tables,
                variants=synthetic_variants(i) if items else None,
            )
        )
    return runs


def baseline_json(runs: list[Path], out: Path) -> None:
    """Serialise every table of the runs to JSON and write it: a floor for any report."""
    data = {}
    for run in runs:
        for table in run.glob("*.parquet"):
            data[f"{run.name}/{table.stem}"] = pd.read_parquet(table).to_dict("split")
    out.write_text(json.dumps(data, default=str), encoding="utf-8")


def baseline_to_html(runs: list[Path], out: Path) -> None:
    """pandas to_html of the pairs tables: the simplest 'report' a notebook would make."""
    html = "".join(pd.read_parquet(run / "pairs.parquet").to_html() for run in runs)
    out.write_text(html, encoding="utf-8")


def browser_load_seconds(page: Path, workdir: Path) -> float | None:
    try:
        from support.report_cdp import Browser, find_chromium
    except ImportError:
        return None
    import shutil

    if not any(shutil.which(c) for c in ("/usr/bin/chromium", "chromium")):
        return None
    workdir.mkdir(parents=True, exist_ok=True)
    browser = Browser(find_chromium(), workdir / "profile")
    try:
        browser.viewport(1280, 900)
        start = time.perf_counter()
        browser.open(page.as_uri())
        while browser.eval("document.documentElement.getAttribute('data-report-ready')") != "1":
            time.sleep(0.01)
        elapsed = time.perf_counter() - start
        filter_ms = browser.eval("""(() => { const b = document.querySelector('.browser');
            if (!b) return null; const t0 = performance.now();
            const box = b.querySelector('[data-filter=misaligned]'); box.checked = true;
            box.dispatchEvent(new Event('change'));
            const q = b.querySelector('[data-filter=text]'); q.value = 'protect';
            q.dispatchEvent(new Event('change'));
            return performance.now() - t0; })()""")
        if filter_ms is not None:
            print(f"    item browser filter (misaligned only) in Chromium: {filter_ms:.1f} ms")
        assert not browser.errors(), browser.errors()
        return elapsed
    finally:
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for items in (False, True):
            runs = make_runs(base, args.reference, items)
            n_pairs = sum(len(pd.read_parquet(r / "pairs.parquet")) for r in runs)
            page = base / f"report-{items}.html"
            ours = best_of(args.repeat, partial(render_report, runs, page))
            json_time = best_of(args.repeat, partial(baseline_json, runs, base / "tables.json"))
            to_html = best_of(args.repeat, partial(baseline_to_html, runs, base / "pairs.html"))
            kind = "evaluate runs (with item browser)" if items else "score runs"
            print(f"{kind}: {len(runs)} runs, {n_pairs:,} pairs")
            print(
                f"    valuelens report:            {ours:.2f} s, {page.stat().st_size / 1e6:.1f} MB"
            )
            print(
                f"    baseline json tables:        {json_time:.2f} s, "
                f"{(base / 'tables.json').stat().st_size / 1e6:.1f} MB"
            )
            print(
                f"    baseline pandas to_html:     {to_html:.2f} s, "
                f"{(base / 'pairs.html').stat().st_size / 1e6:.1f} MB"
            )
            print(f"    ratio report / json:         {ours / json_time:.2f}x")
            print(f"    ratio report / to_html:      {ours / to_html:.2f}x")
            loaded = browser_load_seconds(page, base / f"chromium-{items}")
            if loaded is not None:
                print(f"    Chromium load to ready:      {loaded:.2f} s")


if __name__ == "__main__":
    main()
