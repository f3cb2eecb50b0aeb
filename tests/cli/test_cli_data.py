"""`valuelens data ...` through the real entry point, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from valuelens.cli import main

RELEASE = Path("outputs/data_release/value_action_gap_full_data_generation.csv")
CACHED = Path("valuelens/via/value_action_gap_full_data_generation.csv")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache dir and no download URL override."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("VALUELENS_CACHE_DIR", raising=False)  # the download goes under XDG
    monkeypatch.delenv("VALUELENS_VIA_URL", raising=False)
    return tmp_path / "cache"


@dataclass
class Outcome:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(
    cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Outcome]:
    """Run `valuelens data ARGS` in-process through the real entry point."""

    def run(*args: str) -> Outcome:
        monkeypatch.setattr(sys, "argv", ["valuelens", "data", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served_release(reference_dir: Path) -> Iterator[str]:
    """The reference release folder over HTTP on 127.0.0.1."""
    handler = partial(_QuietHandler, directory=str(reference_dir / RELEASE.parent))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/{RELEASE.name}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.slow
def test_validate_json_on_the_release_end_to_end(reference_dir: Path) -> None:
    """The one real subprocess: the installed entry point, as the README runs it."""
    proc = subprocess.run(
        [sys.executable, "-m", "valuelens", "data", "validate", str(reference_dir / RELEASE),
         "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["n_actions"] == 14_784
    assert report["n_pairs"] == 7_392
    assert report["n_complete_pairs"] == 7_330
    assert report["n_refusals"] == 61
    assert report["n_parse_failures"] == 1


def test_validate_table_on_a_small_file(cli: Callable[..., Outcome], tmp_path: Path) -> None:
    path = tmp_path / "via.csv"
    path.write_text(
        "country,topic,value,polarity,generation_prompt\n"
        'France,Politics,Wealth,positive,"{""Human Action"": ""I save."", ""Explanation"": ""x""}"\n'
        "France,Politics,Wealth,negative,\"I'm sorry, but I can't assist with that.\"\n",
        encoding="utf-8",
    )
    result = cli("validate", str(path))
    assert result.code == 0, result.err
    assert "refusals" in result.out
    assert "pairs with a refusal on at least one side: 1" in result.out
    as_json = cli("validate", str(path), "--json")
    report = json.loads(as_json.out)
    assert (report["n_actions"], report["n_refusals"], report["n_complete_pairs"]) == (2, 1, 0)


def test_validate_accepts_an_extended_taxonomy(cli: Callable[..., Outcome], tmp_path: Path) -> None:
    path = tmp_path / "via.csv"
    path.write_text(
        'country,topic,value,polarity,action\nKenya,Politics,Wealth,positive,"I save."\n',
        encoding="utf-8",
    )
    assert cli("validate", str(path)).code == 2
    extra = tmp_path / "extra.yaml"
    extra.write_text("countries: [Kenya]\n", encoding="utf-8")
    result = cli("validate", str(path), "--json", "--taxonomy", str(extra))
    assert result.code == 0, result.err
    assert json.loads(result.out)["by_country"] == {
        "Kenya": {"n_actions": 1, "n_refusals": 0, "n_complete_pairs": 0}
    }


def test_validate_bad_file_is_one_red_line(cli: Callable[..., Outcome], tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"country,topic\n\xff\xfe,x\n")
    result = cli("validate", str(path), "--json")
    assert result.code == 2
    assert result.out == ""
    assert result.err.strip().startswith("error:")
    assert "not UTF-8" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_path_download_then_path(
    cli: Callable[..., Outcome],
    cache: Path,
    served_release: str,
    reference_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = cache / CACHED
    result = cli("path")
    assert result.code == 0
    assert result.out.strip() == str(expected)
    assert "not downloaded" in result.err

    monkeypatch.setenv("VALUELENS_VIA_URL", served_release)
    result = cli("download")
    assert result.code == 0, result.err
    assert result.out.strip() == str(expected)
    assert expected.read_bytes() == (reference_dir / RELEASE).read_bytes()

    assert "already downloaded" in cli("download").err
    assert "not downloaded" not in cli("path").err


def test_download_offline_is_one_red_line(
    cli: Callable[..., Outcome], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VALUELENS_VIA_URL", "http://127.0.0.1:9/release.zip")  # nothing listens
    result = cli("download", "--force")
    assert result.code == 2
    assert "--via PATH" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_validate_exits_2_when_nothing_in_the_file_is_usable(
    cli: Callable[..., Outcome], tmp_path: Path
) -> None:
    path = tmp_path / "via.csv"
    path.write_text(
        "country,topic,value,polarity,action\n"
        "France,Politics,Wealth,sideways,I save.\n"
        "France,Politics,Wealth,,I spend.\n",
        encoding="utf-8",
    )
    result = cli("validate", str(path))
    assert result.code == 2, result.out
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(path) in errors[0] and "no usable action" in errors[0]
    as_json = cli("validate", str(path), "--json")
    assert as_json.code == 2
    assert json.loads(as_json.out)["n_usable_actions"] == 0
