"""A small, fast, fault-injecting OpenAI- and Anthropic-shaped HTTP/1.1 server for runner tests.

It speaks just enough HTTP/1.1 (keep-alive, Content-Length bodies) on raw asyncio protocols so
that the client under test, not the server, dominates CPU use. It answers
`POST /v1/chat/completions` (and `/chat/completions`) like an OpenAI-compatible server and
`POST /v1/messages` like Anthropic's API, after a fixed latency.

Answers: a chat request with `response_format` of type `json_schema` gets an instance of that
schema, like a model with structured output (every property of an object; an `enum` member
picked by a hash of the prompt and the property name, so answers vary across prompts but are
reproducible; a short first-person sentence for strings; 1-2 array items; `minimum` or 1 for
numbers). Requests with `logprobs`, without a schema, and all Anthropic requests get an echo of
the last message. `garbage_every=n` replaces about one successful answer in n (those whose prompt's CRC-32 is
a multiple of n, so the choice does not depend on arrival order) with one of `GARBAGE_TEXTS`,
unreadable text a parser must survive.

Faults come from two sources:
* random, seeded: `p429` (429 with `Retry-After`), `p500` (500);
* scripted per prompt: a last message containing `<<faults:429,500,hang,truncate,badjson,drop>>`
  gets those faults on its first attempts, in that order, then a normal answer. Attempts are
  counted per distinct message text, so a retried request walks through its script. Any other
  status code works too (`<<faults:404>>`); a 401 quotes the credentials it got, as some
  providers do, so tests can check that they never reach logs or the store.

`GET /stats` returns request counts as JSON. Run it as a script to serve in its own process:
`python tests/support/fake_server.py --latency 0.05 --p429 0.1 --p500 0.03` prints `PORT <n>`;
`spawn_server(...)` does that and returns the process and its base URL (for the benchmarks).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import re
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

_SCRIPT = re.compile(r"<<faults:([a-z0-9,]*)>>")
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 429: "Too Many Requests"}
# What `garbage_every` answers, in turn: prose without JSON, and a refusal.
GARBAGE_TEXTS = (
    "Well, that is a hard one. Let me think about it some more before I say anything.",
    "I'm sorry, but I can't help with that request.",
)
_SENTENCES = (
    "I would do this because it fits what matters most to me.",
    "I choose this since it is closer to how I want to live.",
    "I think this is the better way for me to act here.",
    "I prefer this because it respects the people around me.",
)


@dataclass
class FaultConfig:
    """How the fake server behaves."""

    latency_s: float = 0.0
    p429: float = 0.0
    p500: float = 0.0
    retry_after: str = "1"
    retry_after_ms: str | None = None
    seed: int = 0
    reject_json_schema: bool = False
    hang_s: float = 3600.0
    answer_json_schema: bool = True
    garbage_every: int = 0


@dataclass
class Stats:
    """Counts of what the server received and answered."""

    requests: int = 0
    chat: int = 0
    messages: int = 0
    ok: int = 0
    garbage: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    authorization: list[str] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    keep_bodies: bool = False


def _response(status: int, body: bytes, extra: str = "") -> bytes:
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode() + body


class FakeServer:
    """The server state shared by all connections."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self.stats = Stats()
        self._rng = random.Random(config.seed)
        self._attempts: dict[str, int] = {}
        self._answered = 0
        self._server: asyncio.Server | None = None
        self.connections: set[_Connection] = set()
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeServer:
        """Start listening; `port=0` picks a free port (see `self.port`)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (with `/v1`)."""
        return f"http://127.0.0.1:{self.port}/v1"

    async def close(self) -> None:
        """Stop listening and drop open connections."""
        if self._server is not None:
            self._server.close()
            for conn in list(self.connections):
                conn.abort()
            await self._server.wait_closed()

    def handle(self, conn: _Connection, head: bytes, body: bytes) -> None:
        """Answer one parsed request (possibly later, or never)."""
        self.stats.requests += 1
        first_line, _, header_block = head.partition(b"\r\n")
        method, path, _ = first_line.decode("latin-1").split(" ", 2)
        if method == "GET" and path == "/stats":
            stats = {
                k: v for k, v in vars(self.stats).items() if k not in ("bodies", "keep_bodies")
            }
            conn.send(_response(200, json.dumps(stats).encode()))
            return
        credentials = ""
        for line in header_block.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.lower() in (b"authorization", b"x-api-key"):
                credentials = value.strip().decode("latin-1")
                self.stats.authorization.append(credentials)
        if path.endswith("/chat/completions"):
            self.stats.chat += 1
            kind = "chat"
        elif path.endswith("/messages"):
            self.stats.messages += 1
            kind = "messages"
        else:
            conn.send(_response(404, b'{"error": {"message": "not found"}}'))
            return
        try:
            payload = json.loads(body)
        except ValueError:
            conn.send(_response(400, b'{"error": {"message": "invalid json"}}'))
            return
        if self.stats.keep_bodies:
            self.stats.bodies.append(payload)
        fault = self._choose_fault(payload)
        delay = self.config.latency_s
        if fault is not None:
            self.stats.faults[fault] = self.stats.faults.get(fault, 0) + 1
        if fault == "hang":
            delay = self.config.hang_s
        action = (conn, kind, payload, fault, credentials)
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self._answer, *action)
        else:
            self._answer(*action)

    def _choose_fault(self, payload: dict[str, Any]) -> str | None:
        messages = payload.get("messages") or []
        last = messages[-1].get("content", "") if messages else ""
        match = _SCRIPT.search(last) if isinstance(last, str) and "<<" in last else None
        if match:
            script = [f for f in match.group(1).split(",") if f]
            attempt = self._attempts.get(last, 0)
            self._attempts[last] = attempt + 1
            return script[attempt] if attempt < len(script) else None
        if self.config.reject_json_schema and "response_format" in payload:
            return "schema"
        draw = self._rng.random()
        if draw < self.config.p429:
            return "429"
        if draw < self.config.p429 + self.config.p500:
            return "500"
        return None

    def _answer(
        self,
        conn: _Connection,
        kind: str,
        payload: dict[str, Any],
        fault: str | None,
        credentials: str,
    ) -> None:
        if conn.closed:
            return
        if fault is None or fault == "hang":
            self.stats.ok += 1
            self._answered += 1
            garbage = None
            every = self.config.garbage_every
            # Chosen by the prompt, not by arrival order, so which answers are garbage does
            # not depend on how fast the client sends (a re-asked prompt is a new text).
            digest = zlib.crc32(_last_text(payload).encode("utf-8"))
            if every > 0 and digest % every == 0:
                garbage = GARBAGE_TEXTS[(digest // every) % len(GARBAGE_TEXTS)]
                self.stats.garbage += 1
            if kind == "chat":
                body = _chat_body(payload, garbage, schema=self.config.answer_json_schema)
            else:
                body = _messages_body(payload, garbage)
            conn.send(_response(200, json.dumps(body).encode()))
        elif fault == "429":
            extra = f"retry-after: {self.config.retry_after}\r\n"
            if self.config.retry_after_ms is not None:
                extra += f"retry-after-ms: {self.config.retry_after_ms}\r\n"
            conn.send(_response(429, b'{"error": {"message": "rate limited"}}', extra))
        elif fault == "500":
            conn.send(_response(500, b'{"error": {"message": "internal error"}}'))
        elif fault == "schema":
            conn.send(_response(400, b'{"error": {"message": "response_format not supported"}}'))
        elif fault == "badjson":
            conn.send(_response(200, b'{"id": "x", "choices": [ {"mess'))
        elif fault == "truncate":
            conn.send(_response(200, b"x" * 200)[:-150])
            conn.abort()
        elif fault == "drop":
            conn.abort()
        elif fault == "401":
            message = json.dumps(
                {"error": {"message": f"Incorrect API key provided: {credentials}"}}
            )
            conn.send(_response(401, message.encode()))
        elif fault is not None and fault.isdigit():
            conn.send(_response(int(fault), b'{"error": {"message": "scripted status"}}'))


def _last_text(payload: dict[str, Any]) -> str:
    messages = payload.get("messages") or [{}]
    content = messages[-1].get("content", "")
    return content if isinstance(content, str) else json.dumps(content)


def _chat_body(
    payload: dict[str, Any], garbage: str | None = None, *, schema: bool = True
) -> dict[str, Any]:
    wanted = payload.get("response_format")
    completion_tokens = 5
    if garbage is not None:
        text = garbage
    elif (
        schema
        and not payload.get("logprobs")
        and isinstance(wanted, dict)
        and wanted.get("type") == "json_schema"
    ):
        root = (wanted.get("json_schema") or {}).get("schema") or {}
        seed = zlib.crc32(_last_text(payload).encode())
        text = json.dumps(_instance(root, root, seed, "", 0))
        completion_tokens = max(1, len(text) // 4)
    else:
        text = "echo: " + _last_text(payload)[-40:]
    prompt_tokens = sum(len(str(m.get("content", ""))) for m in payload.get("messages", [])) // 4
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": text},
        "finish_reason": "stop",
        "logprobs": None,
    }
    if payload.get("logprobs"):
        top = [{"token": t, "logprob": lp} for t, lp in (("1", -0.4), ("2", -1.4), ("3", -2.3))]
        choice["logprobs"] = {"content": [{"token": "1", "logprob": -0.4, "top_logprobs": top}]}
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": payload.get("model", "fake"),
        "choices": [choice],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _instance(schema: Any, root: Mapping[str, Any], seed: int, name: str, depth: int) -> Any:
    """A JSON value matching `schema`; choices hash `seed` (the prompt) with the property name."""
    if not isinstance(schema, Mapping) or depth > 8:
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        return _instance(target, root, seed, name, depth + 1)
    if "const" in schema:
        return schema["const"]
    pick = zlib.crc32(name.encode(), seed)
    options = schema.get("enum")
    if isinstance(options, list) and options:
        return options[pick % len(options)]
    for key in ("anyOf", "oneOf", "allOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            return _instance(branches[0], root, seed, name, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        properties = schema.get("properties") or {}
        return {
            key: _instance(sub, root, seed, f"{name}/{key}", depth + 1)
            for key, sub in properties.items()
        }
    if kind == "array":
        count = max(int(schema.get("minItems", 1)), 1 + pick % 2)
        count = min(count, int(schema.get("maxItems", count)))
        item = schema.get("items", {"type": "string"})
        return [_instance(item, root, seed, f"{name}/{i}", depth + 1) for i in range(count)]
    if kind in ("integer", "number"):
        low = schema.get("minimum", 1)
        return int(low) if kind == "integer" else low
    if kind == "boolean":
        return pick % 2 == 0
    if kind == "null":
        return None
    sentence = _SENTENCES[pick % len(_SENTENCES)]
    while len(sentence) < int(schema.get("minLength", 0)):
        sentence += " " + sentence
    return sentence[: int(schema.get("maxLength", len(sentence)))]


def _messages_body(payload: dict[str, Any], garbage: str | None = None) -> dict[str, Any]:
    text = garbage if garbage is not None else "echo: " + _last_text(payload)[-40:]
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": payload.get("model", "fake"),
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 11, "output_tokens": 5},
    }


class _Connection(asyncio.Protocol):
    def __init__(self, server: FakeServer) -> None:
        self._server = server
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._server.connections.discard(self)

    def send(self, data: bytes) -> None:
        if self._transport is not None and not self.closed:
            self._transport.write(data)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()
        self.closed = True

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._buffer[:end])
            length = 0
            lowered = head.lower()
            at = lowered.find(b"content-length:")
            if at >= 0:
                stop = lowered.find(b"\r\n", at)
                length = int(lowered[at + 15 : stop if stop >= 0 else None])
            total = end + 4 + length
            if len(self._buffer) < total:
                return
            body = bytes(self._buffer[end + 4 : total])
            del self._buffer[:total]
            self._server.handle(self, head, body)


