"""The parsed copy of a large VIA file: read back exactly, used, and never stale."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from valuelens._errors import ValuelensError
from valuelens.data import load_via, validate_via
from valuelens.data._via_cache import MIN_BYTES, copy_path, parsed_dir, read_copy, write_copy
from valuelens.taxonomy import load_taxonomy

RELEASE = Path("outputs/data_release/value_action_gap_full_data_generation.csv")


@pytest.fixture
def release(reference_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the authors' release (tests may change it)."""
    return Path(shutil.copy(reference_dir / RELEASE, tmp_path / "via.csv"))


def _copies() -> list[Path]:
    return sorted(parsed_dir().glob("*.parquet")) if parsed_dir().is_dir() else []


def test_a_reread_comes_back_exactly(release: Path, private_cache_dir: Path) -> None:
    first = load_via(release)
    assert [p.parent for p in _copies()] == [private_cache_dir / "via" / "parsed"]

    again = load_via(release)

    pd.testing.assert_frame_equal(again, first)
    assert list(again.dtypes) == list(first.dtypes)
    assert all(isinstance(spans, list) for spans in again["attributions"])
    # 61 refusals and 1 unreadable answer have no action (README, "VIA refusals").
    assert again["action"].isna().sum() == 62
    assert again["action"].map(type).isin([str, type(None)]).all()


def test_the_copy_is_what_a_reread_returns(release: Path) -> None:
    load_via(release)
    (copy,) = _copies()
    stored = read_copy(copy)
    assert stored is not None
    table, layout, issues, n_bad = stored
    table.loc[0, "action"] = "marked by the test"
    write_copy(copy, (table, layout, issues, n_bad))

    assert load_via(release).loc[0, "action"] == "marked by the test"


def test_a_changed_file_is_parsed_again(release: Path) -> None:
    before = load_via(release)
    text = release.read_text(encoding="utf-8")
    first_action = before.loc[0, "action"]
    release.write_text(text.replace(first_action, "I hand out flyers.", 1), encoding="utf-8")

    after = load_via(release)

    assert after.loc[0, "action"] == "I hand out flyers."
    assert len(_copies()) == 2


def test_another_taxonomy_gets_its_own_copy(release: Path) -> None:
    builtin = load_taxonomy()
    extended = builtin.extended({"countries": ["Atlantis"]})
    assert copy_path(release, builtin) != copy_path(release, extended)


def test_a_damaged_copy_is_replaced(release: Path) -> None:
    expected = load_via(release)
    (copy,) = _copies()
    copy.write_bytes(b"not parquet at all")

    pd.testing.assert_frame_equal(load_via(release), expected)
    assert read_copy(copy) is not None  # rewritten


def test_a_bad_polarity_still_fails_from_the_copy(release: Path) -> None:
    frame = pd.read_csv(release)
    frame.loc[3, "polarity"] = "maybe"
    frame.to_csv(release, index=False)
    message = r"via\.csv: 1 rows have a missing or unknown polarity \(first: data row 4, 'maybe'\)"

    for _ in range(2):  # the first read parses the file, the second reads its copy
        with pytest.raises(ValuelensError, match=message):
            load_via(release)
        assert validate_via(release)["n_missing_polarity"] == 1
    assert len(_copies()) == 1


def test_small_files_are_not_copied(tmp_path: Path) -> None:
    via = tmp_path / "small.csv"
    via.write_text(
        "country,topic,value,polarity,action\n"
        "Canada,Work Orientation,Honest,positive,I tell my doctor the truth.\n"
        "Canada,Work Orientation,Honest,negative,I lie to my doctor.\n",
        encoding="utf-8",
    )
    assert via.stat().st_size < MIN_BYTES
    assert len(load_via(via)) == 2
    assert _copies() == []
