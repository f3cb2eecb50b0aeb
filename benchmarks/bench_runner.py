"""Runner overhead: the valuelens runner vs a bare asyncio + AsyncOpenAI loop, in one process.

Both send the same requests, at the same concurrency, to a fake OpenAI-compatible server in
its own process with a fixed latency and injected faults (429 with Retry-After, 500). The bare
loop keeps nothing and relies on the SDK's default retries; the runner stores every result
in SQLite and retries until done. Then the runner replays everything from its store.

    uv run python benchmarks/bench_runner.py            # 5,000 requests, as in the issue
    uv run python benchmarks/bench_runner.py --n 500    # a quick run

Targets (issue 4): runner wall time <= 1.25x the bare loop, 100% completed, peak memory
< 150 MB, replay > 2,000 requests/s. This machine's other load adds noise; use --rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import openai

import _common  # noqa: F401  (puts tests/ on sys.path)
from support.fake_server import spawn_server
from valuelens.models import (
    BackendError,
    Capabilities,
    Message,
    OpenAIBackend,
    Request,
    Response,
    Usage,
)
from valuelens.runner import Runner, Store

MODEL = "bench-model"
SYSTEM = "You are a careful assistant. Answer with a single number from 1 to 4."


@dataclass
class Phase:
    name: str
    wall_s: float
    cpu_s: float
    completed: int
    total: int

    def line(self) -> str:
        return (
            f"{self.name:<14} wall {self.wall_s:7.2f} s   cpu {self.cpu_s * 1000 / self.total:6.2f} ms/req"
            f"   completed {self.completed}/{self.total}"
        )


def make_requests(n: int, salt: str) -> list[Request]:
    return [
        Request(
            messages=(
                Message("system", SYSTEM),
                Message("user", f"[{salt}] Item {i}: how much does value {i % 56} matter here?"),
            ),
            max_tokens=16,
            metadata={"item": i},
        )
        for i in range(n)
    ]


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen[str], str]:
    options = [
        f"--latency={args.latency}",
        f"--p429={args.p429}",
        f"--p500={args.p500}",
        f"--retry-after={args.retry_after}",
    ]
    if args.retry_after_ms != "none":
        options.append(f"--retry-after-ms={args.retry_after_ms}")
    return spawn_server(*options)


async def bare_loop(base_url: str, requests: list[Request], concurrency: int) -> Phase:
    """What a careful script does: the official client, a semaphore, the SDK's retries."""
    client = openai.AsyncOpenAI(base_url=base_url, api_key="bench-key")
    semaphore = asyncio.Semaphore(concurrency)

    async def one(request: Request) -> str | None:
        async with semaphore:
            try:
                completion = await client.chat.completions.create(
                    model=MODEL,
                    messages=[{"role": m.role, "content": m.content} for m in request.messages],  # type: ignore[misc]
                    temperature=request.temperature,
                    max_tokens=request.max_tokens,
                    seed=request.seed,
                )
            except openai.APIError:
                return None
            return completion.choices[0].message.content

    wall, cpu = time.perf_counter(), time.process_time()
    answers = await asyncio.gather(*(one(request) for request in requests))
    phase = Phase(
        "bare loop",
        time.perf_counter() - wall,
        time.process_time() - cpu,
        sum(answer is not None for answer in answers),
        len(requests),
    )
    await client.close()
    return phase


async def with_runner(
    base_url: str, requests: list[Request], concurrency: int, store_path: Path, name: str
) -> Phase:
    backend = OpenAIBackend(MODEL, base_url=base_url)
    with Store(store_path) as store:
        runner = Runner(backend, store, concurrency=concurrency, progress=False)
        wall, cpu = time.perf_counter(), time.process_time()
        results = await runner.run(requests)
        phase = Phase(
            name,
            time.perf_counter() - wall,
            time.process_time() - cpu,
            sum(result.ok for result in results),
            len(requests),
        )
        if name == "runner":
            finished, _ = store.counts()
            assert finished == phase.completed, (finished, phase.completed)
        else:
            assert all(result.cached for result in results)
    await backend.aclose()
    return phase


class SleepBackend:
    """An in-process backend: the fake server's latency and faults, without HTTP.

    It isolates the runner's own CPU per request (keys, store, retries, results) from the
    transport's. Faults are drawn from a seeded generator at the fake server's rates: 429 with
    a 100 ms wait, as `retry-after-ms` says, and 500.
    """

    def __init__(self, latency: float, p429: float = 0.10, p500: float = 0.03) -> None:
        self._latency, self._p429, self._p500 = latency, p429, p500
        self._random = random.Random(0)
        self._raw = {
            "id": "chatcmpl-sleep",
            "object": "chat.completion",
            "model": MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "3"}}],
            "usage": {"prompt_tokens": 40, "completion_tokens": 1, "total_tokens": 41},
        }

    @property
    def identity(self) -> dict[str, str]:
        return {"kind": "sleep", "model": MODEL, "endpoint": "in-process"}

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities()

    async def complete(self, request: Request) -> Response:
        await asyncio.sleep(self._latency)
        draw = self._random.random()
        if draw < self._p429:
            raise BackendError("HTTP 429", retryable=True, status=429, retry_after_s=0.1)
        if draw < self._p429 + self._p500:
            raise BackendError("HTTP 500", retryable=True, status=500)
        usage = Usage(40, 1)
        return Response("3", None, usage, self._latency, "stop", dict(self._raw))

    async def aclose(self) -> None:
        return None


