"""`valuelens cache info` names the VIA release and its parsed copies under VALUELENS_CACHE_DIR."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from valuelens.cli import app
from valuelens.data import load_via

RELEASE = Path("outputs/data_release/value_action_gap_full_data_generation.csv")


def _info() -> str:
    result = CliRunner().invoke(app, ["cache", "info"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_info_before_a_download(private_cache_dir: Path) -> None:
    output = _info()
    assert "VIA release: not downloaded" in output
    assert str(private_cache_dir / "via") in output
    assert "parsed VIA copies" not in output


def test_info_lists_the_release_and_its_parsed_copy(
    reference_dir: Path, private_cache_dir: Path
) -> None:
    cached = private_cache_dir / "via" / RELEASE.name
    cached.parent.mkdir(parents=True)
    shutil.copy(reference_dir / RELEASE, cached)
    load_via(cached)

    output = _info()

    size_mb = cached.stat().st_size / 1_000_000
    assert f"VIA release: {cached} ({size_mb:.1f} MB)" in output
    assert "parsed VIA copies: 1 (" in output
    assert str(private_cache_dir / "via" / "parsed") in output
