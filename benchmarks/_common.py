"""What the benchmarks share: the test helpers on `sys.path`, and a timer.

The fake server, the run factory and the Chromium driver are test helpers (`tests/support`);
importing this module first puts `tests/` on `sys.path`, so a benchmark script imports them as
`support.<module>`. Standard library only.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    """The fastest of `repeat` calls of `fn`, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
