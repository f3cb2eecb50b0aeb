"""Fetch the authors' VIA release into the user cache, verified against a pinned checksum.

The data is not shipped with valuelens (the authors' repository carries no licence), so the
first run downloads it once; `--via PATH` points at a local copy instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from valuelens._errors import ValuelensError
from valuelens._paths import cache_dir

if TYPE_CHECKING:
    import httpx

VIA_URL = (
    "https://raw.githubusercontent.com/huashen218/value_action_gap/main/"
    "outputs/data_release/value_action_gap_full_data_generation.zip"
)
"""The authors' release zip (it holds one CSV)."""
VIA_URL_ENV = "VALUELENS_VIA_URL"
"""Environment variable that replaces `VIA_URL` (a mirror, or a local server in tests)."""
VIA_FILENAME = "value_action_gap_full_data_generation.csv"
VIA_SHA256 = "892e52588d9b9ffa0c3316200dec4ceec4e893793aa2a47ae6f11415e4f9209d"
"""SHA-256 of the release CSV (after extraction from the zip)."""

ProgressCallback = Callable[[int, int | None], None]
"""Called with (bytes received so far, total bytes or None) while downloading."""

_CHUNK = 1 << 16
_READ_TIMEOUT_S, _CONNECT_TIMEOUT_S = 60.0, 15.0
_OFFLINE_HINT = "download it by hand and pass --via PATH"


def via_cache_dir() -> Path:
    """The folder that holds the downloaded VIA data (it may not exist yet).

    `via/` under the cache folder: `$VALUELENS_CACHE_DIR/via` when that is set, else under the
    user cache folder, next to the shared store of answers.
    """
    return cache_dir() / "via"


def default_via_path() -> Path | None:
    """The downloaded VIA CSV, or None when it has not been downloaded."""
    path = via_cache_dir() / VIA_FILENAME
    return path if path.is_file() else None


def download_via(*, force: bool = False, progress: ProgressCallback | None = None) -> Path:
    """Download the authors' VIA release into the cache and return the CSV's path.

    The URL is `VIA_URL` unless the `VALUELENS_VIA_URL` environment variable is set. A zip is
    unpacked; the CSV must match `VIA_SHA256`. The file appears in the cache only once verified.

    Args:
        force: download again even when a copy is already cached.
        progress: optional callback for a progress display.

    Returns:
        The path of the cached CSV.

    Raises:
        ValuelensError: offline, an HTTP error, or a checksum mismatch.
    """
    target = via_cache_dir() / VIA_FILENAME
    if target.is_file() and not force:
        return target
    url = os.environ.get(VIA_URL_ENV) or VIA_URL
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with _scratch_dir(target.parent) as scratch:
            fetched = scratch / "download"
            _fetch(url, fetched, progress)
            csv_path = _extract_csv(fetched, scratch) if zipfile.is_zipfile(fetched) else fetched
            _verify(csv_path, url)
            os.replace(csv_path, target)
    except (OSError, zipfile.BadZipFile) as exc:
        raise ValuelensError(
            f"cannot store the VIA data in {target.parent}: {exc}; {_OFFLINE_HINT}"
        ) from None
    return target


def ensure_via(path: str | Path | None = None, *, progress: ProgressCallback | None = None) -> Path:
    """The VIA file to use: `path` when given, else the cached copy, else a fresh download.

    Args:
        path: a local VIA file (the `--via` option), or None.
        progress: passed to `download_via` when a download is needed.

    Raises:
        ValuelensError: `path` does not exist, or the download fails.
    """
    if path is not None:
        chosen = Path(path).expanduser()
        if not chosen.is_file():
            raise ValuelensError(f"VIA file not found: {chosen}")
        return chosen
    return default_via_path() or download_via(progress=progress)


@contextlib.contextmanager
def _scratch_dir(parent: Path) -> Iterator[Path]:
    """A temporary folder next to the target, so the final rename stays on one filesystem."""
    scratch = Path(tempfile.mkdtemp(prefix=".download-", dir=parent))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _fetch(url: str, destination: Path, progress: ProgressCallback | None) -> None:
    import httpx  # only needed for a download

    timeout = httpx.Timeout(_READ_TIMEOUT_S, connect=_CONNECT_TIMEOUT_S)
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=timeout) as response:
            if response.status_code != 200:
                raise ValuelensError(
                    f"cannot download the VIA data: {url} answered HTTP {response.status_code}; "
                    f"{_OFFLINE_HINT}"
                )
            total = _content_length(response)
            received = 0
            with destination.open("wb") as sink:
                for chunk in response.iter_bytes(_CHUNK):
                    sink.write(chunk)
                    received += len(chunk)
                    if progress is not None:
                        progress(received, total)
    except httpx.TransportError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValuelensError(
            f"cannot download the VIA data from {url} (offline? {reason}); {_OFFLINE_HINT}"
        ) from None


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


def _extract_csv(archive_path: Path, scratch: Path) -> Path:
    with zipfile.ZipFile(archive_path) as archive:
        members = [
            m
            for m in archive.namelist()
            if m.lower().endswith(".csv") and not m.startswith("__MACOSX/")
        ]
        if not members:
            raise ValuelensError("the downloaded VIA zip holds no CSV file")
        member = next((m for m in members if Path(m).name == VIA_FILENAME), members[0])
        extracted = scratch / "extracted.csv"
        with archive.open(member) as source, extracted.open("wb") as sink:
            shutil.copyfileobj(source, sink, _CHUNK)
    return extracted


def _verify(path: Path, url: str) -> None:
    digest = _sha256(path)
    if digest != VIA_SHA256:
        raise ValuelensError(
            f"checksum mismatch for the VIA data from {url} (expected {VIA_SHA256[:12]}..., "
            f"got {digest[:12]}...); the release may have changed; {_OFFLINE_HINT}"
        )


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(_CHUNK), b""):
            hasher.update(block)
    return hasher.hexdigest()
