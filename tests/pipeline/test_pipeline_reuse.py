"""A rerun that would compute the same results keeps the run directory's (`pipeline._reuse`).

The evaluations run against the local fake server (answers picked by a hash of the prompt) and
a real SQLite store; the checks compare the kept results with the ones first computed, and
show that each kind of change (an answer in the store, a template, a setting, the code, a
missing file, a manifest from another writer) computes everything again.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from support.evaluate_run import RUN_ONLY_KEYS, evaluate_args, read_summary, write_via
from support.fake_server import FakeServer, FaultConfig, serve_in_thread
from valuelens.cli import app
from valuelens.pipeline import EvaluateConfig, EvaluateOutcome, _reuse, evaluate
from valuelens.pipeline._reuse import (
    extension_fingerprint,
    inputs_digest,
    report_is_current,
    report_key,
    table_fingerprint,
)
from valuelens.report import Section, register_section, unregister_section
from valuelens.runs import checked_summary, read_manifest, write_run

COUNTRY, TOPIC = "United States", "Environment"
VALUES = ("Honest", "Wealth", "Equality", "Curious", "Humble", "Ambitious")


@pytest.fixture
def server(dummy_openai_key: str) -> Iterator[FakeServer]:
    with serve_in_thread(FaultConfig(latency_s=0.001)) as fake:
        yield fake


@pytest.fixture
def config(server: FakeServer, tmp_path: Path, private_cache_dir: Path) -> EvaluateConfig:
    actions = {v: (f"I act for {v.lower()} now.", f"I set {v.lower()} aside.") for v in VALUES}
    via = write_via(tmp_path / "via.csv", COUNTRY, TOPIC, actions)
    return EvaluateConfig(
        out=tmp_path / "run",
        model="openai:fake",
        base_urls=(server.base_url,),
        via=via,
        countries=COUNTRY,
        topics=TOPIC,
        stated_variants="0,1",
        action_variants="0,1",
        progress=False,
        report=True,
    )


def _files(out: Path) -> dict[str, int]:
    """Every file of the run directory but the summary and manifest, with its mtime."""
    skip = {"summary.json", "manifest.json"}
    return {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name not in skip}


def _without_usage(summary: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in summary.items() if k not in RUN_ONLY_KEYS}


def test_a_rerun_keeps_every_file_and_gives_the_same_outcome(
    config: EvaluateConfig, server: FakeServer
) -> None:
    first = evaluate(config)
    sent, files = server.stats.chat, _files(config.out)
    assert not first.reused and "report.html" in files and "pairs.parquet" in files

    again = evaluate(config)

    assert again.reused and server.stats.chat == sent
    assert _files(config.out) == files, "a kept result was written again"
    # The kept summary is the one written: JSON-ready, with its schema version.
    assert _without_usage(again.summary) == _without_usage(checked_summary(first.summary))
    written = read_summary(config.out)
    assert written["invocations"] == 2 and written["usage"]["requests_cached"] == sent
    assert _without_usage(written) == _without_usage(again.summary)
    manifest = read_manifest(config.out)
    assert manifest is not None and manifest.files_intact(config.out)
    assert report_is_current(manifest, config.out, report_key(manifest.inputs_sha256, config.out))
    assert again.report == config.out / "report.html"
    assert again.result is not None and first.result is not None
    assert again.result.summary["alignment_rate"] == first.result.summary["alignment_rate"]
    assert set(again.tables) == set(first.tables)
    for name in ("pairs", "variants", "responses_stated"):
        pd.testing.assert_frame_equal(
            again.tables[name].reset_index(drop=True),
            first.tables[name].reset_index(drop=True),
            check_dtype=False,
        )


def _edit_stored_answers(store: Path) -> int:
    """Swap the chosen option of every stored Task 2 answer in the SQLite store; how many."""
    swap = {'"Option 1"': '"Option 2"', '"Option 2"': '"Option 1"'}
    changed = 0
    with sqlite3.connect(store) as connection:
        rows = connection.execute("SELECT key, response FROM results WHERE ok = 1").fetchall()
        for key, response in rows:
            payload = json.loads(response)
            text = payload["text"]
            chosen = next((option for option in swap if option in text), None)
            if chosen is None:
                continue
            payload["text"] = text.replace(chosen, swap[chosen])
            connection.execute(
                "UPDATE results SET response = ? WHERE key = ?", (json.dumps(payload), key)
            )
            changed += 1
    return changed


def test_a_changed_answer_in_the_store_computes_everything_again(
    config: EvaluateConfig, server: FakeServer, private_cache_dir: Path
) -> None:
    first = evaluate(config)
    assert _edit_stored_answers(private_cache_dir / "cache.sqlite") > 0

    again = evaluate(config)

    assert not again.reused
    assert not again.tables["responses_action"].equals(first.tables["responses_action"])
    assert again.summary["alignment_rate"] != first.summary["alignment_rate"]
    assert read_summary(config.out)["invocations"] == 2


def test_a_setting_that_changes_the_scores_computes_again(config: EvaluateConfig) -> None:
    evaluate(config)
    assert not evaluate(replace(config, values="Honest,Wealth,Equality,Curious")).reused


def test_a_setting_that_only_changes_sending_keeps_the_results(config: EvaluateConfig) -> None:
    evaluate(config)
    assert evaluate(replace(config, concurrency=3, requests_per_minute=6000.0)).reused


def test_an_edited_template_computes_again(config: EvaluateConfig, tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    (folder / "stated").mkdir(parents=True)
    template = folder / "stated" / "variant_0.jinja"
    template.write_text(
        "In {{ country }}, rate each value 1-4: {% for v in values %}{{ v.name }}; {% endfor %}\n"
    )
    with_folder = replace(config, templates=folder)
    evaluate(with_folder)
    assert evaluate(with_folder).reused
    template.write_text(
        "{{ country }}: rate these 1-4. {% for v in values %}{{ v.name }}, {% endfor %}\n"
    )
    assert not evaluate(with_folder).reused


def test_other_code_computes_again(config: EvaluateConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    evaluate(config)
    monkeypatch.setattr(_reuse, "code_fingerprint", lambda: "another valuelens")
    assert not evaluate(config).reused


def test_a_missing_table_file_computes_again(config: EvaluateConfig) -> None:
    evaluate(config)
    (config.out / "pairs.csv").unlink()
    assert not evaluate(config).reused
    assert (config.out / "pairs.csv").is_file()


@pytest.mark.parametrize("name", ["pairs.csv", "pairs.parquet"])
def test_an_edited_or_damaged_table_file_computes_again(config: EvaluateConfig, name: str) -> None:
    first = evaluate(config)
    path = config.out / name
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])  # e.g. a half-saved edit
    again = evaluate(config)
    assert not again.reused and again.summary["n_pairs"] == first.summary["n_pairs"]
    manifest = read_manifest(config.out)
    assert manifest is not None and manifest.files_intact(config.out)


def test_tables_mixed_by_a_write_that_stopped_halfway_compute_again(
    config: EvaluateConfig,
) -> None:
    """Another evaluation's table in place of this one's, the manifest still this run's."""
    first = evaluate(config)
    fewer = replace(config, out=config.out.parent / "fewer", values="Honest,Wealth")
    assert len(evaluate(fewer).tables["pairs"]) != len(first.tables["pairs"])
    shutil.copy(fewer.out / "pairs.parquet", config.out / "pairs.parquet")
    again = evaluate(config)
    assert not again.reused and len(again.tables["pairs"]) == len(first.tables["pairs"])


