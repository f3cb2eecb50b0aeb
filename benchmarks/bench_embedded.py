"""The embedded model's Task 1 logprob scenario: today's defaults vs those when issue 12 was filed.

    uv run python benchmarks/bench_embedded.py             # 8 values x 8 variants, 2 rounds
    uv run python benchmarks/bench_embedded.py --values 16 --rounds 3

"Before" is how `evaluate` sent the scenario when the issue was filed: prompts read on one
thread (`EmbeddedBackend()`'s default then, on 2 cores), requests in the caller's order, and the
digit template's earlier layout (the value question in the middle, kept below as
`EARLIER_DIGIT_TEMPLATE` and loaded as a user's template). "After" is `EmbeddedBackend()` and
the runner as they are now: prompts read on every core (threads asleep at barriers), prefix
order, and the built-in template with the value as late as each variant allows. The three
levers are also measured one at a time. In each round every configuration answers the same
scenario (a new one per round) with the model loaded afresh, so that none reads a prompt
another put in llama.cpp's cache; the order of the configurations alternates. Requests go
through the runner as `evaluate` sends them (concurrency 8).
Prints wall and CPU seconds per request, prompt tokens evaluated, each configuration's wall
time as a ratio of "before" in the same round, and, for the thread count alone (the same
prompts), how far the answers' P(1)..P(4) lie apart.
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
# A new scenario per round. Each setup answers it with a model loaded afresh (llama.cpp keeps
# earlier prompts in its cache, so a model that had met the scenario would read it from there).
SCENARIOS = [
    (country, topic)
    for topic in ("Environment", "Politics", "Citizenship", "Work Orientation")
    for country in ("Uganda", "Canada", "France", "Egypt")
]


@dataclass
class Timing:
    """One backend's answers to one round."""

    wall_s: float
    cpu_s: float
    evaluated: int
    probs: list[tuple[float, ...] | None]
    likert: list[float | None]


async def timed(
    backend: Backend, requests: list[Request], task: StatedTask, *, prefix_order: bool | None
) -> Timing:
    """Answer `requests` from an empty store; wall and process CPU time, tokens evaluated."""
    from valuelens.runner import Runner, Store

    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "e.db") as store:
        runner = Runner(backend, store, concurrency=8, progress=False, prefix_order=prefix_order)
        cpu, started = time.process_time(), time.perf_counter()
        results = await runner.run(requests)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        evaluated = sum(
            record.prompt_tokens - cached_tokens(record.response) for record in store.records()
        )
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    records = task.parse_many(results)
    return Timing(wall, cpu, evaluated, [r.probs for r in records], [r.likert for r in records])


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


@dataclass(frozen=True)
class Setup:
    """One way of sending the scenario: which backend, which digit template, which order."""

    threads: str  # "one" or "all"
    layout: str  # "earlier" or "built-in"
    prefix_order: bool | None  # False: the caller's order; None: the runner's default


SETUPS = {
    "before": Setup("one", "earlier", False),
    "threads only": Setup("all", "earlier", False),
    "layout only": Setup("one", "built-in", False),
    "order only": Setup("one", "earlier", None),
    "after": Setup("all", "built-in", None),
}


