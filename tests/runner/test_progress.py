"""Progress when stderr is not a terminal (batch jobs, CI): plain lines, every few seconds."""

from __future__ import annotations

import re

import pytest

from support.fake_server import FakeServer
from valuelens.models import Message, OpenAIBackend, Request
from valuelens.runner import Runner, Store

LINE = re.compile(
    r"^(?P<label>.+): (?P<done>\d+)/(?P<total>\d+) requests \((?P<percent>\d+)%\), "
    r"(?P<rate>[\d.]+)/s, elapsed \d+:\d\d:\d\d, "
    r"(?:ETA (?:\?|\d+:\d\d:\d\d), )?(?P<errors>\d+) errors?(?:, \$[\d,.]+)?"
    r"(?P<end>, finished|, stopped)?$"
)


def ask(text: str) -> Request:
    return Request(messages=(Message("user", text),), max_tokens=8)


async def test_plain_lines_every_interval_and_at_the_end(
    fake_server: FakeServer, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    # 60 requests x 40 ms / 2 at a time: at least 1.2 s of work, whatever the client's speed.
    fake_server.config.latency_s = 0.04
    prices = {"openai:fake-model": {"input": 1.0, "output": 2.0}}
    backend = OpenAIBackend("fake-model", base_url=fake_server.base_url)
    runner = Runner(
        backend, store, concurrency=2, progress_every_s=0.3, price_table=prices, backoff_s=0.01
    )
    requests = [ask(f"q{i}") for i in range(59)] + [ask("<<faults:404>> x")]
    try:
        await runner.run(requests)
    finally:
        await backend.aclose()

    lines = capsys.readouterr().err.splitlines()
    assert "\x1b" not in "".join(lines)  # no terminal control codes in a log
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    matches = [m for m in parsed if m is not None]
    assert len(matches) >= 3, lines  # at least two while running (>= 1.2 s of work), one at the end
    assert {m["label"] for m in matches} == {"openai:fake-model"}
    assert {m["total"] for m in matches} == {"60"}
    done = [int(m["done"]) for m in matches]
    assert done == sorted(done) and done[-1] == 60
    assert [m["end"] for m in matches] == [None] * (len(matches) - 1) + [", finished"]
    assert all("ETA" in line for line in lines[:-1])
    assert matches[-1]["percent"] == "100" and matches[-1]["errors"] == "1"
    assert re.search(r", \$0\.\d{4}, finished$", lines[-1]), lines[-1]  # cost so far


async def test_nothing_before_the_first_interval_except_the_last_line(
    fake_server: FakeServer, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    backend = OpenAIBackend("fake-model", base_url=fake_server.base_url)
    try:
        await Runner(backend, store).run([ask(f"q{i}") for i in range(5)])
    finally:
        await backend.aclose()

    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    match = LINE.match(lines[0])
    assert match is not None and match["done"] == "5" and match["end"] == ", finished"


@pytest.mark.parametrize("terminal", [False, True])
async def test_markup_in_the_label_is_shown_verbatim(
    fake_server: FakeServer,
    store: Store,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    terminal: bool,
) -> None:
    if terminal:
        monkeypatch.setenv("FORCE_COLOR", "1")
        monkeypatch.setenv("TERM", "xterm-256color")
        monkeypatch.setenv("COLUMNS", "200")
    label = "[bold red]model[/] at [/v1/projects/p-1]"
    backend = OpenAIBackend("fake-model", base_url=fake_server.base_url)
    try:
        await Runner(backend, store, description=label).run([ask("q")])
    finally:
        await backend.aclose()

    shown = capsys.readouterr().err
    assert label in shown
    assert ("\x1b" in shown) is terminal  # the bar on a terminal, plain lines otherwise