def test_a_report_overwritten_by_another_render_is_rendered_again(
    config: EvaluateConfig,
) -> None:
    evaluate(config)
    (config.out / "report.html").write_text("<html>a comparison of other runs</html>")
    again = evaluate(config)
    assert again.reused and again.report is not None
    assert "a comparison of other runs" not in again.report.read_text(encoding="utf-8")


def test_a_copied_run_directory_keeps_its_tables_but_renders_its_own_report(
    config: EvaluateConfig,
) -> None:
    evaluate(config)
    copy = config.out.parent / "copy"
    shutil.copytree(config.out, copy)
    before = (copy / "report.html").read_bytes()
    again = evaluate(replace(config, out=copy))
    assert again.reused  # the results do not depend on the folder's name
    assert (copy / "report.html").read_bytes() != before  # the page shows the folder's name


def test_a_manifest_from_another_writer_computes_again(config: EvaluateConfig) -> None:
    first: EvaluateOutcome = evaluate(config)
    # What e.g. `valuelens harms` does when it adds its tables to an evaluation's directory.
    write_run(config.out, read_summary(config.out), {"pairs": first.tables["pairs"]})
    again = evaluate(config)
    assert not again.reused and (config.out / "variants.parquet").is_file()


def test_a_deleted_report_is_rendered_again_from_the_kept_results(
    config: EvaluateConfig,
) -> None:
    evaluate(config)
    tables = {p.name: p.stat().st_mtime_ns for p in config.out.glob("*.parquet")}
    (config.out / "report.html").unlink()
    again = evaluate(config)
    assert again.reused and again.report is not None and again.report.is_file()
    assert {p.name: p.stat().st_mtime_ns for p in config.out.glob("*.parquet")} == tables


def test_without_the_report_flag_no_report_is_written(config: EvaluateConfig) -> None:
    quiet = replace(config, report=False)
    evaluate(quiet)
    again = evaluate(quiet)
    assert again.reused and again.report is None
    assert not (config.out / "report.html").exists()


# --- the fingerprint itself ---


