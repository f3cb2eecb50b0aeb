"""The fuzz suite's hypothesis profile, its seed files and its case count.

The profile is deterministic (`derandomize=True`, no example database), so CI runs the same
cases every time; `VALUELENS_FUZZ_EXAMPLES` scales the number of cases per importer (default
60), e.g. `VALUELENS_FUZZ_EXAMPLES=1000` for a long local run. Seeds are small slices of the
authors' files, read at test time from the reference folder (never copied into the repo), and
the built-in taxonomy, scenario, alias and template files. Failures are not shrunk unless
`VALUELENS_FUZZ_SHRINK=1`, so a failing CI run stays within its time box.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from fuzz_mutations import CASES, RESULTS
from fuzz_seeds import PROFILE, first_lines
from hypothesis import HealthCheck, Phase, settings

EXAMPLES = int(os.environ.get("VALUELENS_FUZZ_EXAMPLES", "60"))

settings.register_profile(
    PROFILE,
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    # Shrinking a failure of a slow importer can take minutes; CI reports the raw failing input
    # and its reproduce blob instead. VALUELENS_FUZZ_SHRINK=1 shrinks locally.
    phases=[Phase.explicit, Phase.reuse, Phase.generate]
    + ([Phase.shrink] if os.environ.get("VALUELENS_FUZZ_SHRINK") == "1" else []),
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.function_scoped_fixture,
    ],
)


@pytest.fixture(scope="session")
def seed_text(reference_dir: Path) -> Callable[[str, int], str]:
    """`seed_text(relative_path, n_rows)`: the first rows of a reference CSV."""

    def read(relative: str, n_rows: int) -> str:
        path = reference_dir / relative
        if not path.is_file():
            pytest.skip(f"reference file not found: {path}")
        return first_lines(path, n_rows)

    return read


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the fuzz cases per importer (and write them to VALUELENS_FUZZ_REPORT if set)."""
    if not CASES:
        return
    terminalreporter.section("fuzz cases per importer")
    for importer, count in sorted(CASES.items()):
        errors = RESULTS.get(f"{importer}: error", 0)
        terminalreporter.write_line(
            f"{importer:<28} {count:>6} cases ({count - errors} results, {errors} one-line errors)"
        )
    terminalreporter.write_line(f"{'total':<28} {sum(CASES.values()):>6} cases")
    report = os.environ.get("VALUELENS_FUZZ_REPORT")
    if report:
        Path(report).write_text(
            json.dumps({"cases": dict(CASES), "outcomes": dict(RESULTS)}, indent=2) + "\n",
            encoding="utf-8",
        )
