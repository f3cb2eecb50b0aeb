"""The embedded model's Task 1 logprob scenario: prompts read on one thread vs on all cores.

    uv run python benchmarks/bench_embedded.py             # 4 values x 8 variants, 3 rounds
    uv run python benchmarks/bench_embedded.py --values 16 --rounds 2

Both backends live in this process and answer the same requests in alternating rounds
(before, after, before, ...; a new scenario each round, so no round reads another's prompt
cache), through the runner as `evaluate` sends them (prefix order, concurrency 8). "Before"
is one thread for everything (`EmbeddedBackend()`'s default on 2 cores); "after" reads
prompts on all cores (`n_threads_batch`), its threads asleep at barriers. Prints wall
seconds per request, CPU seconds per request (process time: the same for both when the
threads sleep rather than spin), prompt tokens evaluated, and how far the answers'
P(1)..P(4) lie apart (two runs of the same settings differ too: see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import _common  # noqa: F401  (puts tests/ on sys.path)

if TYPE_CHECKING:
    from valuelens.models import Backend, Request
    from valuelens.tasks import StatedTask

VALUES = [
    "Honest",
    "Wealth",
    "Clean",
    "Social Power",
    "Helpful",
    "Forgiving",
    "Equality",
    "Freedom",
    "Creativity",
    "Curious",
    "Ambitious",
    "Healthy",
    "Politeness",
    "Wisdom",
    "Loyal",
    "Humble",
]
# Scenarios whose prompts are the same length, one per round.
SCENARIOS = [
    ("Uganda", "Environment"),
    ("Canada", "Environment"),
    ("France", "Environment"),
    ("Uganda", "Politics"),
    ("Canada", "Politics"),
    ("France", "Politics"),
]


@dataclass
class Timing:
    """One backend's answers to one round."""

    wall_s: float
    cpu_s: float
    evaluated: int
    probs: list[tuple[float, ...] | None]
    likert: list[float | None]


async def timed(backend: Backend, requests: list[Request], task: StatedTask) -> Timing:
    """Answer `requests` from an empty store; wall and process CPU time, tokens evaluated."""
    from valuelens.runner import Runner, Store

    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "e.db") as store:
        runner = Runner(backend, store, concurrency=8, progress=False)
        cpu, started = time.process_time(), time.perf_counter()
        results = await runner.run(requests)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        evaluated = sum(
            record.prompt_tokens - cached_tokens(record.response) for record in store.records()
        )
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    records = task.parse_many(results)
    return Timing(wall, cpu, evaluated, [r.probs for r in records], [r.likert for r in records])


def _all_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cached_tokens(response: object) -> int:
    """Prompt tokens llama.cpp took from its cache, from a stored raw response."""
    found: object = response
    for key in ("raw", "usage", "prompt_tokens_details", "cached_tokens"):
        found = found.get(key) if isinstance(found, dict) else None
    return found if isinstance(found, int) else 0


def largest_gap(a: Timing, b: Timing) -> float:
    """The largest difference between the two answers' P(1)..P(4), over all requests."""
    return max(
        (
            abs(p - q)
            for x, y in zip(a.probs, b.probs, strict=True)
            for p, q in zip(x or (), y or (), strict=False)
        ),
        default=0.0,
    )


async def main(n_values: int, rounds: int) -> dict[str, float]:
    from valuelens.models import EmbeddedBackend
    from valuelens.tasks import stated_task

    task = stated_task(scoring="logprob", variants="all")
    backends = {
        "before": EmbeddedBackend(n_threads=1, n_threads_batch=1),
        "after": EmbeddedBackend(n_threads_batch=_all_cores()),
    }
    for backend in backends.values():
        backend.load()
        await timed(backend, task.build_requests("Canada", "Religion", ["Honest"]), task)
    values = VALUES[:n_values]
    runs: dict[str, list[Timing]] = {name: [] for name in backends}
    for round_no in range(rounds):
        requests = task.build_requests(*SCENARIOS[round_no % len(SCENARIOS)], values)
        order = list(backends) if round_no % 2 == 0 else list(reversed(backends))
        for name in order:
            runs[name].append(await timed(backends[name], requests, task))
            last = runs[name][-1]
            print(
                f"round {round_no} {name:6s} {last.wall_s / len(requests):.3f} s/request, "
                f"CPU {last.cpu_s / len(requests):.3f} s/request, {last.evaluated:,} tokens, "
                f"load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    for backend in backends.values():
        await backend.aclose()
    return summarize(runs, len(requests))


def summarize(runs: dict[str, list[Timing]], n: int) -> dict[str, float]:
    """Median per-request figures, the after/before ratio and the answers' largest gap."""
    wall = {name: statistics.median(t.wall_s for t in ts) / n for name, ts in runs.items()}
    cpu = {name: statistics.median(t.cpu_s for t in ts) / n for name, ts in runs.items()}
    ratios = [a.wall_s / b.wall_s for a, b in zip(runs["after"], runs["before"], strict=True)]
    gaps = [largest_gap(a, b) for a, b in zip(runs["after"], runs["before"], strict=True)]
    agree = [
        sum(round(x or 0) == round(y or 0) for x, y in zip(a.likert, b.likert, strict=True)) / n
        for a, b in zip(runs["after"], runs["before"], strict=True)
    ]
    figures = {
        "before_s": wall["before"],
        "after_s": wall["after"],
        "ratio": statistics.median(ratios),
        "before_cpu_s": cpu["before"],
        "after_cpu_s": cpu["after"],
        "largest_gap": max(gaps),
        "rounded_agreement": min(agree),
    }
    print(
        f"embedded Task 1 logprob ({n} requests per round): {wall['after']:.3f} s/request vs "
        f"{wall['before']:.3f} before, {figures['ratio']:.2f}x the wall time (median of rounds "
        f"{', '.join(f'{r:.2f}' for r in ratios)}); CPU {cpu['after']:.3f} vs "
        f"{cpu['before']:.3f} s/request; {wall['after'] * 56 * 8:.0f} s per scenario "
        f"(56 values x 8 variants); P(1..4) differ by at most {figures['largest_gap']:.3f}, "
        f"rounded Likert agrees on {figures['rounded_agreement']:.0%}"
    )
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=4, help="values per scenario (max 16)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per backend")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["VALUELENS_CACHE_DIR"] = cache
        asyncio.run(main(min(args.values, len(VALUES)), args.rounds))
