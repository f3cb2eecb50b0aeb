"""Local fakes of the OpenAI Batch API and Anthropic's Message Batches, for batch-runner tests.

`FakeBatchServer` is a `FakeServer` (so it also answers chat completions and messages one by one,
and counts them in `stats.chat` / `stats.messages`) that in addition serves:

* OpenAI: `POST /v1/files` (multipart, `purpose=batch`, a JSONL file of chat-completion lines),
  `POST /v1/batches`, `GET /v1/batches/{id}` (validating -> in_progress -> completed over
  `polls_to_finish` polls) and `GET /v1/files/{id}/content` (the output and error files);
* Anthropic: `POST /v1/messages/batches`, `GET /v1/messages/batches/{id}` (in_progress ->
  ended, with `request_counts`) and `GET /v1/messages/batches/{id}/results` (JSONL).

Each line is answered exactly as the one-by-one endpoint would answer its body. Inputs are
checked as the real APIs check them (purpose, method, url, unique custom ids, Anthropic's
custom-id pattern, required fields, credentials); a rejected input gets a 400 and is listed in
`batch_stats.rejected`.

Fault injection, by a marker in a line's last message, on the first batch that carries that
text only (a resubmitted line is answered normally):
`<<batch:fail>>` an error line (OpenAI: status 500 in the error file; Anthropic: `errored`),
`<<batch:expire>>` not processed in time (OpenAI: `batch_expired`; Anthropic: `expired`),
`<<batch:garbage>>` (OpenAI) a 200 line whose body is not a chat completion.
`BatchConfig.paused` keeps every batch in progress until it is set back to False;
`BatchConfig.fail_validation` makes OpenAI batches end as `failed`; `BatchConfig.failing_polls`
answers that many status checks (of either provider) with a 500.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
from dataclasses import dataclass, field
from typing import Any

from support.fake_server import FakeServer, FaultConfig, _chat_body, _Connection, _messages_body

_MARKER = re.compile(r"<<batch:([a-z]+)>>")
_ANTHROPIC_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_CREATED = "2026-01-01T00:00:00Z"
_EXPIRES = "2026-01-02T00:00:00Z"


@dataclass
class BatchConfig:
    """How the batch endpoints behave."""

    polls_to_finish: int = 3
    paused: bool = False
    fail_validation: bool = False
    failing_polls: int = 0  # the next status checks that get a 500 instead


@dataclass
class BatchStats:
    """What the batch endpoints received."""

    uploads: int = 0
    openai_batches: int = 0
    anthropic_batches: int = 0
    polls: int = 0
    downloads: int = 0
    lines: int = 0
    failed_polls: int = 0
    rejected: list[str] = field(default_factory=list)
    credentials: list[str] = field(default_factory=list)


@dataclass
class _Job:
    id: str
    provider: str
    lines: list[dict[str, Any]]
    polls: int = 0
    input_file_id: str = ""
    output_file_id: str | None = None
    error_file_id: str | None = None
    results: bytes | None = None


def _reply(status: int, body: bytes, content_type: str = "application/json") -> bytes:
    head = (
        f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
        f"content-type: {content_type}\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _json(status: int, document: object) -> bytes:
    return _reply(status, json.dumps(document).encode())


def _error(status: int, message: str) -> bytes:
    return _json(status, {"error": {"type": "invalid_request_error", "message": message}})


class _Rejected(Exception):
    """An input the real API would refuse (400)."""


class FakeBatchServer(FakeServer):
    """A `FakeServer` with the batch endpoints of both providers."""

    def __init__(self, config: FaultConfig | None = None, batch: BatchConfig | None = None) -> None:
        super().__init__(config or FaultConfig())
        self.batch = batch or BatchConfig()
        self.batch_stats = BatchStats()
        self._files: dict[str, bytes] = {}
        self._jobs: dict[str, _Job] = {}
        self._seen_texts: set[str] = set()
        self._ids = 0

    @property
    def anthropic_base_url(self) -> str:
        """The Anthropic-style base URL (the SDK adds `/v1/...`)."""
        return f"http://127.0.0.1:{self.port}"

    def handle(self, conn: _Connection, head: bytes, body: bytes) -> None:
        """Answer batch routes here; everything else as `FakeServer` does."""
        first_line, _, header_block = head.partition(b"\r\n")
        method, path, _ = first_line.decode("latin-1").split(" ", 2)
        path = path.split("?", 1)[0]
        headers = _headers(header_block)
        routes = (
            ("POST", r"/v1/files", self._upload),
            ("POST", r"/v1/batches", self._create_openai),
            ("GET", r"/v1/batches/([^/]+)", self._poll_openai),
            ("GET", r"/v1/files/([^/]+)/content", self._file_content),
            ("POST", r"/v1/messages/batches", self._create_anthropic),
            ("GET", r"/v1/messages/batches/([^/]+)", self._poll_anthropic),
            ("GET", r"/v1/messages/batches/([^/]+)/results", self._anthropic_results),
        )
        for verb, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if verb == method and match:
                self.stats.requests += 1
                try:
                    self._check_credentials(path, headers)
                    conn.send(handler(headers, body, *match.groups()))
                except _Rejected as problem:
                    self.batch_stats.rejected.append(str(problem))
                    conn.send(_error(400, str(problem)))
                return
        super().handle(conn, head, body)

    def _check_credentials(self, path: str, headers: dict[str, str]) -> None:
        # Anthropic's SDK sends `x-api-key` or (newer releases) a bearer token.
        credentials = headers.get("authorization") or headers.get("x-api-key", "")
        if path.startswith("/v1/messages/") and not headers.get("anthropic-version"):
            raise _Rejected("anthropic-version header missing")
        if not credentials:
            raise _Rejected("no credentials")
        self.batch_stats.credentials.append(credentials)

    def _next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}{self._ids:04d}"

    # OpenAI

    def _upload(self, headers: dict[str, str], body: bytes) -> bytes:
        fields = _multipart(headers.get("content-type", ""), body)
        if fields.get("purpose") != b"batch":
            raise _Rejected(f"purpose must be 'batch', not {fields.get('purpose')!r}")
        content = fields.get("file")
        if content is None:
            raise _Rejected("no file part")
        _openai_lines(content)  # refuse a malformed file at upload, as the API does
        file_id = self._next_id("file-")
        self._files[file_id] = content
        self.batch_stats.uploads += 1
        return _json(200, _file_object(file_id, content, "batch"))

    def _create_openai(self, headers: dict[str, str], body: bytes) -> bytes:
        request = _json_body(body)
        file_id = request.get("input_file_id")
        if file_id not in self._files:
            raise _Rejected(f"no such file: {file_id!r}")
        if request.get("endpoint") != "/v1/chat/completions":
            raise _Rejected(f"unsupported endpoint {request.get('endpoint')!r}")
        if request.get("completion_window") != "24h":
            raise _Rejected("completion_window must be '24h'")
        job = _Job(self._next_id("batch_"), "openai", _openai_lines(self._files[file_id]))
        job.input_file_id = str(file_id)
        self._jobs[job.id] = job
        self.batch_stats.openai_batches += 1
        self.batch_stats.lines += len(job.lines)
        return _json(200, self._openai_batch(job))

    def _poll_openai(self, headers: dict[str, str], body: bytes, batch_id: str) -> bytes:
        if self._failing_poll():
            return _error(500, "scripted poll failure")
        job = self._jobs.get(batch_id)
        if job is None or job.provider != "openai":
            return _error(404, f"No batch found with id '{batch_id}'")
        job.polls += 1
        self.batch_stats.polls += 1
        return _json(200, self._openai_batch(job))

    def _openai_batch(self, job: _Job) -> dict[str, Any]:
        total = len(job.lines)
        status, done = self._progress(job, first="validating")
        if status == "ended" and self.batch.fail_validation:
            status = "failed"
        elif status == "ended":
            status = "completed"
            self._finish_openai(job)
        failed = 0
        if job.error_file_id is not None:
            failed = self._files[job.error_file_id].count(b"\n")
        errors = None
        if status == "failed":
            errors = {"object": "list", "data": [{"code": "invalid", "message": "scripted"}]}
        return {
            "id": job.id,
            "object": "batch",
            "endpoint": "/v1/chat/completions",
            "input_file_id": job.input_file_id,
            "completion_window": "24h",
            "status": status,
            "output_file_id": job.output_file_id,
            "error_file_id": job.error_file_id,
            "created_at": 1_700_000_000,
            "errors": errors,
            "request_counts": {"total": total, "completed": done - failed, "failed": failed},
        }

    def _progress(self, job: _Job, *, first: str) -> tuple[str, int]:
        """(status, lines done): `first`, then in progress, then ended after enough polls."""
        total, polls, needed = len(job.lines), job.polls, max(1, self.batch.polls_to_finish)
        if self.batch.paused or polls < needed:
            if polls <= 1 and not self.batch.paused:
                return first, 0
            return "in_progress", 0 if self.batch.paused else total * (polls - 1) // needed
        return "ended", total

    def _finish_openai(self, job: _Job) -> None:
        if job.output_file_id is not None:
            return
        output, errors = [], []
        for number, line in enumerate(job.lines):
            fault = self._fault(line["body"])
            entry: dict[str, Any] = {"id": f"batch_req_{number}", "custom_id": line["custom_id"]}
            if fault == "fail":
                entry["response"] = {
                    "status_code": 500,
                    "request_id": f"req_{number}",
                    "body": {"error": {"message": "scripted batch failure", "type": "server"}},
                }
                entry["error"] = None
                errors.append(entry)
                continue
            if fault == "expire":
                entry["response"] = None
                entry["error"] = {"code": "batch_expired", "message": "not run in time"}
                errors.append(entry)
                continue
            answer = {"garbage": True} if fault == "garbage" else _chat_body(line["body"])
            entry["response"] = {"status_code": 200, "request_id": f"req_{number}", "body": answer}
            entry["error"] = None
            output.append(entry)
        job.output_file_id = self._store_file(output) if output else None
        job.error_file_id = self._store_file(errors) if errors else None

    def _store_file(self, entries: list[dict[str, Any]]) -> str:
        file_id = self._next_id("file-")
        self._files[file_id] = b"".join(json.dumps(e).encode() + b"\n" for e in entries)
        return file_id

    def _file_content(self, headers: dict[str, str], body: bytes, file_id: str) -> bytes:
        content = self._files.get(file_id)
        if content is None:
            return _error(404, f"No such File object: {file_id}")
        self.batch_stats.downloads += 1
        return _reply(200, content, "application/octet-stream")

    def _failing_poll(self) -> bool:
        if self.batch.failing_polls <= 0:
            return False
        self.batch.failing_polls -= 1
        self.batch_stats.failed_polls += 1
        return True

    def _fault(self, payload: dict[str, Any]) -> str | None:
        """The scripted fault of a line, on the first batch that carries its text only."""
        messages = payload.get("messages") or [{}]
        text = str(messages[-1].get("content", ""))
        match = _MARKER.search(text)
        if match is None or text in self._seen_texts:
            return None
        self._seen_texts.add(text)
        return match.group(1)

    # Anthropic

    def _create_anthropic(self, headers: dict[str, str], body: bytes) -> bytes:
        requests = _json_body(body).get("requests")
        if not isinstance(requests, list) or not requests:
            raise _Rejected("requests must be a non-empty list")
        seen: set[str] = set()
        for item in requests:
            custom_id = item.get("custom_id") if isinstance(item, dict) else None
            if not isinstance(custom_id, str) or not _ANTHROPIC_CUSTOM_ID.match(custom_id):
                raise _Rejected(f"custom_id must match {_ANTHROPIC_CUSTOM_ID.pattern}")
            if custom_id in seen:
                raise _Rejected(f"duplicate custom_id {custom_id}")
            seen.add(custom_id)
            params = item.get("params")
            if not isinstance(params, dict) or not {"model", "max_tokens", "messages"} <= set(
                params
            ):
                raise _Rejected("params need model, max_tokens and messages")
        job = _Job(self._next_id("msgbatch_"), "anthropic", requests)
        self._jobs[job.id] = job
        self.batch_stats.anthropic_batches += 1
        self.batch_stats.lines += len(requests)
        return _json(200, self._anthropic_batch(job))

    def _poll_anthropic(self, headers: dict[str, str], body: bytes, batch_id: str) -> bytes:
        if self._failing_poll():
            return _error(500, "scripted poll failure")
        job = self._jobs.get(batch_id)
        if job is None or job.provider != "anthropic":
            return _json(404, {"type": "error", "error": {"type": "not_found_error"}})
        job.polls += 1
        self.batch_stats.polls += 1
        return _json(200, self._anthropic_batch(job))

    def _anthropic_batch(self, job: _Job) -> dict[str, Any]:
        status, done = self._progress(job, first="in_progress")
        counts = {"processing": len(job.lines) - done, "succeeded": done}
        counts |= {"errored": 0, "canceled": 0, "expired": 0}
        url = None
        if status == "ended":
            self._finish_anthropic(job)
            assert job.results is not None
            for line in job.results.splitlines():
                kind = json.loads(line)["result"]["type"]
                counts[kind] += kind != "succeeded"
                counts["succeeded"] -= kind != "succeeded"
            url = f"{self.anthropic_base_url}/v1/messages/batches/{job.id}/results"
        return {
            "id": job.id,
            "type": "message_batch",
            "processing_status": status,
            "request_counts": counts,
            "created_at": _CREATED,
            "expires_at": _EXPIRES,
            "ended_at": _EXPIRES if status == "ended" else None,
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": url,
        }

    def _finish_anthropic(self, job: _Job) -> None:
        if job.results is not None:
            return
        lines = []
        for item in job.lines:
            fault = self._fault(item["params"])
            result: dict[str, Any]
            if fault == "fail":
                error = {"type": "api_error", "message": "scripted batch failure"}
                result = {"type": "errored", "error": {"type": "error", "error": error}}
            elif fault == "expire":
                result = {"type": "expired"}
            else:
                result = {"type": "succeeded", "message": _messages_body(item["params"])}
            lines.append(json.dumps({"custom_id": item["custom_id"], "result": result}))
        job.results = "".join(line + "\n" for line in lines).encode()

    def _anthropic_results(self, headers: dict[str, str], body: bytes, batch_id: str) -> bytes:
        job = self._jobs.get(batch_id)
        if job is None or job.results is None:
            return _json(404, {"type": "error", "error": {"type": "not_found_error"}})
        self.batch_stats.downloads += 1
        return _reply(200, job.results, "application/binary")


def _headers(block: bytes) -> dict[str, str]:
    headers = {}
    for line in block.split(b"\r\n"):
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return headers


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError:
        raise _Rejected("body is not JSON") from None
    if not isinstance(document, dict):
        raise _Rejected("body is not a JSON object")
    return document


def _multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    if not content_type.startswith("multipart/form-data"):
        raise _Rejected(f"expected multipart/form-data, got {content_type!r}")
    header = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + body)
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload
    return fields


def _openai_lines(content: bytes) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, text in enumerate(content.splitlines(), start=1):
        try:
            line = json.loads(text)
        except ValueError:
            raise _Rejected(f"line {number} is not JSON") from None
        custom_id = line.get("custom_id")
        if not isinstance(custom_id, str) or custom_id in seen:
            raise _Rejected(f"line {number}: missing or duplicate custom_id")
        seen.add(custom_id)
        if line.get("method") != "POST" or line.get("url") != "/v1/chat/completions":
            raise _Rejected(f"line {number}: method must be POST and url /v1/chat/completions")
        if not isinstance(line.get("body"), dict) or "model" not in line["body"]:
            raise _Rejected(f"line {number}: body needs a model")
        lines.append(line)
    if not lines:
        raise _Rejected("the file has no lines")
    return lines


def _file_object(file_id: str, content: bytes, purpose: str) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "file",
        "bytes": len(content),
        "created_at": 1_700_000_000,
        "filename": "batch.jsonl",
        "purpose": purpose,
        "status": "processed",
    }
