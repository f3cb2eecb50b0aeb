"""The fixed cost of a fully cached `valuelens evaluate` rerun of ~5,000 requests.

One country x all 11 topics x all 56 values, every prompt variant of both tasks: 11 x (8 Task 1
+ 448 Task 2) = 5,016 requests, from a VIA file in the authors' release layout with every
country, topic and value (14,784 generated answers to parse, as in the real release). A first
run fills the store against the fake server. Each timed round then runs, in fresh processes,
the same evaluation into a new `--out` (no request sent; the results computed and written) and
again into that `--out` (the results kept: `valuelens.pipeline._reuse`), with and without the
report.

Baseline, measured in the same run: a bare process that imports valuelens and reads every row
of the store with `sqlite3` (what any rerun has to pay at least).

    uv run python benchmarks/bench_rerun.py                  # 3 rounds, with and without report
    uv run python benchmarks/bench_rerun.py --profile prof/  # also cProfile + -X importtime

Target (issue 12): the cached rerun in about 2 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401  (puts tests/ on sys.path)
from support import evaluate_run
from support.fake_server import spawn_server

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
COUNTRY = "United States"
BARE = """
import sqlite3, sys, valuelens
connection = sqlite3.connect(sys.argv[1])
rows = connection.execute("SELECT key, request, response FROM results WHERE ok = 1").fetchall()
print(len(rows))
"""


def write_release_via(path: Path) -> None:
    """A VIA file in the release layout: every country, topic and value, both polarities."""
    import csv

    from valuelens.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["country", "topic", "value", "polarity", "generation_prompt"])
        for country in (c.name for c in taxonomy.countries):
            for topic in (t.name for t in taxonomy.topics):
                for value in (v.name for v in taxonomy.values):
                    for polarity, verb in (("positive", "seek"), ("negative", "ignore")):
                        answer = {
                            "Human Action": f"I {verb} {value.lower()} in {topic.lower()} at home.",
                            "Feature Attributions": [verb, value.lower()],
                            "Natural Language Explanation": f"It shows how I weigh {value}.",
                        }
                        row = [country, topic, value, polarity, json.dumps(answer, indent=2)]
                        writer.writerow(row)


def evaluate_command(base_url: str, via: Path, out: Path, *, report: bool) -> list[str]:
    args = evaluate_run.evaluate_args(
        base_url, via, out, country=COUNTRY, topic="all", concurrency=64, report=report
    )
    topic_at = args.index("--topics")
    del args[topic_at : topic_at + 2]  # every topic
    return [str(VENV_BIN / "valuelens"), *args]


def run(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])}... failed ({proc.returncode}):\n{proc.stderr}")
    return wall, proc.stdout


def cached_usage(out: Path) -> tuple[int, int]:
    summary = json.loads((out / "summary.json").read_text())
    usage = summary["usage_last_invocation"]
    return usage["requests_sent"], usage["requests_cached"]


def profile(command: list[str], env: dict[str, str], folder: Path) -> None:
    """cProfile and -X importtime of one cached rerun, into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    python = str(VENV_BIN / "python")
    cli = ["-c", "import sys; from valuelens.cli import main; sys.argv[0]='valuelens'; main()"]
    profiled = [python, "-m", "cProfile", "-o", str(folder / "rerun.prof"), "-m", "valuelens"]
    run([*profiled, *command[1:]], env)
    importtime = subprocess.run(
        [python, "-X", "importtime", *cli, *command[1:]], capture_output=True, text=True, env=env
    )
    (folder / "importtime.txt").write_text(importtime.stderr)
    print(f"profile: {folder / 'rerun.prof'}, imports: {folder / 'importtime.txt'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep the VIA file and store here (reused)"
    )
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.workdir is None:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-rerun-")))
        else:
            tmp = args.workdir.resolve()
            tmp.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "VALUELENS_CACHE_DIR": str(tmp / "cache"), "OPENAI_API_KEY": "k"}
        # Bytecode cached as after a normal install, even where PYTHONDONTWRITEBYTECODE is set.
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "pyc")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        via = tmp / "via.csv"
        # The endpoint is part of every request's key: a reused store needs the same port.
        server, base_url = spawn_server("--latency=0.002", f"--port={_port(tmp)}")
        try:
            if not (tmp / "run" / "summary.json").is_file():
                write_release_via(via)
                fill, _ = run(evaluate_command(base_url, via, tmp / "run", report=False), env)
                print(f"first run (fills the store): {fill:.1f} s")
            measure(args, base_url, via, tmp, env)
        finally:
            server.terminate()
            server.wait()


def _port(folder: Path) -> int:
    """The fake server's port for this work folder (chosen once, then reused)."""
    import socket

    saved = folder / "port.txt"
    if saved.is_file():
        return int(saved.read_text())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    saved.write_text(str(port))
    return port


def measure(
    args: argparse.Namespace, base_url: str, via: Path, tmp: Path, env: dict[str, str]
) -> None:
    """Each round: the same evaluation into a new `--out` (every answer from the store, the
    results computed), then again into that `--out` (the results kept), with and without the
    report."""
    store = tmp / "cache" / "cache.sqlite"
    bare_cmd = [str(VENV_BIN / "python"), "-c", BARE, str(store)]
    rows = int(run(bare_cmd, env)[1])
    run(evaluate_command(base_url, via, tmp / "warm-up", report=True), env)  # bytecode, report
    cases = [
        (f"{where}, {name}", where == "same --out", name == "report")
        for where in ("new --out", "same --out")
        for name in ("no report", "report")
    ]
    times: dict[str, list[float]] = {"bare": [], **{label: [] for label, _, _ in cases}}
    for round_ in range(args.rounds):
        times["bare"].append(run(bare_cmd, env)[0])
        for label, again, report in cases:
            out = tmp / f"round-{round_}-{'report' if report else 'no-report'}"
            if not again:
                shutil.rmtree(out, ignore_errors=True)
            times[label].append(run(evaluate_command(base_url, via, out, report=report), env)[0])
            sent, cached = cached_usage(out)
            assert sent == 0 and cached == rows, (sent, cached, rows)
    bare = statistics.median(times["bare"])
    print(f"{rows:,} requests, all cached; median of {args.rounds} fresh processes:")
    print(f"  bare (import valuelens + read the store): {bare:5.2f} s")
    for label, again, _ in cases:
        wall = statistics.median(times[label])
        kept = "results kept" if again else "results computed"
        print(f"  cached rerun, {label:<21}: {wall:5.2f} s ({wall / bare:5.1f}x bare; {kept})")
    rerun = statistics.median(times["same --out, report"])
    fresh = statistics.median(times["new --out, report"])
    print(
        f"SUMMARY {rerun:.2f} s for a cached rerun with the report, {fresh:.2f} s into a new "
        f"--out (bare {bare:.2f} s; target about 2 s)"
    )
    if args.profile is not None:
        profile(
            evaluate_command(base_url, via, tmp / "round-0-report", report=True), env, args.profile
        )


if __name__ == "__main__":
    main()