async def main(n_values: int, rounds: int) -> dict[str, float]:
    from valuelens.models import EmbeddedBackend
    from valuelens.prompts import load_templates
    from valuelens.tasks import stated_task

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "stated").mkdir()
        (Path(folder) / "stated" / "digit.jinja").write_text(EARLIER_DIGIT_TEMPLATE)
        earlier = load_templates(Path(folder), tasks=["stated"])
    tasks = {
        "earlier": stated_task(scoring="logprob", variants="all", templates=earlier),
        "built-in": stated_task(scoring="logprob", variants="all"),
    }
    values = VALUES[:n_values]
    runs: dict[str, list[Timing]] = {name: [] for name in SETUPS}
    for round_no in range(rounds):
        order = list(SETUPS) if round_no % 2 == 0 else list(reversed(SETUPS))
        for name in order:
            setup = SETUPS[name]
            task = tasks[setup.layout]
            requests = task.build_requests(*SCENARIOS[round_no % len(SCENARIOS)], values)
            one = setup.threads == "one"
            backend = EmbeddedBackend(n_threads=1, n_threads_batch=1) if one else EmbeddedBackend()
            backend.load()
            warm_up = task.build_requests("Canada", "Religion", ["Honest"])
            await timed(backend, warm_up, task, prefix_order=None)
            last = await timed(backend, requests, task, prefix_order=setup.prefix_order)
            await backend.aclose()
            runs[name].append(last)
            print(
                f"round {round_no} {name:12s} {last.wall_s / len(requests):.3f} s/request, "
                f"CPU {last.cpu_s / len(requests):.3f} s/request, {last.evaluated:,} tokens, "
                f"load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    return summarize(runs, len(values) * 8)


def summarize(runs: dict[str, list[Timing]], n: int) -> dict[str, float]:
    """Median per-request figures and each setup's wall time as a ratio of "before"."""
    before = runs["before"]
    figures: dict[str, float] = {}
    for name, timings in runs.items():
        ratios = [t.wall_s / b.wall_s for t, b in zip(timings, before, strict=True)]
        tokens = [t.evaluated / b.evaluated for t, b in zip(timings, before, strict=True)]
        wall = statistics.median(t.wall_s for t in timings) / n
        cpu = statistics.median(t.cpu_s for t in timings) / n
        figures[f"{name}_s"] = wall
        figures[f"{name}_ratio"] = statistics.median(ratios)
        print(
            f"  {name:12s} {wall:.3f} s/request (CPU {cpu:.3f}), {statistics.median(ratios):.2f}x "
            f"the wall time of before (rounds {', '.join(f'{r:.2f}' for r in ratios)}), "
            f"{statistics.median(tokens):.2f}x the prompt tokens evaluated"
        )
    threads = runs["threads only"]
    gap = max(largest_gap(a, b) for a, b in zip(threads, before, strict=True))
    agree = min(
        sum(round(x or 0) == round(y or 0) for x, y in zip(a.likert, b.likert, strict=True)) / n
        for a, b in zip(threads, before, strict=True)
    )
    figures["speed_up"] = 1 / figures["after_ratio"]
    print(
        f"embedded Task 1 logprob ({n} requests per round): {figures['after_s']:.3f} s/request "
        f"vs {figures['before_s']:.3f} before, {figures['speed_up']:.2f}x faster "
        f"({figures['after_s'] * 56 * 8:.0f} s per scenario of 56 values x 8 variants); one "
        f"thread vs all cores: P(1..4) differ by at most {gap:.3f}, rounded Likert agrees on "
        f"{agree:.0%}"
    )
    return figures


# The digit template as it was when issue 12 was filed: the value question sits between the
# scenario and the instruction (and before the scale in the values-first variants).
EARLIER_DIGIT_TEMPLATE = """\
{% import "stated/_parts.jinja" as parts %}
{{ parts.scenario(country, topic) }}

{% if variant.order == "options_first" %}
{{ parts.options(variant.framing) }}

{% endif %}
{% if variant.framing == "survey" %}
How strongly do you agree that the value {{ value.name }} ({{ value.definition }}) matters \
to you in this context?
{% else %}
Think of a person for whom the value {{ value.name }} ({{ value.definition }}) comes first. \
How much is this person like you in this context?
{% endif %}
{% if variant.order == "values_first" %}

{{ parts.options(variant.framing) }}
{% endif %}

Answer with a single digit: 1, 2, 3 or 4.{% if variant.ending == "completion" %}


The answer is:{% endif %}"""


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=8, help="values per scenario (max 16)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per setup")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["VALUELENS_CACHE_DIR"] = cache
        asyncio.run(main(min(args.values, len(VALUES)), args.rounds))
