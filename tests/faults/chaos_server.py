"""A chaos HTTP server on 127.0.0.1: the fake OpenAI-compatible server of tests/support, plus
the ways real servers and proxies misbehave.

`ChaosServer` extends `tests/support/fake_server.FakeServer` (same HTTP handling, same answers:
a valid instance of the request's JSON schema, picked by a hash of the prompt, so a request
answered after any number of faults gets exactly the answer a clean server gives). It adds these
fault kinds (`FAULT_KINDS`):

* `429` (`Retry-After` in seconds, from `FaultConfig.retry_after`), `429date` (`Retry-After` as
  an HTTP date `retry_after_date_s` ahead), `429long` (asks for an hour: given up at once);
* `500`, `502`, `503` (JSON error bodies), `html502` (a multi-line text/html proxy page);
* `hang` (no answer for `FaultConfig.hang_s`, past the client's timeout);
* `truncate` (Content-Length promises more than is sent, then the connection closes),
  `truncjson` (a complete HTTP message whose JSON document is cut in half), `badjson`
  (`{"id": "x", "choices": [ {"mess`), `invalidjson` (trailing commas and single quotes);
* `empty200` (status 200, empty body), `error200` (`{"error": {...}}` with status 200),
  `nochoices` (a completion whose `choices` list is empty);
* `reset` (half the answer, then a TCP reset), `drop` (the connection closes before any answer);
* `plainjson` (a valid completion sent as text/plain), `jsonhtml` (application/json, HTML body).

Faults come from two sources, counted per distinct last message:
* scripted: a last message containing `<<chaos:reset,html502>>` gets those faults on its first
  attempts, in order, then normal answers (the base server's `<<faults:...>>` still works; a
  plain `FakeServer` ignores `<<chaos:...>>`, so it serves as the clean baseline for the same
  prompts);
* random, seeded: `ChaosConfig.rates` maps kinds to probabilities per attempt; a prompt gets at
  most `max_random_faults` random faults, so a runner with enough retries always gets through.

`attempt_times[text]` records when each attempt of a message arrived (monotonic seconds).
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import random
import re
import socket
import struct
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from support.fake_server import FakeServer, FaultConfig, _chat_body, _Connection, run_in_thread

_CHAOS_SCRIPT = re.compile(r"<<chaos:([a-z0-9,]*)>>")

# Answered by the base server.
_BASE_KINDS = ("429", "500", "502", "503", "hang", "truncate", "badjson", "drop")
# Answered here.
_OWN_KINDS = (
    "429date",
    "429long",
    "html502",
    "truncjson",
    "invalidjson",
    "empty200",
    "error200",
    "nochoices",
    "reset",
    "plainjson",
    "jsonhtml",
)
FAULT_KINDS = _BASE_KINDS + _OWN_KINDS
# Kinds after which a well-behaved client has a usable answer without retrying.
ACCEPTABLE_KINDS = frozenset({"plainjson"})
# Kinds that no number of retries gets past in time (the server asks to wait an hour).
GIVE_UP_KINDS = frozenset({"429long"})
# Every kind a random mix may draw: the transient ones.
TRANSIENT_KINDS = tuple(k for k in FAULT_KINDS if k not in ACCEPTABLE_KINDS | GIVE_UP_KINDS)

HTML_PAGE = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
_REASONS = {200: "OK", 429: "Too Many Requests", 502: "Bad Gateway"}


@dataclass
class ChaosConfig:
    """The chaos on top of the base server's behaviour.

    Attributes:
        base: the base server's settings (latency, `retry_after` for `429`, `hang_s`, seed).
        rates: probability per attempt of each fault kind (a seeded draw per attempt).
        max_random_faults: the most random faults one prompt gets.
        retry_after_date_s: how far ahead the HTTP date of `429date` lies.
    """

    base: FaultConfig = field(default_factory=FaultConfig)
    rates: Mapping[str, float] = field(default_factory=dict)
    max_random_faults: int = 3
    retry_after_date_s: float = 0.0

    def __post_init__(self) -> None:
        unknown = set(self.rates) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        if sum(self.rates.values()) > 1.0:
            raise ValueError("fault rates add up to more than 1")


def uniform_rates(total: float, kinds: tuple[str, ...] = TRANSIENT_KINDS) -> dict[str, float]:
    """`total` fault probability per attempt, spread evenly over `kinds`."""
    return {kind: total / len(kinds) for kind in kinds}


class ChaosServer(FakeServer):
    """The fake server with more fault kinds, scripted or drawn at seeded random."""

    def __init__(self, chaos: ChaosConfig) -> None:
        super().__init__(chaos.base)
        self.chaos = chaos
        self._chaos_rng = random.Random(chaos.base.seed)
        self._chaos_attempts: dict[str, int] = {}
        self._random_faults: dict[str, int] = {}
        self.attempt_times: dict[str, list[float]] = {}

    def _choose_fault(self, payload: dict[str, Any]) -> str | None:
        last = _last_message(payload)
        self.attempt_times.setdefault(last, []).append(time.monotonic())
        match = _CHAOS_SCRIPT.search(last)
        if match:
            script = [kind for kind in match.group(1).split(",") if kind]
            attempt = self._chaos_attempts.get(last, 0)
            self._chaos_attempts[last] = attempt + 1
            if attempt < len(script):
                return script[attempt]
        base: str | None = super()._choose_fault(payload)
        if base is not None:
            return base
        return self._random_fault(last)

    def _random_fault(self, last: str) -> str | None:
        draw = self._chaos_rng.random()
        if self._random_faults.get(last, 0) >= self.chaos.max_random_faults:
            return None
        for kind, rate in self.chaos.rates.items():
            if draw < rate:
                self._random_faults[last] = self._random_faults.get(last, 0) + 1
                return kind
            draw -= rate
        return None

    def _answer(
        self,
        conn: _Connection,
        kind: str,
        payload: dict[str, Any],
        fault: str | None,
        credentials: str,
    ) -> None:
        if conn.closed or fault not in _OWN_KINDS:
            super()._answer(conn, kind, payload, fault, credentials)
            return
        completion = json.dumps(_chat_body(payload, schema=self.config.answer_json_schema))
        if fault == "429date":
            when = email.utils.formatdate(time.time() + self.chaos.retry_after_date_s, usegmt=True)
            conn.send(_http(429, b'{"error": {"message": "slow down"}}', retry_after=when))
        elif fault == "429long":
            conn.send(
                _http(429, b'{"error": {"message": "quota resets soon"}}', retry_after="3600")
            )
        elif fault == "html502":
            conn.send(_http(502, HTML_PAGE, "text/html"))
        elif fault == "truncjson":
            conn.send(_http(200, completion[: len(completion) // 2].encode()))
        elif fault == "invalidjson":
            conn.send(_http(200, b"{'id': 'x', 'choices': [{'message': {'content': 'hi',},},],}"))
        elif fault == "empty200":
            conn.send(_http(200, b""))
        elif fault == "error200":
            error = {"error": {"message": "The server had an error", "type": "server_error"}}
            conn.send(_http(200, json.dumps(error).encode()))
        elif fault == "nochoices":
            empty = {"id": "chatcmpl-x", "object": "chat.completion", "choices": [], "usage": {}}
            conn.send(_http(200, json.dumps(empty).encode()))
        elif fault == "reset":
            whole = _http(200, completion.encode())
            conn.send(whole[: len(whole) // 2])
            _reset(conn)
        elif fault == "plainjson":
            self.stats.ok += 1
            conn.send(_http(200, completion.encode(), "text/plain; charset=utf-8"))
        elif fault == "jsonhtml":
            conn.send(_http(200, HTML_PAGE))


def _last_message(payload: dict[str, Any]) -> str:
    messages = payload.get("messages") or [{}]
    content = messages[-1].get("content", "") if isinstance(messages[-1], dict) else ""
    return content if isinstance(content, str) else json.dumps(content)


def _http(
    status: int,
    body: bytes,
    content_type: str = "application/json",
    *,
    retry_after: str | None = None,
) -> bytes:
    head = f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n"
    head += f"content-type: {content_type}\r\ncontent-length: {len(body)}\r\n"
    if retry_after is not None:
        head += f"retry-after: {retry_after}\r\n"
    return (head + "\r\n").encode() + body


def _reset(conn: _Connection) -> None:
    """Close with a TCP RST (SO_LINGER 0) rather than an orderly FIN."""
    transport = conn._transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.abort()


@contextlib.contextmanager
def chaos_in_thread(chaos: ChaosConfig) -> Iterator[ChaosServer]:
    """Run a chaos server on its own event loop in a background thread (for any client)."""
    with run_in_thread(ChaosServer(chaos)) as server:
        yield server
