"""Downloading the VIA release, against a real HTTP server on 127.0.0.1 (no internet)."""

from __future__ import annotations

import hashlib
import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from valuelens._errors import ValuelensError
from valuelens.data._download import (
    VIA_FILENAME,
    VIA_SHA256,
    VIA_URL_ENV,
    default_via_path,
    download_via,
    ensure_via,
    via_cache_dir,
)

RELEASE = Path("outputs/data_release/value_action_gap_full_data_generation.csv")


class _Files:
    """What the local server serves, and which paths it was asked for."""

    def __init__(self) -> None:
        self.content: dict[str, bytes] = {}
        self.requests: list[str] = []


def _handler(files: _Files) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            files.requests.append(self.path)
            body = files.content.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[str, _Files]]:
    files = _Files()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(files))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", files
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("VALUELENS_CACHE_DIR", raising=False)  # the tests' default: see below
    monkeypatch.delenv(VIA_URL_ENV, raising=False)
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def release_bytes(reference_dir: Path) -> bytes:
    return (reference_dir / RELEASE).read_bytes()


def _zipped(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/release.zip"


def test_the_pinned_hash_is_the_reference_files(release_bytes: bytes) -> None:
    assert hashlib.sha256(release_bytes).hexdigest() == VIA_SHA256


def test_cache_lives_under_the_user_cache_dir(cache: Path) -> None:
    assert via_cache_dir() == cache / "valuelens" / "via"
    assert default_via_path() is None


def test_cache_follows_valuelens_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: Path
) -> None:
    moved = tmp_path / "moved"
    monkeypatch.setenv("VALUELENS_CACHE_DIR", str(moved))
    assert via_cache_dir() == moved / "via"
    monkeypatch.setenv("VALUELENS_CACHE_DIR", "  ")  # blank counts as unset
    assert via_cache_dir() == cache / "valuelens" / "via"


def test_download_lands_in_valuelens_cache_dir(
    server: tuple[str, _Files],
    release_bytes: bytes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cache: Path,
) -> None:
    base, files = server
    files.content["/data.csv"] = release_bytes
    monkeypatch.setenv(VIA_URL_ENV, f"{base}/data.csv")
    moved = tmp_path / "moved"
    monkeypatch.setenv("VALUELENS_CACHE_DIR", str(moved))

    path = download_via()

    assert path == moved / "via" / VIA_FILENAME
    assert path.read_bytes() == release_bytes
    assert not (cache / "valuelens").exists()  # nothing under the user cache folder
    assert ensure_via() == path


def test_download_unpacks_verifies_and_caches_the_zip(
    server: tuple[str, _Files], release_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, files = server
    files.content["/release.zip"] = _zipped(f"data_release/{VIA_FILENAME}", release_bytes)
    monkeypatch.setenv(VIA_URL_ENV, f"{base}/release.zip")
    seen: list[tuple[int, int | None]] = []

    path = download_via(progress=lambda got, total: seen.append((got, total)))

    assert path == via_cache_dir() / VIA_FILENAME
    assert path.read_bytes() == release_bytes
    assert default_via_path() == path
    assert seen[-1] == (len(files.content["/release.zip"]),) * 2
    assert sorted(p.name for p in path.parent.iterdir()) == [VIA_FILENAME]  # no leftovers

    assert download_via() == path  # cached: no second request
    assert ensure_via() == path
    assert files.requests == ["/release.zip"]
    download_via(force=True)
    assert files.requests == ["/release.zip"] * 2


def test_a_plain_csv_download_works_too(
    server: tuple[str, _Files], release_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, files = server
    files.content["/data.csv"] = release_bytes
    monkeypatch.setenv(VIA_URL_ENV, f"{base}/data.csv")
    assert download_via().read_bytes() == release_bytes


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "csv"])
def test_checksum_mismatch_leaves_nothing_behind(
    server: tuple[str, _Files], monkeypatch: pytest.MonkeyPatch, zipped: bool
) -> None:
    base, files = server
    fake = b"country,topic,value,polarity,generation_prompt\n"
    files.content["/release"] = _zipped(VIA_FILENAME, fake) if zipped else fake
    monkeypatch.setenv(VIA_URL_ENV, f"{base}/release")
    with pytest.raises(ValuelensError, match="checksum mismatch") as caught:
        download_via()
    assert "\n" not in str(caught.value)
    assert default_via_path() is None
    assert list(via_cache_dir().iterdir()) == []


def test_http_errors_are_one_line(
    server: tuple[str, _Files], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, _ = server
    monkeypatch.setenv(VIA_URL_ENV, f"{base}/missing.zip")
    with pytest.raises(ValuelensError, match=r"HTTP 404.*--via PATH") as caught:
        download_via()
    assert "\n" not in str(caught.value)


def test_offline_says_to_use_via_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VIA_URL_ENV, _closed_port_url())
    with pytest.raises(ValuelensError, match=r"offline\?.*--via PATH") as caught:
        ensure_via()
    assert "\n" not in str(caught.value)


def test_a_failed_forced_download_keeps_the_cached_copy(
    server: tuple[str, _Files], release_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, files = server
    files.content["/release.zip"] = _zipped(VIA_FILENAME, release_bytes)
    monkeypatch.setenv(VIA_URL_ENV, f"{base}/release.zip")
    path = download_via()
    monkeypatch.setenv(VIA_URL_ENV, _closed_port_url())
    with pytest.raises(ValuelensError):
        download_via(force=True)
    assert path.read_bytes() == release_bytes


def test_ensure_via_prefers_the_given_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VIA_URL_ENV, _closed_port_url())  # any download attempt would fail
    local = tmp_path / "mine.csv"
    local.write_text("x\n")
    assert ensure_via(local) == local
    assert ensure_via(str(local)) == local
    with pytest.raises(ValuelensError, match="not found"):
        ensure_via(tmp_path / "nope.csv")
