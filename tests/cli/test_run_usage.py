"""`usage` adds up over the invocations of one run directory; `Completeness` counts by stage."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from valuelens.models import Message, Request, Response, Usage
from valuelens.pipeline import Completeness, accumulated_usage
from valuelens.report._load import Run
from valuelens.runner import RunResult


def _usage(sent: int, cached: int, failed: int, tokens: int, cost: float | None) -> dict[str, Any]:
    return {
        "prompt_tokens": tokens,
        "completion_tokens": tokens // 10,
        "cost_usd": cost,
        "requests_sent": sent,
        "requests_cached": cached,
        "requests_failed": failed,
    }


def _write(out: Path, summary: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary), encoding="utf-8")


def test_first_invocation_is_its_own_total(tmp_path: Path) -> None:
    last = _usage(10, 0, 2, 1000, 0.5)
    fields = accumulated_usage(tmp_path, last)
    assert fields == {"usage": last, "usage_last_invocation": last, "invocations": 1}


def test_invocations_add_up(tmp_path: Path) -> None:
    _write(tmp_path, {"usage": _usage(10, 0, 2, 1000, 0.5), "invocations": 2})
    fields = accumulated_usage(tmp_path, _usage(2, 8, 0, 200, 0.25))
    assert fields["usage"] == _usage(12, 8, 2, 1200, 0.75)
    assert fields["usage_last_invocation"] == _usage(2, 8, 0, 200, 0.25)
    assert fields["invocations"] == 3


def test_unknown_cost_stays_unknown(tmp_path: Path) -> None:
    _write(tmp_path, {"usage": _usage(10, 0, 0, 1000, None), "invocations": 1})
    assert accumulated_usage(tmp_path, _usage(1, 9, 0, 100, 0.1))["usage"]["cost_usd"] is None
    _write(tmp_path, {"usage": _usage(10, 0, 0, 1000, 0.2), "invocations": 1})
    assert accumulated_usage(tmp_path, _usage(1, 9, 0, 100, None))["usage"]["cost_usd"] is None


def test_an_older_summary_counts_as_one_invocation(tmp_path: Path) -> None:
    _write(tmp_path, {"usage": _usage(5, 0, 0, 500, 0.0)})
    fields = accumulated_usage(tmp_path, _usage(0, 5, 0, 0, 0.0))
    assert fields["invocations"] == 2 and fields["usage"]["requests_cached"] == 5


def test_a_broken_or_foreign_summary_starts_over(tmp_path: Path) -> None:
    tmp_path.joinpath("summary.json").write_text("{not json", encoding="utf-8")
    last = _usage(3, 0, 0, 30, 0.0)
    assert accumulated_usage(tmp_path, last)["usage"] == last
    _write(tmp_path, {"kind": "value-action", "usage": {"requests_sent": "many"}})
    fields = accumulated_usage(tmp_path, last)
    assert fields["usage"]["requests_sent"] == 3 and fields["invocations"] == 2


def _result(key: str, ok: bool, attempts: int, error: str | None = None) -> RunResult:
    request = Request(messages=(Message("user", key),))
    response = (
        Response(text="{}", usage=Usage(prompt_tokens=1, completion_tokens=1)) if ok else None
    )
    return RunResult(key, request, response, None if ok else error, False, attempts)


def test_completeness_counts_failed_requests_by_stage() -> None:
    stages = {
        "stated": [_result("a", True, 1), _result("b", False, 7, "HTTP 500: boom")],
        "action": [
            _result("c", False, 7, "HTTP 500: boom"),
            _result("c", False, 7, "HTTP 500: boom"),  # the same request twice counts once
            _result("d", False, 1, "HTTP 400: bad"),
            _result("e", True, 2),
        ],
    }
    completeness = Completeness.of(stages)
    assert completeness.n_requests == 5 and completeness.n_failed == 3
    assert completeness.failed_by_stage == {"stated": 1, "action": 2}
    assert not completeness.complete
    assert completeness.message() == (
        "3 of 5 requests failed after 1-7 attempts (stated 1, action 2; most often: "
        "HTTP 500: boom, 2 times): the numbers come from partial data; rerun to retry them"
    )
    fields = completeness.summary_fields()
    assert fields["complete"] is False and fields["incomplete"] == completeness.message()


def test_a_complete_run_has_no_message() -> None:
    completeness = Completeness.of({"stated": [_result("a", True, 1)]})
    assert completeness.complete and completeness.message() is None
    assert completeness.summary_fields() == {"complete": True, "requests_failed_by_stage": {}}


def _note(summary: dict[str, Any]) -> str | None:
    from valuelens.report._html import _incomplete_note

    run = cast(Run, SimpleNamespace(label="gpt [x]", summary=summary))
    return _incomplete_note(run)


def test_report_notes_incomplete_runs() -> None:
    line = "8 of 32 requests failed after 7 attempts"
    assert _note({"complete": False, "incomplete": line}) == f"gpt [x]: {line}"
    assert _note({"complete": True, "parse_status_action": {"error": 3}}) is None
    # Summaries from before `complete` existed: failed requests show as parse status `error`.
    legacy = {"parse_status_stated": {"ok": 5, "error": 2}, "parse_status_action": {"error": 1}}
    assert _note(legacy) == "gpt [x]: 3 answers are missing because their requests failed"
    assert _note({"parse_status_action": {"ok": 5, "failed": 1}}) is None
