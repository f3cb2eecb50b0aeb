"""`valuelens evaluate --language en,native` against a local OpenAI-compatible server.

The server answers every JSON schema with a valid instance (the translations with one of its
stock English sentences), so the test can follow the translated text from the translation
replies into the Task 2 prompts it sent, and check the run's tables, summary and report.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from language_fixture import CODE, OPTION_LABELS, write_languages_dir
from typer.testing import CliRunner

from support.evaluate_run import read_summary, write_via
from support.fake_server import (
    FakeServer,
    FaultConfig,
    _chat_body,
    _response,
    run_in_thread,
    serve_in_thread,
)
from valuelens.cli import app

pytestmark = pytest.mark.slow

COUNTRY, TOPIC = "India", "Religion"
ACTIONS = {
    "Honest": ("I tell the priest the truth.", "I pretend I prayed."),
    "Wealth": ("I buy a bigger shop.", "I give my savings away."),
    "Freedom": ("I stay home. [1]", "I stay home. [2]"),  # the same text once translated
}
SOURCES = [a for pair in ACTIONS.values() for a in pair]


MARK = "UEBERSETZT: "


class TranslatingServer(FakeServer):
    """Answers a translation request with the sentence marked and its `[n]` tag dropped.

    So every translation is known in advance, and "I stay home. [1]" and "I stay home. [2]"
    (the two sides of the Freedom pair) come out the same.
    """

    def _answer(self, conn, kind, payload, fault, credentials) -> None:  # type: ignore[no-untyped-def]
        text = payload["messages"][-1]["content"]
        if not text.startswith("Translate the sentence") or fault is not None:
            super()._answer(conn, kind, payload, fault, credentials)
            return
        source = text.split("Sentence: ", 1)[1].split("\n", 1)[0]
        body = _chat_body(payload)
        reply = {"translation": MARK + source.split(" [")[0]}
        body["choices"][0]["message"]["content"] = json.dumps(reply)
        conn.send(_response(200, json.dumps(body).encode()))


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with run_in_thread(TranslatingServer(FaultConfig())) as running:
        running.stats.keep_bodies = True
        yield running


def _evaluate(server: FakeServer, tmp_path: Path, *extra: str) -> tuple[Path, str]:
    via = write_via(tmp_path / "via.csv", COUNTRY, TOPIC, ACTIONS)
    out = tmp_path / "run"
    args = ["evaluate", "--model", "openai:fake", "--base-url", server.base_url, "--via", str(via)]
    args += ["--countries", COUNTRY, "--topics", TOPIC, "--stated-variants", "0,2"]
    args += ["--variants", "0,2", "--languages-dir", str(write_languages_dir(tmp_path / "l"))]
    result = CliRunner().invoke(app, [*args, *extra, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output


def _prompts(server: FakeServer) -> list[str]:
    return [body["messages"][-1]["content"] for body in server.stats.bodies]


def test_translated_prompts_reach_the_server_and_the_gap_is_reported(
    server: FakeServer, tmp_path: Path, dummy_openai_key: str
) -> None:
    out, output = _evaluate(server, tmp_path, "--language", "en,native")
    prompts = _prompts(server)
    translations = pd.read_parquet(out / "translations.parquet")
    # 6 distinct actions, each translated once into the test language.
    assert sorted(translations["source"]) == sorted(SOURCES)
    assert set(translations["parse_status"]) == {"ok"}
    assert len([p for p in prompts if p.startswith("Translate the sentence")]) == 6
    # Task 1 in the test language: its prose and names; 2 variants.
    stated_xx = [p for p in prompts if p.startswith("XX-SZENARIO: Sie leben in XX:India")]
    assert len(stated_xx) == 2
    assert all("XX:Honest" in p and "XXDEF genuine, sincere" in p for p in stated_xx)
    # Task 2 in the test language shows the translated actions, never the English ones; the
    # Freedom pair (both sides translated alike) is not asked in it.
    action_xx = [p for p in prompts if "XX-FRAGE-0" in p]
    assert len(action_xx) == 2 * 2  # 2 pairs x 2 variants
    assert "Wahl 1: UEBERSETZT: I pretend I prayed.\nWahl 2: UEBERSETZT: I tell the priest" in (
        "\n".join(action_xx)
    )
    assert not any(a in p.replace(MARK + a, "") for a in SOURCES for p in action_xx)
    assert not any("XX:Freedom" in p for p in action_xx)
    schemas = [b["response_format"]["json_schema"]["schema"] for b in server.stats.bodies
               if "XX-FRAGE-0" in b["messages"][-1]["content"]]  # fmt: skip
    assert all(s["properties"]["action"]["enum"] == OPTION_LABELS for s in schemas)

    summary = read_summary(out)
    assert summary["prompt_languages"] == ["en", "native"]
    assert summary["prompt_language_by_country"] == {COUNTRY: "en"}
    assert summary["language_countries"] == {"en": [COUNTRY], CODE: [COUNTRY]}
    assert summary["language_pairs_scored"] == {"en": 3, CODE: 2}
    assert summary["language_not_evaluated"] == {"en": 0, CODE: 1}
    assert summary["language_gap"][CODE]["n_pairs"] == 2
    assert summary["translation_status"] == {CODE: {"ok": 6}}
    stated = pd.read_parquet(out / "language_stated.parquet")
    assert stated.groupby("language").size().to_dict() == {"en": 2 * 56, CODE: 2 * 56}
    assert set(stated["parse_status"]) == {"ok"}  # translated keys read back
    assert set(pd.read_parquet(out / "responses_stated.parquet")["language"]) == {"en"}
    assert f"prompt language {CODE}: alignment rate" in output
    html = (out / "report.html").read_text("utf-8")
    assert 'id="languages"' in html and f'data-testid="language-gap-{CODE}"' in html

    # A rerun takes every translation and answer from the cache: nothing is sent.
    sent = len(server.stats.bodies)
    _evaluate(server, tmp_path, "--language", "en,native")
    assert len(server.stats.bodies) == sent
    assert read_summary(out)["usage_last_invocation"]["requests_sent"] == 0


def test_native_alone_asks_india_in_its_language_only(
    server: FakeServer, tmp_path: Path, dummy_openai_key: str
) -> None:
    out, _ = _evaluate(server, tmp_path, "--language", "NATIVE", "--no-report")
    summary = read_summary(out)
    assert summary["prompt_language_by_country"] == {COUNTRY: CODE}
    assert summary["language_gap"] == {CODE: {"n_pairs": 0, "n_scenarios": 0}}
    assert not [p for p in _prompts(server) if p.startswith("Picture yourself")]
    main = pd.read_parquet(out / "responses_action.parquet")
    assert set(main["language"]) == {CODE} and len(main) == 2 * 2  # Freedom not asked


def test_untranslatable_actions_leave_their_pairs_unasked_in_that_language(
    server: FakeServer, tmp_path: Path, dummy_openai_key: str
) -> None:
    # A translator that answers every request with an echo, never JSON.
    with serve_in_thread(FaultConfig(answer_json_schema=False)) as translator:
        translator.stats.keep_bodies = True
        out, output = _evaluate(
            server, tmp_path, "--language", "en,xx", "--no-report",
            "--translator", "openai:echo", "--translator-base-url", translator.base_url,
        )  # fmt: skip
        assert len(translator.stats.bodies) == 6
        assert {b["model"] for b in translator.stats.bodies} == {"echo"}
    assert not [p for p in _prompts(server) if p.startswith("Translate the sentence")]
    assert not [p for p in _prompts(server) if "XX-FRAGE" in p]  # no xx Task 2 request at all
    summary = read_summary(out)
    assert summary["translator"] == "openai:echo"
    assert summary["translation_status"] == {CODE: {"failed": 6}}
    assert summary["language_not_evaluated"] == {"en": 0, CODE: 3}
    translations = pd.read_parquet(out / "translations.parquet")
    assert translations["raw"].str.startswith("echo: ").all()  # the raw reply is kept
    assert "pairs not evaluated in their language (no Task 2 answer): xx 3" in output
    assert json.loads((out / "summary.json").read_text())["language_gap"][CODE]["n_pairs"] == 0
