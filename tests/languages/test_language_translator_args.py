"""The translator is not sent the evaluated model's `-M` arguments, even when it is that model."""

from __future__ import annotations

from pathlib import Path

import pytest
from language_fixture import CODE, write_languages_dir
from typer.testing import CliRunner

from support.evaluate_run import write_via
from support.fake_server import FaultConfig, serve_in_thread
from valuelens.cli import app

pytestmark = pytest.mark.slow


def test_translations_get_no_model_arguments(tmp_path: Path) -> None:
    via = write_via(
        tmp_path / "via.csv", "India", "Religion", {"Honest": ("I tell the truth.", "I lie.")}
    )
    with serve_in_thread(FaultConfig()) as server:
        server.stats.keep_bodies = True
        args = ["evaluate", "--model", "openai:fake", "--base-url", server.base_url]
        args += ["--via", str(via), "--countries", "India", "--topics", "Religion"]
        args += ["--stated-variants", "0", "--variants", "0", "--language", f"en,{CODE}"]
        args += ["--languages-dir", str(write_languages_dir(tmp_path / "l")), "-M", "top_k=9"]
        result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "run"), "--no-report"])
        bodies = list(server.stats.bodies)
    assert result.exit_code == 0, result.output

    def is_translation(body: dict[str, object]) -> bool:
        messages = body["messages"]
        assert isinstance(messages, list)
        return str(messages[-1]["content"]).startswith("Translate the sentence")

    translations = [b for b in bodies if is_translation(b)]
    others = [b for b in bodies if not is_translation(b)]
    assert translations and others
    assert all("top_k" not in b for b in translations)
    assert all(b.get("top_k") == 9 for b in others)