async def runner_only(n: int, concurrency: int, latency: float) -> Phase:
    """The runner's own CPU: `n` requests through `SleepBackend` (no HTTP), from an empty store."""
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "s.db") as store:
        runner = Runner(SleepBackend(latency), store, concurrency=concurrency, progress=False)
        await runner.run(make_requests(64, "warm-sleep"))
        requests = make_requests(n, "sleep")
        wall, cpu = time.perf_counter(), time.process_time()
        results = await runner.run(requests)
        return Phase(
            "runner, no HTTP",
            time.perf_counter() - wall,
            time.process_time() - cpu,
            sum(result.ok for result in results),
            len(requests),
        )


async def main(args: argparse.Namespace) -> None:
    server, base_url = start_server(args)
    ideal = args.n * args.latency / args.concurrency
    print(
        f"{args.n} requests, concurrency {args.concurrency}, latency {args.latency * 1000:.0f} ms, "
        f"faults: {args.p429:.0%} 429 (Retry-After: {args.retry_after}, retry-after-ms: "
        f"{args.retry_after_ms}), {args.p500:.0%} 500; ideal {ideal:.2f} s"
    )
    ratios, replay_rates = [], []
    try:
        with tempfile.TemporaryDirectory() as folder:
            # Warm both paths up (imports, connection pools) before timing anything.
            await bare_loop(base_url, make_requests(64, "warm-bare"), args.concurrency)
            await with_runner(
                base_url,
                make_requests(64, "warm"),
                args.concurrency,
                Path(folder) / "w.db",
                "runner",
            )
            for round_ in range(args.rounds):
                requests = make_requests(args.n, f"round-{round_}")
                store_path = Path(folder) / f"round-{round_}.sqlite"
                order = ["bare", "runner"] if round_ % 2 == 0 else ["runner", "bare"]
                phases: dict[str, Phase] = {}
                for which in order:
                    if which == "bare":
                        phases[which] = await bare_loop(base_url, requests, args.concurrency)
                    else:
                        phases[which] = await with_runner(
                            base_url, requests, args.concurrency, store_path, "runner"
                        )
                replay = await with_runner(
                    base_url, requests, args.concurrency, store_path, "replay"
                )
                bare, runner = phases["bare"], phases["runner"]
                ratio = runner.wall_s / bare.wall_s
                ratios.append(ratio)
                replay_rates.append(args.n / replay.wall_s)
                print(f"round {round_ + 1}")
                for phase in (bare, runner, replay):
                    print("  " + phase.line())
                print(
                    f"  runner/bare {ratio:.2f}x   runner/ideal {runner.wall_s / ideal:.2f}x   "
                    f"bare/ideal {bare.wall_s / ideal:.2f}x   replay {args.n / replay.wall_s:,.0f} req/s"
                )
    finally:
        server.terminate()
        server.wait()
    own = await runner_only(args.n, args.concurrency, args.latency)
    print("  " + own.line() + "   (the runner's own share: an in-process backend, no HTTP)")
    peak_mb = peak_rss_mb()
    runner_peak_mb, imports_mb = measure_runner_memory(args)
    print(
        f"memory: this process (bare loop + runner) peak RSS {peak_mb:.0f} MB; a process running "
        f"only the runner: peak RSS {runner_peak_mb:.0f} MB, of which {imports_mb:.0f} MB is "
        "just importing valuelens"
    )
    print(
        f"SUMMARY runner/bare {statistics.median(ratios):.2f}x (target <= 1.25)   "
        f"replay {statistics.median(replay_rates):,.0f} req/s (target > 2,000)   "
        f"runner peak RSS {runner_peak_mb:.0f} MB (target < 150)"
    )


def peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss would include the parent's)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_runner_memory(args: argparse.Namespace) -> tuple[float, float]:
    """Peak RSS of a fresh process that runs only the runner (and its replay) on the workload."""
    command = [sys.executable, __file__, "--memory-child", f"--n={args.n}"]
    command += [f"--concurrency={args.concurrency}", f"--latency={args.latency}"]
    command += [f"--p429={args.p429}", f"--p500={args.p500}", f"--retry-after={args.retry_after}"]
    command += [f"--retry-after-ms={args.retry_after_ms}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()
    return float(output[0]), float(output[1])


async def memory_child(args: argparse.Namespace, imports_mb: float) -> None:
    server, base_url = start_server(args)
    try:
        with tempfile.TemporaryDirectory() as folder:
            requests = make_requests(args.n, "memory")
            path = Path(folder) / "memory.sqlite"
            await with_runner(base_url, requests, args.concurrency, path, "runner")
            await with_runner(base_url, requests, args.concurrency, path, "replay")
    finally:
        server.terminate()
        server.wait()
    print(peak_rss_mb(), imports_mb)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="requests per phase")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.05, help="server latency, seconds")
    parser.add_argument("--p429", type=float, default=0.10)
    parser.add_argument("--p500", type=float, default=0.03)
    parser.add_argument("--retry-after", default="1", help="Retry-After header (seconds)")
    parser.add_argument(
        "--retry-after-ms",
        default="100",
        help="retry-after-ms header as OpenAI's API sends it, or 'none' for Retry-After only",
    )
    parser.add_argument("--rounds", type=int, default=1, help="repeat and report the median")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.memory_child:
        asyncio.run(memory_child(arguments, peak_rss_mb()))
    else:
        asyncio.run(main(arguments))
