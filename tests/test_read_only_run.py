"""A finished run in a read-only folder: readable, scorable, reportable; writing it is one line.

The folder is made read-only for real: as root (where chmod does not stop writes) by a
read-only bind mount in a private mount namespace (`unshare -m`), otherwise with chmod 0o555.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.report_runfactory import grid, synthetic_pairs, write_value_action_run
from valuelens.models import Response
from valuelens.runner import Store
from valuelens.runner._store import Row, response_to_json

# Runs inside the read-only folder's view; prints "ok" after every check.
CHECKS = r"""
import subprocess, sys
from pathlib import Path
from valuelens import ValuelensError
from valuelens.report import render_report, write_run
from valuelens.runner import Store

ro, elsewhere, refusal = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]

def fails(call, *texts):
    try:
        call()
    except ValuelensError as error:
        message = str(error)
        assert "\n" not in message, message
        for text in texts:
            assert text in message, (text, message)
        return
    raise AssertionError(f"no error from {call}")

for name in ("clean", "killed"):  # merged into the main file / still in the WAL
    with Store(ro / name / "cache.sqlite") as store:
        assert store.read_only, name
        assert store.get("a").text == "kept", name
        fails(lambda: store.write_rows([]), "is read-only here")

fails(lambda: Store(ro / "clean" / "new.sqlite"), "cannot create or write the store", refusal)
fails(lambda: Store(ro / "clean" / "cache.sqlite", read_only=False), refusal)
fails(lambda: write_run(ro / "run", {"kind": "x"}, {}), f"cannot write to {ro / 'run'}", refusal)
fails(lambda: write_run(ro / "new-run", {"kind": "x"}, {}), "cannot create output directory")

render_report([ro / "run"], elsewhere / "report.html")
assert "</html>" in (elsewhere / "report.html").read_text()
cli = subprocess.run(
    [sys.executable, "-m", "valuelens", "report", str(ro / "run"), "--out",
     str(elsewhere / "cli.html")], capture_output=True, text=True,
)
assert cli.returncode == 0, cli.stderr
cli = subprocess.run(
    [sys.executable, "-m", "valuelens", "compare", str(ro / "run"), "--out", str(ro / "cmp")],
    capture_output=True, text=True,
)
assert cli.returncode == 2 and cli.stderr.strip().count("\n") == 0, cli.stderr
assert "Traceback" not in cli.stderr, cli.stderr
print("ok")
"""

# Leaves a store whose rows are only in its write-ahead log, as a SIGKILL would.
KILLED_WRITER = """
import os, sys
from valuelens.runner import Store
store = Store(sys.argv[1])
store.write_rows([tuple(eval(sys.argv[2]))])
os._exit(0)
"""


def stored_row(key: str) -> Row:
    response = response_to_json(Response(text="kept", finish_reason="stop"))
    return (key, 1, "openai:m", "{}", None, response, None, 1, 3, 4, 0.1, 1.0, 2.0)


def build_finished_runs(ro: Path) -> None:
    with Store(ro / "clean" / "cache.sqlite") as store:
        store.write_rows([stored_row("a")])
    killed = ro / "killed" / "cache.sqlite"
    killed.parent.mkdir(parents=True)
    subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(killed), repr(stored_row("a"))], check=True
    )
    assert killed.with_name("cache.sqlite-wal").stat().st_size > 0
    write_value_action_run(ro / "run", synthetic_pairs(grid(2, 1)), label="m")


def run_read_only(ro: Path, elsewhere: Path) -> subprocess.CompletedProcess[str]:
    checks = [sys.executable, "-c", CHECKS, str(ro), str(elsewhere)]
    if os.geteuid() != 0:
        for folder in [ro, *(p for p in ro.rglob("*") if p.is_dir())]:
            folder.chmod(0o555)
        try:
            return subprocess.run([*checks, "permission denied"], capture_output=True, text=True)
        finally:
            for folder in [ro, *(p for p in ro.rglob("*") if p.is_dir())]:
                folder.chmod(0o755)
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("running as root, where chmod does not stop writes, and no `unshare`")
    mount = f'mount --bind "{ro}" "{ro}" && mount -o remount,ro,bind "{ro}" && exec "$@"'
    in_read_only_view = [unshare, "-m", "--propagation", "private", "sh", "-c", mount, "sh"]
    probe = subprocess.run([*in_read_only_view, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"running as root, and a read-only bind mount failed: {probe.stderr}")
    return subprocess.run(
        [*in_read_only_view, *checks, "read-only file system"], capture_output=True, text=True
    )


def test_a_finished_run_in_a_read_only_folder(tmp_path: Path) -> None:
    ro, elsewhere = tmp_path / "finished", tmp_path / "elsewhere"
    build_finished_runs(ro)
    elsewhere.mkdir()
    proc = run_read_only(ro, elsewhere)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith("ok")
