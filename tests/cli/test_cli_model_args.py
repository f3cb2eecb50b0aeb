"""`-M KEY=VALUE` on the command line: sent to the server, keyed, recorded, refused in one line.

`compass run` and `annotate judge` run for real against the local fake OpenAI-compatible
server, which keeps every request body; `predict run` and `harms code` are checked up to the
pipeline call (their own runs need an evaluate run or a harms run first).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import valuelens.pipeline
import valuelens.pipeline._harms
from support.evaluate_run import write_via
from support.fake_server import FakeServer, FaultConfig, serve_in_thread
from valuelens._errors import ValuelensError
from valuelens.cli import app, main
from valuelens.models._args import ModelArgs
from valuelens.pipeline._session import SessionSettings
from valuelens.pipeline._sweep import load_sweep_file, run_names

ARGS = ["-M", "max_tokens=77", "-M", "top_p=0.5", "-M", "stop=END", "-M", "top_k=9"]
RECORDED = {"max_tokens": 77, "top_p": 0.5, "stop": ["END"], "top_k": 9}


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with serve_in_thread(FaultConfig()) as started:
        started.stats.keep_bodies = True
        yield started


def _compass(server: FakeServer, out: Path, *extra: str) -> Any:
    return CliRunner().invoke(app, _compass_args(server, out, *extra))


def _summary(run: Path) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    return summary


def test_compass_run_sends_keys_and_records_the_arguments(
    server: FakeServer, tmp_path: Path
) -> None:
    shaped, plain = tmp_path / "shaped", tmp_path / "plain"
    first = _compass(server, shaped, *ARGS, "-M", "timeout=30")
    assert first.exit_code == 0, first.output
    sent = list(server.stats.bodies)
    assert sent, "nothing reached the server"
    for body in sent:
        assert body["max_tokens"] == 77 and body["top_p"] == 0.5
        assert body["stop"] == ["END"] and body["top_k"] == 9
    summary = _summary(shaped)
    assert summary["model_args"] == {**RECORDED, "timeout": 30.0}
    assert json.loads(summary["backend"]["args"]) == RECORDED

    # Another timeout does not change the answers: everything comes from the store.
    again = _compass(server, shaped, *ARGS, "-M", "timeout=5")
    assert again.exit_code == 0, again.output
    assert len(server.stats.bodies) == len(sent)
    assert pd.read_parquet(shaped / "replies.parquet")["cached"].all()

    # Without -M: other keys, so the requests are sent again, and as the task wrote them.
    bare = _compass(server, plain)
    assert bare.exit_code == 0, bare.output
    fresh = server.stats.bodies[len(sent) :]
    assert len(fresh) == len(sent)
    assert all("top_p" not in b and "stop" not in b and b["max_tokens"] != 77 for b in fresh)
    summary = _summary(plain)
    assert "model_args" not in summary and "args" not in summary["backend"]
    ledgers = [json.loads((run / "requests.json").read_text()) for run in (shaped, plain)]
    assert not set(ledgers[0]["keys"]) & set(ledgers[1]["keys"])


def test_annotate_judge_records_the_arguments(server: FakeServer, tmp_path: Path) -> None:
    actions = {
        value: (f"I act with {value.lower()}.", f"I ignore {value.lower()}.")
        for value in ("Honest", "Helpful")
    }
    via = write_via(tmp_path / "via.csv", "Canada", "Religion", actions)
    out = tmp_path / "judged"
    command = ["annotate", "judge", str(via), "--out", str(out), "--model", "openai:fake"]
    command += ["--base-url", server.base_url, "--n", "2", *ARGS]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    assert server.stats.bodies and all(b["top_k"] == 9 for b in server.stats.bodies)
    assert _summary(out)["model_args"] == RECORDED


class Stop(Exception):
    """Raised by a recorder once it has the arguments."""


def _record(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def recorder(*args: Any, **kwargs: Any) -> Any:
        seen.update(kwargs, args=args)
        raise Stop

    monkeypatch.setattr(module, name, recorder)
    return seen


@pytest.mark.parametrize(
    ("module", "name", "command"),
    [
        (valuelens.pipeline, "run_predictions", ["predict", "run", "--run", "r", "--out", "p"]),
        (valuelens.pipeline._harms, "harms_code", ["harms", "code", "--run", "h"]),
        (valuelens.pipeline, "collect_compass_answers", ["compass", "run", "--out", "c"]),
    ],
    ids=["predict run", "harms code", "compass run"],
)
def test_the_arguments_reach_the_pipeline(
    monkeypatch: pytest.MonkeyPatch, module: object, name: str, command: list[str]
) -> None:
    seen = _record(monkeypatch, module, name)
    result = CliRunner().invoke(app, [*command, *ARGS, "-M", "timeout=4"])
    assert isinstance(result.exception, Stop), result.output
    [settings] = [a for a in seen["args"] if isinstance(a, SessionSettings)]
    assert settings.model_args == ModelArgs(
        max_tokens=77, top_p=0.5, stop=("END",), timeout_s=4.0, extra={"top_k": 9}
    )
    assert settings.effective_timeout_s == 4.0


def _main(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[object, str]:
    """Run the console entry point in-process (config file, one-line errors); (code, output)."""
    monkeypatch.setattr(sys, "argv", ["valuelens", *args])
    with pytest.raises(SystemExit) as stopped:
        main()
    captured = capsys.readouterr()
    return stopped.value.code, captured.out + captured.err


def _compass_args(server: FakeServer, out: Path, *extra: str) -> list[str]:
    command = ["compass", "run", "--model", "openai:fake", "--base-url", server.base_url]
    command += ["--countries", "Canada", "--scenarios", "healthcare", "--values", "Honest"]
    return [*command, "--variants", "0", "--out", str(out), *extra]


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("foo", "-M/--model-arg 'foo': expected KEY=VALUE"),
        ("max_tokens=abc", "max_tokens: expected a whole number of at least 1, got 'abc'"),
        ("temperature=1", "temperature: not a model argument; use --temperature"),
        ("api_key=sk-secret-123", "api_key: refused; credentials never go on the command line"),
    ],
)
def test_a_bad_argument_is_one_line_and_exit_2(
    server: FakeServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    item: str,
    expected: str,
) -> None:
    code, output = _main(_compass_args(server, tmp_path / "c", "-M", item), capsys, monkeypatch)
    assert code == 2
    assert output.count("\n") == 1 and output.startswith("error: ") and expected in output
    assert "sk-secret" not in output
    assert server.stats.bodies == [] and not (tmp_path / "c").exists()


def test_the_config_file_can_hold_model_arguments(
    server: FakeServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "valuelens.toml").write_text('[compass.run]\nmodel-arg = ["top_k=3"]\n')
    monkeypatch.chdir(tmp_path)
    code, output = _main(_compass_args(server, tmp_path / "c"), capsys, monkeypatch)
    assert code in (0, None), output
    assert server.stats.bodies and all(b["top_k"] == 3 for b in server.stats.bodies)
    assert _summary(tmp_path / "c")["model_args"] == {"top_k": 3}


def test_a_sweep_entry_takes_its_own_model_arguments(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        "models:\n"
        "  - model: openai:a\n"
        "    args: {max_tokens: 64, stop: [END], top_k: 5}\n"
        "  - model: openai:a\n"
        "    args: {max_tokens: 32}\n"
        "  - model: openai:b\n"
    )
    entries = load_sweep_file(sweep)
    assert entries[0].model_args == ModelArgs(max_tokens=64, stop=("END",), extra={"top_k": 5})
    assert entries[1].model_args.max_tokens == 32 and entries[2].model_args.is_empty
    # The same model with other arguments is another run, named apart.
    assert run_names(entries) == ["a", "a-2", "b"]


def test_a_bad_sweep_argument_names_the_entry(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text("models:\n  - model: openai:a\n    args: {max_tokens: lots}\n")
    with pytest.raises(ValuelensError) as caught:
        load_sweep_file(sweep)
    expected = "model 1: args: max_tokens: expected a whole number of at least 1, got 'lots'"
    assert str(caught.value) == f"{sweep}: {expected}"
