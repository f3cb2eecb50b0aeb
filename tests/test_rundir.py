"""One writer per run directory; atomic files; full disks; Ctrl-C while writing."""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from valuelens import ValuelensError
from valuelens._rundir import (
    LOCK_NAME,
    holds_run_dir,
    read_lock_holder,
    run_dir_lock,
    staged_writes,
    temp_path,
    write_text_atomic,
)
from valuelens.report import write_run

# Holds the lock on argv[1] for argv[2] seconds; leaves a half-written temp file behind it.
HOLDER = """
import sys, time
from pathlib import Path
from valuelens._rundir import run_dir_lock, temp_path
with run_dir_lock(sys.argv[1]):
    temp_path(Path(sys.argv[1]) / "pairs.csv").write_text("half a ta")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    (Path(sys.argv[1]) / "holder-finished").touch()
"""


def start_holder(directory: Path, seconds: float = 60.0) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(directory), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    return holder


def stop(holder: subprocess.Popen[str]) -> None:
    holder.kill()
    holder.wait(timeout=30)


def temp_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".tmp-"))


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def test_a_second_process_gets_one_line_naming_the_holder(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "x"
    holder = start_holder(run)
    try:
        with pytest.raises(ValuelensError) as caught, run_dir_lock(run):
            pytest.fail("took a lock that another process holds")
        expected = (
            rf"{re.escape(str(run))} is in use by process {holder.pid} "
            r"\(started \d\d:\d\d\); wait for it or pass --wait"
        )
        assert re.fullmatch(expected, str(caught.value)), str(caught.value)
        # every writer goes through the lock, `write_run` too
        with pytest.raises(ValuelensError, match=f"in use by process {holder.pid}"):
            write_run(run, {"kind": "x"}, {})
        assert not (run / "summary.json").exists()
    finally:
        stop(holder)


def test_the_cli_refuses_a_directory_in_use(tmp_path: Path, reference_dir: Path) -> None:
    run = tmp_path / "run"
    holder = start_holder(run)
    try:
        predictions = reference_dir / "outputs/evaluation/explanation_outputs_default.csv"
        command = ["predict", "score", str(predictions), "--out", str(run)]
        proc = subprocess.run(
            [sys.executable, "-m", "valuelens", *command],
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        stop(holder)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert f"is in use by process {holder.pid}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (run / "summary.json").exists()


def test_evaluate_takes_the_lock_before_anything_is_sent(tmp_path: Path) -> None:
    from valuelens.pipeline import EvaluateConfig, evaluate

    run = tmp_path / "run"
    holder = start_holder(run)
    try:
        config = EvaluateConfig(
            out=run,
            model="openai:gpt-4o-mini",
            base_urls=("http://127.0.0.1:9/v1",),
            countries="Canada",
            topics="Politics",
            values="Wealth",
            progress=False,
        )
        with pytest.raises(ValuelensError, match=f"in use by process {holder.pid}"):
            evaluate(config)
        assert not (run / "cache.sqlite").exists()
    finally:
        stop(holder)


def test_compass_and_predict_runs_take_the_lock(tmp_path: Path) -> None:
    from valuelens.pipeline import collect_compass_answers, run_predictions

    run = tmp_path / "run"
    holder = start_holder(run)
    try:
        with pytest.raises(ValuelensError, match="in use by process"):
            collect_compass_answers("openai:gpt-4o-mini", run, base_urls=["http://127.0.0.1:9"])
        with pytest.raises(ValuelensError, match="in use by process"):
            run_predictions(tmp_path / "missing", "openai:gpt-4o-mini", run)

        @holds_run_dir("out")
        def writer(out: Path, *, dry_run: bool = False, wait: bool = False) -> str:
            return "ran"

        assert writer(run, dry_run=True) == "ran"  # a dry run writes nothing: no lock
        with pytest.raises(ValuelensError, match="in use by process"):
            writer(out=run)
    finally:
        stop(holder)


def test_wait_blocks_until_the_holder_is_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    holder = start_holder(run, seconds=1.5)
    started = time.monotonic()
    with run_dir_lock(run, wait=True):
        waited = time.monotonic() - started
        assert (run / "holder-finished").exists(), "took the lock while the holder held it"
        assert read_lock_holder(run) is not None
        assert read_lock_holder(run).pid == os.getpid()  # type: ignore[union-attr]
    holder.wait(timeout=30)
    assert waited > 0.5
    assert f"in use by process {holder.pid}" in capsys.readouterr().err
    assert not (run / LOCK_NAME).exists()


def test_a_killed_holders_lock_and_temp_files_are_taken_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    holder = start_holder(run)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert read_lock_holder(run) is not None  # it could not clean up
    assert len(temp_files(run)) == 1

    with run_dir_lock(run):
        assert temp_files(run) == []
        recorded = read_lock_holder(run)
        assert recorded is not None and recorded.pid == os.getpid()
        assert recorded.host == socket.gethostname()
    err = capsys.readouterr().err
    assert f"process {holder.pid} (started " in err
    assert "did not finish cleanly; taking over its lock" in err
    assert not (run / LOCK_NAME).exists()


def test_without_flock_a_live_pid_holds_and_a_dead_one_is_taken_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import fcntl

    def no_flock(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    run = tmp_path / "run"
    run.mkdir()
    record = {"pid": sleeper.pid, "host": socket.gethostname(), "started": time.time()}
    (run / LOCK_NAME).write_text(json.dumps(record))
    try:
        with pytest.raises(ValuelensError, match=f"in use by process {sleeper.pid}"):
            run_dir_lock(run).__enter__()
    finally:
        sleeper.kill()
        sleeper.wait(timeout=30)
    with run_dir_lock(run):
        pass
    assert "taking over its lock" in capsys.readouterr().err


def test_the_lock_is_reentrant_within_one_process(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with run_dir_lock(run):
        write_run(run, {"kind": "x"}, {"t": pd.DataFrame({"a": [1]})})  # takes it again
        assert (run / LOCK_NAME).exists()
    assert not (run / LOCK_NAME).exists()
    assert json.loads((run / "summary.json").read_text()) == {"kind": "x"}


def test_temp_names_are_unique_and_keep_the_suffix(tmp_path: Path) -> None:
    target = tmp_path / "actions.csv.gz"
    names = {temp_path(target).name for _ in range(50)}
    assert len(names) == 50
    assert all(
        n.startswith(f".tmp-{os.getpid()}-") and n.endswith(".actions.csv.gz") for n in names
    )


def _first_run(run: Path) -> dict[str, bytes]:
    tables = {
        "pairs": pd.DataFrame({"value": ["Wealth", "Honest"], "chosen": [1, 0]}),
        "scenarios": pd.DataFrame({"country": ["Canada"], "f1": [0.5]}),
    }
    write_run(run, {"kind": "value-action", "alignment_rate": 0.5}, tables)
    return snapshot(run)


def _second_tables() -> dict[str, pd.DataFrame]:
    return {
        "pairs": pd.DataFrame({"value": ["Wealth"], "chosen": [0]}),
        "scenarios": pd.DataFrame({"country": ["India"], "f1": [0.9]}),
    }


def test_disk_full_on_a_table_leaves_the_previous_run_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "runs" / "x"
    before = _first_run(run)
    real_to_csv = pd.DataFrame.to_csv

    def full_disk(self: pd.DataFrame, path: Path, **kwargs: object) -> None:
        if "India" in self.to_string():  # the second table of the new run
            Path(path).write_text("country,f1\nIn")  # part of it reached the disk
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_to_csv(self, path, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(pd.DataFrame, "to_csv", full_disk)
    with pytest.raises(ValuelensError) as caught:
        write_run(run, {"kind": "value-action", "alignment_rate": 0.9}, _second_tables())

    assert str(caught.value) == (
        f"cannot write {run}/scenarios.csv: no space left on device; nothing was changed"
    )
    assert snapshot(run) == before  # pairs.* were written in full but not moved into place
    assert temp_files(run) == []
    assert not (run / LOCK_NAME).exists()


def test_disk_full_in_pyarrow_is_read_from_its_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    before = _first_run(run)

    def full_disk(self: pd.DataFrame, path: Path, **kwargs: object) -> None:
        Path(path).write_bytes(b"PAR1")
        raise OSError("Error writing bytes to file. Detail: [errno 28] No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full_disk)
    with pytest.raises(ValuelensError, match=r"pairs.parquet: no space left on device; nothing"):
        write_run(run, {"kind": "value-action"}, _second_tables())
    assert snapshot(run) == before
    assert temp_files(run) == []


def test_disk_full_while_syncing_the_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    before = _first_run(run)
    real_fsync = os.fsync
    calls = []

    def failing_fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 5:  # pairs x2, scenarios x2, then summary.json
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(ValuelensError, match=r"summary.json: no space left on device"):
        write_run(run, {"kind": "value-action", "alignment_rate": 0.9}, _second_tables())
    assert snapshot(run) == before
    assert temp_files(run) == []


def test_ctrl_c_while_writing_removes_the_temp_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    before = _first_run(run)

    def interrupted(self: pd.DataFrame, path: Path, **kwargs: object) -> None:
        Path(path).write_text("val")
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_run(run, {"kind": "value-action"}, _second_tables())
    assert snapshot(run) == before
    assert temp_files(run) == []
    assert not (run / LOCK_NAME).exists()


def test_a_read_only_directory_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel's answer in a read-only folder, simulated (tests may run as root).
    real_open = os.open

    def read_only_open(path: str | os.PathLike[str], flags: int, *args: int) -> int:
        if flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args)

    run = tmp_path / "run"
    before = _first_run(run)
    monkeypatch.setattr(os, "open", read_only_open)
    with pytest.raises(ValuelensError) as caught:
        write_run(run, {"kind": "value-action"}, _second_tables())
    assert str(caught.value) == f"cannot write to {run}: read-only file system"
    assert snapshot(run) == before


def test_staged_files_replace_in_order_with_the_summary_last(tmp_path: Path) -> None:
    seen: list[list[str]] = []
    real_replace = os.replace

    def recording_replace(source: Path, target: Path) -> None:
        real_replace(source, target)
        seen.append(sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "replace", recording_replace)
        with staged_writes() as stage:
            stage.add_text(tmp_path / "a.csv", "a")
            stage.add_text(tmp_path / "summary.json", "{}")
            assert list(tmp_path.iterdir()) != []  # staged under temporary names
            assert not (tmp_path / "a.csv").exists()
    assert seen == [["a.csv"], ["a.csv", "summary.json"]]


def test_report_html_is_replaced_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.report_runfactory import grid, synthetic_pairs, write_value_action_run
    from valuelens.report import render_report

    run = write_value_action_run(tmp_path / "run", synthetic_pairs(grid(2, 1)), label="m")
    out = tmp_path / "site" / "report.html"
    render_report([run], out)
    old = out.read_bytes()
    assert old.rstrip().endswith(b"</html>")

    real_write_text = Path.write_text

    def dies_halfway(self: Path, text: str, *args: object, **kwargs: object) -> int:
        real_write_text(self, text[: len(text) // 2], *args, **kwargs)  # type: ignore[arg-type]
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_text", dies_halfway)
    with pytest.raises(ValuelensError, match=r"report\.html: no space left on device"):
        render_report([run], out, title="a new title")
    monkeypatch.undo()
    assert out.read_bytes() == old
    assert temp_files(out.parent) == []

    fresh = tmp_path / "fresh" / "report.html"
    monkeypatch.setattr(Path, "write_text", dies_halfway)
    with pytest.raises(ValuelensError):
        render_report([run], fresh)
    monkeypatch.undo()
    assert list(fresh.parent.iterdir()) == []  # none, never a truncated one


def test_write_text_atomic_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    write_text_atomic(target, "one")
    write_text_atomic(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]
