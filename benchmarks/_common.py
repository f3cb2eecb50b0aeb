"""What the benchmarks share: the test helpers on `sys.path`, and a timer.

The fake server and the run factory are test helpers (`tests/support`, `tests/report`); importing
this module first makes them importable from a benchmark script. Standard library only.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
for folder in (TESTS, TESTS / "report"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    """The fastest of `repeat` calls of `fn`, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
