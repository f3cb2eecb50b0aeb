"""Every scale figure of issue 12 in one command, each as a ratio measured in the same run.

    uv run python benchmarks/run_all.py            # the issue's sizes (about 15 minutes)
    uv run python benchmarks/run_all.py --quick    # smaller sizes, a smoke run (2-3 minutes)
    uv run python benchmarks/run_all.py --only transport,memory

Parts (`--only` picks some):

* transport: the runner (what `evaluate` sends through) vs a bare asyncio + AsyncOpenAI loop
  and vs the ideal (n x latency / concurrency), at c32 (5,000 requests, 50 ms) and c500
  (50,000 requests, 200 ms), with bench_runner's faults (10% 429, 3% 500); client CPU ms per
  request, and the runner's own share of it (the same run through an in-process backend
  with the same latency and faults, no HTTP); then the replay of every answer from the
  store (cached rerun, requests/s).
* memory: a fresh process streams 50,000 requests at c500 through the runner (nothing kept),
  and one keeps `run`'s result list; peak RSS, and RSS after 10k vs at the end.
* cli: `valuelens evaluate` vs the bare loop as whole processes (bench_evaluate, one round).
* rerun: a fully cached `valuelens evaluate` of 5,016 requests, into a new `--out` and again
  into the same one, vs a bare process that imports valuelens and reads the store (bench_rerun).
* score: `score_value_action` on 7,392 pairs vs the naive scikit-learn loop (bench_score).
* embedded: the bundled llama.cpp model: seconds per Task 1 scenario (logprob and generate),
  per Task 2 pair, Task 1 logprob with and without prefix-ordered sending, and today's Task 1
  logprob defaults vs those when issue 12 was filed, each lever alone (bench_embedded).

Targets (issue 12): c500 runner <= 3x ideal; peak RSS < 200 MB and < 10% growth from 10k to
50k; client CPU <= 1.5 ms/request at c32; runner <= 0.6x the bare loop's wall time at c32.
The fake server shares this machine's cores: on 2 cores its CPU competes with the client's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import _common  # noqa: F401  (puts tests/ on sys.path)
import bench_runner
from _common import best_of
from bench_runner import (
    Phase,
    bare_loop,
    make_requests,
    peak_rss_mb,
    runner_only,
    with_runner,
)
from valuelens.models import Backend, Request

HERE = Path(__file__).resolve().parent
PARTS = ("transport", "memory", "cli", "rerun", "score", "embedded")
FIGURES: list[str] = []


def figure(text: str) -> None:
    """Print a figure now and again in the summary at the end."""
    print("  " + text, flush=True)
    FIGURES.append(text)


# ---------------------------------------------------------------------------------------------
# transport
# ---------------------------------------------------------------------------------------------


def server_args(latency: float) -> argparse.Namespace:
    return argparse.Namespace(
        latency=latency, p429=0.10, p500=0.03, retry_after="1", retry_after_ms="100"
    )


async def transport(n: int, concurrency: int, latency: float) -> None:
    server, base_url = bench_runner.start_server(server_args(latency))
    ideal = n * latency / concurrency
    print(
        f"\n[transport] {n:,} requests, c{concurrency}, {latency * 1000:.0f} ms; ideal {ideal:.1f} s"
    )
    try:
        with tempfile.TemporaryDirectory() as folder:
            store = Path(folder) / "store.sqlite"
            await bare_loop(base_url, make_requests(64, "warm-bare"), concurrency)
            await with_runner(
                base_url, make_requests(64, "warm"), concurrency, Path(folder) / "w.db", "runner"
            )
            requests = make_requests(n, f"c{concurrency}")
            bare = await bare_loop(base_url, requests, concurrency)
            runner = await with_runner(base_url, requests, concurrency, store, "runner")
            replay = await with_runner(base_url, requests, concurrency, store, "replay")
    finally:
        server.terminate()
        server.wait()
    own = await runner_only(n, concurrency, latency)
    for phase in (bare, runner, replay, own):
        print("    " + phase.line())
    tag = f"c{concurrency} {n:,} req"
    figure(f"{tag}: runner/bare wall {runner.wall_s / bare.wall_s:.2f}x")
    figure(
        f"{tag}: runner/ideal {runner.wall_s / ideal:.2f}x, bare/ideal {bare.wall_s / ideal:.2f}x"
    )
    figure(
        f"{tag}: client CPU runner {cpu_ms(runner):.2f} ms/req, bare {cpu_ms(bare):.2f} ms/req "
        f"({cpu_ms(runner) / cpu_ms(bare):.2f}x)"
    )
    figure(
        f"{tag}: of which the runner itself {cpu_ms(own):.2f} ms/req (an in-process backend "
        "with the same latency and faults, no HTTP); the rest is the HTTP transport"
    )
    figure(
        f"{tag}: cached rerun {replay.wall_s:.2f} s = {n / replay.wall_s:,.0f} req/s "
        f"({replay.wall_s / runner.wall_s:.3f}x the first run)"
    )


def cpu_ms(phase: Phase) -> float:
    return phase.cpu_s * 1000 / phase.total


# ---------------------------------------------------------------------------------------------
# memory (each mode in a fresh process, so one's garbage does not count against the other)
# ---------------------------------------------------------------------------------------------


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def memory_child(n: int, concurrency: int, mode: str) -> dict[str, float]:
    from valuelens.models import OpenAIBackend
    from valuelens.runner import Runner, Store

    started_mb = rss_mb()
    server, base_url = bench_runner.start_server(server_args(0.2))
    mark = n // 5  # the 10k point of 50k
    at_mark = float("nan")
    try:
        with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "m.db") as store:
            requests = make_requests(n, "memory")
            built_mb = rss_mb()
            backend = OpenAIBackend(bench_runner.MODEL, base_url=base_url)
            runner = Runner(backend, store, concurrency=concurrency, progress=False)
            count, kept = 0, []
            async for _, result in runner.stream(requests):
                count += 1
                if mode == "run":
                    kept.append(result)
                if count == mark:
                    at_mark = rss_mb()
            at_end = rss_mb()
            await backend.aclose()
    finally:
        server.terminate()
        server.wait()
    return {
        "start": started_mb,
        "built": built_mb,
        "mark": at_mark,
        "end": at_end,
        "peak": peak_rss_mb(),
    }


def memory(n: int, concurrency: int) -> None:
    print(f"\n[memory] {n:,} requests at c{concurrency}, 200 ms, in fresh processes")
    for mode in ("stream", "run"):
        command = [sys.executable, __file__, "--memory-child", mode, f"--n={n}"]
        command.append(f"--concurrency={concurrency}")
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        got = json.loads(output.strip().splitlines()[-1])
        growth = (got["end"] - got["mark"]) / got["mark"]
        what = "results streamed, none kept" if mode == "stream" else "run(): result list kept"
        figure(
            f"memory ({what}): peak RSS {got['peak']:.0f} MB; RSS at {n // 5:,} results "
            f"{got['mark']:.0f} MB, at {n:,} {got['end']:.0f} MB (growth {growth:+.1%}); "
            f"imports {got['start']:.0f} MB, + requests built {got['built']:.0f} MB"
        )


# ---------------------------------------------------------------------------------------------
# cli, score
# ---------------------------------------------------------------------------------------------


def cli() -> None:
    print("\n[cli] valuelens evaluate vs the bare loop, whole processes (bench_evaluate)")
    command = [sys.executable, str(HERE / "bench_evaluate.py"), "--rounds=1", "--launcher=venv"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    for line in output.splitlines():
        print("    " + line)
        if line.startswith("SUMMARY"):
            figure("evaluate (one scenario, 456 requests, c32, 200 ms): " + line[8:])


def rerun() -> None:
    print("\n[rerun] a fully cached evaluate of 5,016 requests (bench_rerun)")
    command = [sys.executable, str(HERE / "bench_rerun.py"), "--rounds=1"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    for line in output.splitlines():
        print("    " + line)
        if line.startswith("SUMMARY"):
            figure("cached rerun (5,016 requests): " + line[8:])


def score(repeat: int) -> None:
    import bench_score  # pandas and scikit-learn: not in the memory children
    from valuelens.metrics import score_value_action
    from valuelens.taxonomy import load_taxonomy

    print("\n[score] 7,392 pairs, 1,000 bootstrap resamples (bench_score)")
    tax = load_taxonomy()
    stated, choices = bench_score.synthetic()
    ours = best_of(repeat, lambda: score_value_action(stated, choices, tax, n_resamples=1000))
    naive = best_of(repeat, lambda: bench_score.naive(stated, choices, 1000))
    figure(f"scoring 7,392 pairs: {ours:.2f} s, {ours / naive:.2f}x the naive sklearn loop")


# ---------------------------------------------------------------------------------------------
# embedded
# ---------------------------------------------------------------------------------------------


async def timed_run(
    backend: Backend, requests: list[Request], prefix_order: bool = True
) -> tuple[float, int]:
    """Seconds to answer `requests` from an empty store, and the prompt tokens evaluated.

    Tokens evaluated are the prompt tokens minus those llama.cpp reused from its cache (the
    raw payloads in the store say how many).
    """
    from valuelens.runner import Runner, Store

    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "e.db") as store:
        runner = Runner(backend, store, concurrency=8, progress=False, prefix_order=prefix_order)
        started = time.perf_counter()
        results = await runner.run(requests)
        elapsed = time.perf_counter() - started
        evaluated = 0
        for record in store.records():
            usage = ((record.response or {}).get("raw") or {}).get("usage") or {}
            cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
            evaluated += record.prompt_tokens - cached
    assert all(result.ok for result in results), [r.error for r in results if not r.ok][:3]
    return elapsed, evaluated


async def embedded(quick: bool) -> None:
    from valuelens.models import EmbeddedBackend
    from valuelens.tasks import ActionPair, action_task, stated_task

    values = ["Honest", "Wealth", "Clean", "Social Power"]
    if not quick:
        values += ["Helpful", "Forgiving", "Equality", "Freedom"]
    print(f"\n[embedded] SmolLM2-135M in-process; Task 1 logprob on {len(values)} of 56 values")
    backend = EmbeddedBackend()
    backend.load()
    logprob = stated_task(scoring="logprob", variants="all")
    await timed_run(backend, logprob.build_requests("Canada", "Religion", values[:1]))  # warm-up
    # Two scenarios whose prompts are the same length, so neither reuses the other's cache.
    requests = logprob.build_requests("Canada", "Environment", values)
    unordered, unordered_tokens = await timed_run(backend, requests, prefix_order=False)
    requests = logprob.build_requests("Uganda", "Environment", values)
    ordered, ordered_tokens = await timed_run(backend, requests, prefix_order=True)
    per_request = ordered / len(requests)
    figure(
        f"embedded Task 1 logprob: {per_request:.3f} s/request, {per_request * 56 * 8:.0f} s per "
        f"scenario (56 values x 8 variants)"
    )
    figure(
        f"prefix order (embedded Task 1 logprob): wall {ordered / unordered:.2f}x the caller's "
        f"order ({unordered / len(requests):.3f} s/request), prompt tokens evaluated "
        f"{ordered_tokens:,} vs {unordered_tokens:,} ({ordered_tokens / unordered_tokens:.2f}x)"
    )
    variants = "0" if quick else "0,5"
    generate = stated_task(variants=variants).build_requests("Canada", "Environment")
    seconds, _ = await timed_run(backend, generate)
    figure(
        f"embedded Task 1 generate: {seconds / len(generate):.1f} s/request, "
        f"{seconds / len(generate) * 8:.0f} s per scenario (8 variants x 56 values)"
    )
    pairs = [
        ActionPair(
            "Canada",
            "Environment",
            value,
            positive=f"I act for {value.lower()}.",
            negative=f"I ignore {value.lower()}.",
        )
        for value in values[: 1 if quick else 2]
    ]
    action = action_task(variants="all").build_requests(pairs)
    seconds, _ = await timed_run(backend, action)
    figure(f"embedded Task 2: {seconds / len(pairs):.1f} s per pair (8 variants)")
    await backend.aclose()
    import bench_embedded

    levers = await bench_embedded.main(4 if quick else 16, 2 if quick else 3)
    figure(
        f"embedded Task 1 logprob, today's defaults vs when issue 12 was filed: "
        f"{levers['speed_up']:.2f}x faster ({levers['after_s']:.3f} vs {levers['before_s']:.3f} "
        f"s/request); alone: prompts on all cores {levers['threads only_ratio']:.2f}x, value-last "
        f"layout {levers['layout only_ratio']:.2f}x, prefix order {levers['order only_ratio']:.2f}x "
        "the wall time"
    )


# ---------------------------------------------------------------------------------------------


def both_transports(c32_n: int, c500_n: int) -> None:
    asyncio.run(transport(c32_n, 32, 0.05))
    asyncio.run(transport(c500_n, 500, 0.2))


def main(args: argparse.Namespace) -> None:
    parts = PARTS if args.only is None else tuple(args.only.split(","))
    c32_n, c500_n = (1000, 10000) if args.quick else (5000, 50000)
    started = time.perf_counter()
    steps: dict[str, Callable[[], None]] = {
        "transport": lambda: both_transports(c32_n, c500_n),
        "memory": lambda: memory(c500_n, 500),
        "cli": cli,
        "rerun": rerun,
        "score": lambda: score(1 if args.quick else 3),
        "embedded": lambda: asyncio.run(embedded(args.quick)),
    }
    for part in parts:
        steps[part]()
    print(
        f"\nFIGURES ({'quick' if args.quick else 'full'} run, {time.perf_counter() - started:.0f} s)"
    )
    for text in FIGURES:
        print("  " + text)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes: a smoke run")
    parser.add_argument("--only", help=f"comma-separated parts of {','.join(PARTS)}")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=50000, help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=500, help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.memory_child:
        child = memory_child(arguments.n, arguments.concurrency, arguments.memory_child)
        print(json.dumps(asyncio.run(child)))
    else:
        main(arguments)