def test_an_extension_without_a_source_file_keeps_nothing(config: EvaluateConfig) -> None:
    def build(context: object) -> None:
        return None

    build.__module__ = "a_notebook_cell"  # what a function defined in Jupyter looks like
    evaluate(config)
    register_section(Section("from-a-notebook", "From a notebook", build))
    try:
        assert extension_fingerprint() is None
        assert not evaluate(config).reused
    finally:
        unregister_section("from-a-notebook")
    assert extension_fingerprint() is not None


def test_an_extensions_source_is_part_of_the_fingerprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "my_section.py"
    module.write_text("def build(context):\n    return None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import my_section  # type: ignore[import-not-found]

    before = extension_fingerprint()
    register_section(Section("mine", "Mine", my_section.build))
    try:
        registered = extension_fingerprint()
        module.write_text("def build(context):\n    return 'edited'\n")
        assert len({before, registered, extension_fingerprint()}) == 3
    finally:
        unregister_section("mine")
        sys.modules.pop("my_section", None)


def test_library_versions_are_part_of_the_fingerprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = EvaluateConfig(out=tmp_path / "run")
    digest = inputs_digest(config, {}, {})
    monkeypatch.setattr(_reuse, "version", lambda name: "0.0.1")
    assert inputs_digest(config, {}, {}) != digest


def test_folders_are_read_through_links_without_hidden_files(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "variant_0.jinja").write_text("one")
    folder = tmp_path / "templates"
    (folder / "stated").mkdir(parents=True)
    (folder / "linked").symlink_to(real, target_is_directory=True)
    config = EvaluateConfig(out=tmp_path / "run", templates=folder)
    digest = inputs_digest(config, {}, {})
    (folder / "stated" / ".variant_0.jinja.swp").write_text("an editor's swap file")
    assert inputs_digest(config, {}, {}) == digest
    (real / "variant_0.jinja").write_text("two")
    assert inputs_digest(config, {}, {}) != digest


def test_table_fingerprint_follows_values_columns_and_dtypes_not_the_index() -> None:
    table = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    same = table.set_axis([10, 11])
    assert table_fingerprint(table) == table_fingerprint(same)
    assert table_fingerprint(table) != table_fingerprint(table.assign(b=["x", "z"]))
    assert table_fingerprint(table) != table_fingerprint(table.rename(columns={"b": "c"}))
    assert table_fingerprint(table) != table_fingerprint(table.astype({"a": float}))


def test_table_fingerprint_reads_lists_arrays_and_dicts() -> None:
    makers = [
        lambda second: pd.DataFrame({"p": [(0.1, 0.9), tuple(second)]}),
        lambda second: pd.DataFrame({"p": [[0.1, 0.9], list(second)], "d": [{"k": 1}, {}]}),
        lambda second: pd.DataFrame({"p": [np.array([0.1, 0.9]), np.array(second)]}),
    ]
    for make in makers:
        table = make([0.5, 0.5])
        assert table_fingerprint(table) == table_fingerprint(make([0.5, 0.5]))
        assert table_fingerprint(table) != table_fingerprint(make([0.4, 0.6]))


def test_inputs_digest_leaves_out_usage_and_sending_settings(tmp_path: Path) -> None:
    config = EvaluateConfig(out=tmp_path / "a")
    tables = {"t": pd.DataFrame({"a": [1]})}
    summary = {"model": "m", "usage": {"requests_sent": 1}, "invocations": 1}
    digest = inputs_digest(config, summary, tables)
    moved = replace(config, out=tmp_path / "b", concurrency=99, progress=False)
    later = summary | {"usage": {"requests_sent": 0}, "invocations": 2}
    assert inputs_digest(moved, later, tables) == digest
    assert inputs_digest(replace(config, temperature=0.7), summary, tables) != digest
    assert inputs_digest(config, summary | {"model": "n"}, tables) != digest
    assert inputs_digest(config, summary, {"t": pd.DataFrame({"a": [2]})}) != digest


def test_inputs_digest_reads_the_files_a_setting_names(tmp_path: Path) -> None:
    taxonomy = tmp_path / "taxonomy.yaml"
    taxonomy.write_text("values: []\n")
    config = EvaluateConfig(out=tmp_path / "run", taxonomy=taxonomy)
    digest = inputs_digest(config, {}, {})
    assert inputs_digest(config, {}, {}) == digest
    taxonomy.write_text("values: [{name: New}]\n")
    assert inputs_digest(config, {}, {}) != digest


def test_the_cli_says_when_it_kept_the_results(config: EvaluateConfig, server: FakeServer) -> None:
    args = evaluate_args(
        server.base_url,
        config.via or Path(),
        config.out,
        country=COUNTRY,
        topic=TOPIC,
        stated_variants="0",
        extra=["--variants", "0"],
    )
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "kept its tables" not in first.output and "wrote" in first.output
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "kept its tables" in " ".join(again.output.split())
    assert "alignment rate" in again.output  # the scores are shown as before