ServerT = TypeVar("ServerT", bound=FakeServer)


@contextlib.contextmanager
def run_in_thread(server: ServerT, *, start_timeout_s: float = 30.0) -> Iterator[ServerT]:
    """Run `server` (a `FakeServer` or subclass) on its own event loop in a background thread."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(server.close())
        loop.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    if not ready.wait(start_timeout_s):
        raise RuntimeError(f"{type(server).__name__} did not start")
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(start_timeout_s)


@contextlib.contextmanager
def serve_in_thread(config: FaultConfig) -> Iterator[FakeServer]:
    """Run a server on its own event loop in a background thread (for subprocess clients)."""
    with run_in_thread(FakeServer(config)) as server:
        yield server


def spawn_server(*options: str) -> tuple[subprocess.Popen[str], str]:
    """Start this module as its own process with command-line `options`; (process, base URL)."""
    command = [sys.executable, str(Path(__file__).resolve()), *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    port = int(process.stdout.readline().split()[1])
    return process, f"http://127.0.0.1:{port}/v1"


async def _serve(config: FaultConfig, port: int) -> None:
    server = await FakeServer(config).start(port=port)
    print(f"PORT {server.port}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--p429", type=float, default=0.0)
    parser.add_argument("--p500", type=float, default=0.0)
    parser.add_argument("--retry-after", default="1")
    parser.add_argument("--retry-after-ms", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--garbage-every",
        type=int,
        default=0,
        help="about one answer in n is unreadable text (chosen by prompt)",
    )
    parser.add_argument(
        "--echo-schema",
        action="store_true",
        help="echo the prompt even when a JSON schema is asked for (the old behaviour)",
    )
    args = parser.parse_args()
    config = FaultConfig(
        latency_s=args.latency,
        p429=args.p429,
        p500=args.p500,
        retry_after=args.retry_after,
        retry_after_ms=args.retry_after_ms,
        seed=args.seed,
        answer_json_schema=not args.echo_schema,
        garbage_every=args.garbage_every,
    )
    try:
        asyncio.run(_serve(config, args.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
