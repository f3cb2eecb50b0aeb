"""The one cache folder: `VALUELENS_CACHE_DIR`, else the platform's user cache folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from valuelens._paths import cache_dir
from valuelens.data import via_cache_dir
from valuelens.data._via_cache import parsed_dir


def test_the_variable_moves_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALUELENS_CACHE_DIR", f" {tmp_path / 'moved'} ")  # spaces trimmed
    assert cache_dir() == tmp_path / "moved"
    assert via_cache_dir() == tmp_path / "moved" / "via"
    assert parsed_dir() == tmp_path / "moved" / "via" / "parsed"


def test_a_home_relative_folder_is_expanded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("VALUELENS_CACHE_DIR", "~/vl-cache")
    assert cache_dir() == tmp_path / "vl-cache"


@pytest.mark.skipif(sys.platform != "linux", reason="XDG_CACHE_HOME is the Linux convention")
@pytest.mark.parametrize("value", [None, "", "   "])
def test_unset_or_blank_means_the_user_cache_folder(
    value: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if value is None:
        monkeypatch.delenv("VALUELENS_CACHE_DIR", raising=False)
    else:
        monkeypatch.setenv("VALUELENS_CACHE_DIR", value)
    assert cache_dir() == tmp_path / "xdg" / "valuelens"
    assert via_cache_dir() == tmp_path / "xdg" / "valuelens" / "via"
