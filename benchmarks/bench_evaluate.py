"""`valuelens evaluate` end to end vs a bare asyncio + AsyncOpenAI script, as whole processes.

One scenario (one country x one topic, all 56 values) with every prompt variant of both tasks:
8 Task 1 requests and 448 Task 2 requests, against the fake OpenAI-compatible server in its own
process (fixed latency, 429s with Retry-After, 500s; it answers each JSON schema like a model).

* valuelens: `uv run valuelens evaluate ... --concurrency 32 --no-report`, timed from spawn to
  exit, then the same command again (everything comes from the cache).
* bare loop: `uv run python` on a script that sends the same 456 request bodies (built here
  with the valuelens tasks and dumped to JSON) through `openai.AsyncOpenAI` with a
  semaphore(32) and the SDK's default retries, keeping nothing.

    uv run python benchmarks/bench_evaluate.py                   # 3 rounds, as in the issue
    uv run python benchmarks/bench_evaluate.py --rounds 1 --profile

Target (the issue's acceptance criterion): valuelens wall time <= 1.5x the bare loop's. Both
sides pay the same launcher (`uv run`); `--launcher venv` runs `.venv/bin/...` directly instead.
Start-up is mostly imports, so bytecode caching matters: by default the children write and read
.pyc files under a private PYTHONPYCACHEPREFIX (as after a normal install, even where
PYTHONDONTWRITEBYTECODE is set); `--bytecode off` compiles every module in every process.
Only the standard library is imported at module level, so the bare child stays bare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (puts tests/ on sys.path)
from support import evaluate_run
from support.fake_server import spawn_server

ROOT = Path(__file__).resolve().parents[1]
MODEL = "fake"
COUNTRY = "United States"
TOPIC = "Environment"


@dataclass
class Timed:
    name: str
    wall_s: float
    cpu_s: float
    detail: str = ""

    def line(self, ideal_s: float) -> str:
        return (
            f"{self.name:<19} wall {self.wall_s:6.2f} s ({self.wall_s / ideal_s:4.2f}x ideal)"
            f"  cpu {self.cpu_s:5.2f} s   {self.detail}"
        )


# ---------------------------------------------------------------------------------------------
# The bare child: what a careful script does, nothing more.
# ---------------------------------------------------------------------------------------------


async def _bare(payloads: Path, base_url: str, concurrency: int) -> dict[str, int]:
    import openai

    bodies: list[dict[str, Any]] = json.loads(payloads.read_text())
    client = openai.AsyncOpenAI(base_url=base_url, api_key="bench-key")
    semaphore = asyncio.Semaphore(concurrency)

    async def one(body: dict[str, Any]) -> str | None:
        async with semaphore:
            try:
                completion = await client.chat.completions.create(**body)
            except openai.APIError:
                return None
            return completion.choices[0].message.content

    answers = await asyncio.gather(*(one(body) for body in bodies))
    await client.close()
    ok = sum(answer is not None for answer in answers)
    return {"ok": ok, "failed": len(answers) - ok}


# ---------------------------------------------------------------------------------------------
# The parent.
# ---------------------------------------------------------------------------------------------


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen[str], str]:
    return spawn_server(
        f"--latency={args.latency}",
        f"--p429={args.p429}",
        f"--p500={args.p500}",
        f"--retry-after={args.retry_after}",
        f"--seed={args.seed}",
    )


def write_via(path: Path) -> None:
    from valuelens.taxonomy import load_taxonomy

    actions = {
        value: (
            f"I give my weekend to {value.lower()} in my town.",
            f"I ignore {value.lower()} when it costs me time.",
        )
        for value in (v.name for v in load_taxonomy().values)
    }
    evaluate_run.write_via(path, COUNTRY, TOPIC, actions, explanations=None)


def build_payloads(via: Path, base_url: str, path: Path) -> list[str]:
    """The request bodies `evaluate` sends (same tasks, settings and backend); returns their keys.

    Public APIs only, with `EvaluateConfig`'s defaults; the first round checks that valuelens
    stored exactly these keys.
    """
    from valuelens.data import load_via
    from valuelens.models import OpenAIBackend
    from valuelens.pipeline import EvaluateConfig
    from valuelens.runner import request_key
    from valuelens.tasks import action_task, stated_task
    from valuelens.taxonomy import load_taxonomy

    config = EvaluateConfig(out=path.parent)
    taxonomy = load_taxonomy()
    settings = {"taxonomy": taxonomy, "temperature": config.temperature, "seed": config.seed}
    stated = stated_task(variants="all", max_reasks=config.max_reasks, **settings)
    requests = stated.build_requests([COUNTRY], [TOPIC])
    actions = load_via(via, taxonomy=taxonomy)
    requests += action_task(variants="all", **settings).build_requests(actions)
    backend = OpenAIBackend(MODEL, base_url=base_url)
    # The backend's own body builder, so both sides send byte-for-byte the same JSON.
    path.write_text(json.dumps([backend.request_body(request) for request in requests]))
    return [request_key(request, backend.identity) for request in requests]


def launcher(args: argparse.Namespace, program: str, *rest: str) -> list[str]:
    if args.launcher == "uv":
        return ["uv", "run", "--project", str(ROOT), program, *rest]
    return [str(ROOT / ".venv" / "bin" / program), *rest]


def evaluate_args(args: argparse.Namespace, base_url: str, via: Path, out: Path) -> list[str]:
    return evaluate_run.evaluate_args(
        base_url, via, out, country=COUNTRY, topic=TOPIC, concurrency=args.concurrency
    )


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall time from spawn to exit, CPU time of the process tree (launcher included), stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])}... failed ({proc.returncode}):\n{proc.stderr}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, proc.stdout


def run_valuelens(
    args: argparse.Namespace, base_url: str, via: Path, out: Path, env: dict[str, str]
) -> Timed:
    command = launcher(args, "valuelens", *evaluate_args(args, base_url, via, out))
    wall, cpu, _ = timed(command, env)
    summary = json.loads((out / "summary.json").read_text())
    usage = summary.get("usage_last_invocation") or summary["usage"]  # this invocation only
    detail = (
        f"n_pairs {summary.get('n_pairs')}, alignment {summary.get('alignment_rate', 0):.3f}, "
        f"requests sent {usage['requests_sent']}, cached {usage['requests_cached']}, "
        f"failed {usage['requests_failed']}"
    )
    if usage["requests_sent"]:
        detail += "; " + tail(out)
    return Timed("valuelens", wall, cpu, detail)


def run_bare(args: argparse.Namespace, base_url: str, payloads: Path, env: dict[str, str]) -> Timed:
    child = (str(Path(__file__).resolve()), "--bare-child", str(payloads), base_url)
    command = launcher(args, "python", *child, str(args.concurrency))
    wall, cpu, stdout = timed(command, env)
    counts = json.loads(stdout.strip().splitlines()[-1])
    return Timed("bare loop", wall, cpu, f"ok {counts['ok']}, failed {counts['failed']}")


def tail(out: Path) -> str:
    """The slowest request of a run, from its store: retries make the tail."""
    records = run_records(out)
    slowest = max(records, key=lambda r: r.finished_at - r.started_at)
    attempts = sum(r.attempts for r in records)
    return (
        f"{attempts} attempts, slowest request {slowest.finished_at - slowest.started_at:.1f} s "
        f"({slowest.attempts} attempts), max {max(r.attempts for r in records)} attempts"
    )


def run_records(out: Path, *, ok: bool | None = None) -> list[Any]:
    """The stored records of the requests a run asked (its `requests.json` names the store)."""
    from valuelens.pipeline import read_ledger
    from valuelens.runner import Store

    ledger = read_ledger(out)
    if ledger is None:
        raise SystemExit(f"{out}: no requests.json, so its store is unknown")
    with Store(Path(ledger.store)) as store:
        return list(store.records(ok=ok, keys=ledger.keys))


def stored_keys(out: Path) -> set[str]:
    return {record.key for record in run_records(out, ok=True)}


def startup(args: argparse.Namespace, env: dict[str, str]) -> tuple[float, float]:
    """Process start-up alone: `valuelens --help`, and `python -c 'import openai'`."""
    cli, _, _ = timed(launcher(args, "valuelens", "--help"), env)
    bare, _, _ = timed(launcher(args, "python", "-c", "import openai"), env)
    return cli, bare


def profile(
    args: argparse.Namespace, base_url: str, via: Path, folder: Path, env: dict[str, str]
) -> None:
    """cProfile of one fresh `evaluate` in a child process (the server keeps its faults)."""
    import pstats

    cli_args = evaluate_args(args, base_url, via, folder / "profiled")
    stats_path = folder / "evaluate.prof"
    script = folder / "profiled.py"
    script.write_text(
        "import cProfile\n"
        "profiler = cProfile.Profile()\n"
        "profiler.enable()\n"
        "from valuelens.cli import app\n"
        f"app({cli_args!r}, standalone_mode=False)\n"
        "profiler.disable()\n"
        f"profiler.dump_stats({str(stats_path)!r})\n"
    )
    wall, _, _ = timed(launcher(args, "python", str(script)), env)
    print(f"\nprofile of one run, imports included ({wall:.2f} s wall under cProfile):")
    stats = pstats.Stats(str(stats_path))
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(15)


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a running process (Linux), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_env(args: argparse.Namespace, folder: Path) -> dict[str, str]:
    """The children's environment; bytecode caches go to a private folder, never the repo.

    `cached` is a normal install (modules compiled once, then read from .pyc); `off` compiles
    every module in every process, as with PYTHONDONTWRITEBYTECODE=1 and no caches on disk.
    """
    env = {**os.environ, "OPENAI_API_KEY": "bench-key", "NO_COLOR": "1"}
    env["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")
    env["VALUELENS_CACHE_DIR"] = str(folder / "cache")  # a private store, never the user's
    if args.bytecode == "cached":
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def warm_up(
    args: argparse.Namespace, base_url: str, via: Path, payloads: Path, env: dict[str, str]
) -> None:
    """Both programs once on a sliver of the work: bytecode caches and the OS page cache."""
    folder = payloads.parent
    small = folder / "warm-payloads.json"
    small.write_text(json.dumps(json.loads(payloads.read_text())[:4]))
    run_bare(args, base_url, small, env)
    command = evaluate_args(args, base_url, via, folder / "warm-run")
    command[command.index("--variants") + 1] = "0"
    command[command.index("--stated-variants") + 1] = "0"
    timed(launcher(args, "valuelens", *command, "--values", "Wealth,Honest"), env)


def main(args: argparse.Namespace) -> None:
    server, base_url = start_server(args)
    ratios: list[float] = []
    cached: list[float] = []
    n = 0
    try:
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            env = child_env(args, folder)
            via = folder / "via.csv"
            write_via(via)
            payloads = folder / "payloads.json"
            keys = build_payloads(via, base_url, payloads)
            n = len(keys)
            ideal = n / args.concurrency * args.latency
            print(
                f"{n} requests ({COUNTRY} x {TOPIC}, 8 + 8 variants), concurrency "
                f"{args.concurrency}, latency {args.latency * 1000:.0f} ms, faults "
                f"{args.p429:.0%} 429 (Retry-After: {args.retry_after}) + {args.p500:.0%} 500; "
                f"ideal {ideal:.2f} s; launcher: {args.launcher}; bytecode: {args.bytecode}"
            )
            warm_up(args, base_url, via, payloads, env)
            cli_start, bare_start = startup(args, env)
            print(
                f"start-up only: `valuelens --help` {cli_start:.2f} s, "
                f"`python -c 'import openai'` {bare_start:.2f} s"
            )
            for round_ in range(args.rounds):
                out = folder / f"run-{round_}"
                # each round on a store of its own, so its first valuelens run sends everything
                round_env = {**env, "VALUELENS_CACHE_DIR": str(folder / f"cache-{round_}")}
                order = ["bare", "valuelens"] if round_ % 2 == 0 else ["valuelens", "bare"]
                phases: dict[str, Timed] = {}
                for which in order:
                    if which == "bare":
                        phases[which] = run_bare(args, base_url, payloads, env)
                    else:
                        phases[which] = run_valuelens(args, base_url, via, out, round_env)
                if round_ == 0:
                    assert stored_keys(out) == set(keys), "valuelens sent other requests"
                again = run_valuelens(args, base_url, via, out, round_env)
                again.name = "valuelens (cached)"
                ratio = phases["valuelens"].wall_s / phases["bare"].wall_s
                ratios.append(ratio)
                cached.append(again.wall_s)
                print(f"round {round_ + 1}")
                for phase in (phases["bare"], phases["valuelens"], again):
                    print("  " + phase.line(ideal))
                print(f"  valuelens/bare {ratio:.2f}x")
            if args.profile:
                profile(args, base_url, via, folder, env)
        server_cpu = process_cpu_s(server.pid)
        if server_cpu is not None:
            print(
                f"fake server: {server_cpu:.2f} s CPU in all (every phase above, warm-up included)"
            )
    finally:
        server.terminate()
        server.wait()
    if ratios:
        print(
            f"SUMMARY valuelens/bare {statistics.median(ratios):.2f}x (target <= 1.5)   "
            f"cached rerun {statistics.median(cached):.2f} s   "
            f"({n} requests, bytecode {args.bytecode}, median of {len(ratios)} rounds)"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.2, help="server latency, seconds")
    parser.add_argument("--p429", type=float, default=0.10)
    parser.add_argument("--p500", type=float, default=0.03)
    parser.add_argument("--retry-after", default="1", help="Retry-After header (seconds)")
    parser.add_argument("--seed", type=int, default=0, help="the server's fault seed")
    parser.add_argument("--rounds", type=int, default=3, help="repeat and report the median")
    parser.add_argument("--launcher", choices=("uv", "venv"), default="uv")
    parser.add_argument(
        "--bytecode",
        choices=("cached", "off"),
        default="cached",
        help="cached: .pyc files as after a normal install; off: compile every module each run",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile one in-process run")
    parser.add_argument("--bare-child", nargs=3, help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.bare_child:
        file, url, limit = arguments.bare_child
        print(json.dumps(asyncio.run(_bare(Path(file), url, int(limit)))))
    else:
        main(arguments)
