"""`report --figures` speed for two full runs (7,392 pairs each), against a baseline in one process.

Ours: `write_figures` (the SVG files from the page's own drawing, PNG with matplotlib drawn once
with computed margins). Baseline: the straightforward matplotlib export, the same figures drawn
by the same `_draw` functions and each saved as PNG and SVG with `bbox_inches="tight"` (what
`write_figures` did before: minutes for the 33 figures of two runs). Both write into temporary
folders; the runs are synthetic (seeded), built by `tests/support/report_runfactory.py`.

    uv run python benchmarks/bench_figures.py [--limit N] [--repeat 1]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

from _common import best_of  # first: it puts tests/ on sys.path

# isort: split
from support.report_runfactory import grid, synthetic_pairs, write_value_action_run
from valuelens.report._draw import _RC, _draw, write_figures
from valuelens.report._figures import Figure
from valuelens.report._html import build_page
from valuelens.report._load import load_runs


def baseline(figures: Sequence[tuple[str, Figure]], out: Path) -> None:
    """matplotlib for both formats, each file measured with a tight bounding box."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.rc_context(_RC):
        for folder, figure in figures:
            (out / folder).mkdir(parents=True, exist_ok=True)
            drawn = _draw(figure)
            for suffix in ("png", "svg"):
                path = out / folder / f"{figure.key}.{suffix}"
                drawn.savefig(path, dpi=200 if suffix == "png" else None, bbox_inches="tight")
            plt.close(drawn)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N figures")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        runs = [
            write_value_action_run(
                base / f"model-{i}", synthetic_pairs(grid(12, 11), seed=i), label=f"model {i}"
            )
            for i in range(2)
        ]
        figures = build_page(load_runs(runs)).figures
        if args.limit:
            figures = figures[: args.limit]
        ours = best_of(args.repeat, lambda: write_figures(figures, base / "ours", progress=None))
        theirs = best_of(args.repeat, lambda: baseline(figures, base / "baseline"))
    print(f"figures: {len(figures)} (PNG + SVG each)")
    print(f"write_figures:            {ours:8.2f} s")
    print(f"baseline (matplotlib, tight bbox): {theirs:8.2f} s")
    print(f"speed-up: {theirs / ours:.1f}x")


if __name__ == "__main__":
    main()
