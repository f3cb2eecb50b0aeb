"""Every CLI message shows outside text as written: rich markup in it is never interpreted.

Server messages, paths and names may hold `[red]`, `[/v1/projects/p-1]` (a closing tag that
made rich raise MarkupError) or the `[redacted]` marker of a removed key (which rich swallowed as
an unknown tag). Lines are not wrapped when the output is not a terminal.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from valuelens.cli import main
from valuelens.cli._console import print_error, print_info, print_note, print_warning

MARKUP = "[red]x[/] [/v1/projects/p-1] [bold]"
SERVER_MESSAGE = "Project [/v1/projects/p-1] rejected key {key} [red]x[/]"


def run_main(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    """Run the console entry point in-process; returns (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["valuelens", *args])
    with pytest.raises(SystemExit) as stopped:
        main()
    captured = capsys.readouterr()
    code = stopped.value.code
    return code if isinstance(code, int) else 1, captured.out, captured.err


def test_helpers_print_markup_verbatim(capsys: pytest.CaptureFixture[str]) -> None:
    print_error(MARKUP)
    print_warning(MARKUP)
    print_note(MARKUP)
    print_info(MARKUP)
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [f"error: {MARKUP}", f"warning: {MARKUP}", MARKUP]
    assert captured.out.splitlines() == [MARKUP]


def test_long_lines_are_not_wrapped_without_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    path = "/runs/" + "a-very-long-directory-name/" * 8 + "summary.json"
    print_error(f"cannot read {path}")
    print_info(f"wrote {path}")
    captured = capsys.readouterr()
    assert captured.err == f"error: cannot read {path}\n"
    assert captured.out == f"wrote {path}\n"


def test_unknown_name_with_markup_is_one_error_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code, _, err = run_main(
        ["evaluate", "--out", str(tmp_path / "run"), "--countries", MARKUP, "--dry-run"],
        capsys,
        monkeypatch,
    )
    assert code == 2
    assert err.startswith("error: ") and len(err.splitlines()) == 1
    assert MARKUP in err


def test_paths_with_markup_in_errors(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "[red]runs"
    folder.mkdir()
    missing = folder / "t1.csv"
    code, _, err = run_main(
        ["score", "--stated", str(missing), "--actions", str(missing), "--out", str(folder)],
        capsys,
        monkeypatch,
    )
    assert code == 2 and err.startswith("error: ") and str(missing) in err

    args = ["report", str(folder), "--out", str(folder / "r.html")]
    code, _, err = run_main(args, capsys, monkeypatch)
    assert code == 2 and err.startswith("error: ") and str(folder) in err


def test_a_path_with_markup_in_results(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    via = tmp_path / "[bold]via" / "[redacted].csv"
    via.parent.mkdir()
    with via.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["country", "topic", "value", "polarity", "action"])
        writer.writerow(["Canada", "Environment", "Wealth", "positive", "I save money."])
        writer.writerow(["Canada", "Environment", "Wealth", "negative", "I give it away."])
    code, out, err = run_main(["data", "validate", str(via)], capsys, monkeypatch)
    assert code == 0, err
    assert out.splitlines()[0].startswith(str(via))


class _Rejects(BaseHTTPRequestHandler):
    """Answers every request with a 401 whose message quotes the key and holds markup."""

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        key = (self.headers.get("authorization") or "").removeprefix("Bearer ")
        body = json.dumps({"error": {"message": SERVER_MESSAGE.format(key=key)}}).encode()
        self.send_response(401)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def rejecting_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Rejects)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_a_401_with_markup_reaches_the_user_verbatim_and_redacted(
    rejecting_server: str, tmp_path: Path, dummy_openai_key: str
) -> None:
    """Through a real process with redirected output: one line, the server's text, no key."""
    out = tmp_path / ("x" * 90) / "[red]run"
    command = [
        sys.executable,
        "-m",
        "valuelens",
        "evaluate",
        "--model",
        "openai:fake",
        "--base-url",
        rejecting_server,
        "--tasks",
        "stated",
        "--countries",
        "Canada",
        "--topics",
        "Environment",
        "--values",
        "Wealth",
        "--stated-variants",
        "0",
        "--out",
        str(out),
    ]
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "MarkupError" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr
    assert "Project [/v1/projects/p-1] rejected key [redacted] [red]x[/]" in errors[0]
    assert dummy_openai_key not in done.stderr + done.stdout


def test_tables_are_not_wrapped_when_stdout_is_a_file(tmp_path: Path) -> None:
    """A long path in a results table stays on one line when the output goes to a file."""
    long_path = "/runs/" + "a-very-long-directory-name/" * 8 + "report.html"
    script = (
        "from rich.table import Table\n"
        "from valuelens.cli._console import console\n"
        "table = Table()\n"
        "table.add_column('file')\n"
        "table.add_column('n', justify='right')\n"
        f"table.add_row({long_path!r}, '12')\n"
        "console.print(table)\n"
    )
    target = tmp_path / "out.txt"
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR")}
    with target.open("w", encoding="utf-8") as out:
        subprocess.run([sys.executable, "-c", script], stdout=out, env=env, check=True, timeout=60)
    lines = target.read_text(encoding="utf-8").splitlines()
    row = next(line for line in lines if "report.html" in line)
    assert long_path in row and "12" in row
