"""HTTP/1.1 keep-alive connections on asyncio protocols, framed by h11 (no anyio, no httpcore).

The transport of `OpenAIBackend` for every endpoint not behind a proxy. Per request: one
`transport.write` (head and body together), an idle connection taken last-in-first-out in O(1)
(the pool under the SDK scans all its connections, and polls each idle socket, on every
request, so its cost grows with concurrency), and h11 to frame and validate what goes out and
comes back (chunked bodies, close-delimited bodies, 1xx answers, `Connection: close`).
benchmarks/README.md has the measurements that chose it.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11

from valuelens.models._base import BackendError
from valuelens.models._common import connection_error

REASONS = {400: "Bad Request", 404: "Not Found", 429: "Too Many Requests", 500: "Server Error"}
"""Reason phrases for answers that came without one."""


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer: status, reason phrase, headers (lower-case names) and body."""

    status: int
    reason: str
    headers: Mapping[str, str]
    content: bytes


@functools.cache
def _shared_tls_context() -> ssl.SSLContext:
    import httpx2

    return httpx2.create_ssl_context()


def tls_context(endpoint: str) -> ssl.SSLContext | None:
    """The TLS settings of `httpx2` (certifi, `SSL_CERT_FILE`), built once; none for http://.

    Loading the certificates costs about 30 ms, once per process rather than per pool.
    """
    return _shared_tls_context() if endpoint.startswith("https:") else None


def _authority(host: str, port: int | None) -> bytes:
    """The Host header: an IPv6 literal in brackets, a name in IDNA form, the port if given."""
    name = f"[{host}]".encode("ascii") if ":" in host else host.encode("idna")
    return name if port is None else name + b":%d" % port


class ConnectTimeout(TimeoutError):
    """No connection within the time limit (the name `unreachable_reason` looks for)."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection, one exchange at a time."""

    def __init__(self) -> None:
        self.parser = h11.Connection(h11.CLIENT)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._waiter: asyncio.Future[None] | None = None
        self._response: h11.Response | None = None
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        try:
            self.parser.receive_data(b"")  # end of file: ends a close-delimited body
            self._read_events(waiter)
        except h11.RemoteProtocolError as error:
            waiter.set_exception(error)
            return
        if not waiter.done():
            message = "Server disconnected without sending a response."
            waiter.set_exception(exc or h11.RemoteProtocolError(message))

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():  # bytes on an idle connection: not reusable
            self.close()
            return
        try:
            self.parser.receive_data(data)
            self._read_events(waiter)
        except h11.RemoteProtocolError as error:
            waiter.set_exception(error)

    def _read_events(self, waiter: asyncio.Future[None]) -> None:
        while not waiter.done():
            event = self.parser.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                return
            if isinstance(event, h11.Response):
                self._response = event
            elif isinstance(event, h11.Data):
                self._body.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                waiter.set_result(None)
            elif isinstance(event, h11.ConnectionClosed):
                raise h11.RemoteProtocolError("Server disconnected without sending a response.")
            # h11.InformationalResponse (1xx): nothing to keep

    async def exchange(self, head: h11.Request, body: bytes) -> tuple[h11.Response, bytes]:
        """Send one request and wait for its whole answer."""
        assert self.transport is not None
        parser = self.parser
        data = b"".join(
            part or b""
            for part in (
                parser.send(head),
                parser.send(h11.Data(data=body)),
                parser.send(h11.EndOfMessage()),
            )
        )
        self._response, self._body = None, []
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        try:
            await waiter
        finally:
            self._waiter = None
        assert self._response is not None
        return self._response, b"".join(self._body)

    def ready_for_next(self) -> bool:
        """Whether the connection can carry another request (and make it so)."""
        parser = self.parser
        if self.closed or parser.our_state is not h11.DONE or parser.their_state is not h11.DONE:
            return False
        parser.start_next_cycle()
        return True

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Http11Transport:
    """Keep-alive connections to one endpoint.

    Example:
        >>> transport = Http11Transport("http://127.0.0.1:8000/v1", 100, 600.0, [key])
        >>> answer = await transport.post(url, body, headers)
    """

    def __init__(
        self, endpoint: str, max_connections: int, timeout_s: float, secrets: list[str | None]
    ) -> None:
        """Describe the endpoint; connections are opened as requests need them.

        Args:
            endpoint: the API root (`http://` or `https://`).
            max_connections: connections open at once; further requests wait for one.
            timeout_s: limit for connecting, and for a whole exchange on a connection.
            secrets: values that must never appear in an error message.
        """
        parts = urlsplit(endpoint)
        https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if https else 80)
        self._authority = _authority(self._host, parts.port)
        self._ssl = tls_context(endpoint)
        self._idle: deque[_Connection] = deque()
        self._open: set[_Connection] = set()
        self._slots = asyncio.Semaphore(max_connections)
        self._timeout_s = timeout_s
        self._secrets = secrets
        self._endpoint = endpoint  # the API root, which connection errors name
        self._errors = (OSError, h11.ProtocolError, TimeoutError, ssl.SSLError)

    async def post(self, url: str, body: bytes, headers: list[tuple[str, str]]) -> Answer:
        """POST `body` to `url`; raises `BackendError` (classified) when no answer came."""
        async with self._slots:
            try:
                return await self._post(url, body, headers)
            except self._errors as error:
                raise connection_error(error, self._secrets, url=self._endpoint) from None

    async def _post(self, url: str, body: bytes, headers: list[tuple[str, str]]) -> Answer:
        head = self._head(url, len(body), headers)  # before a connection is taken
        connection = self._idle_connection() or await self._connect()
        try:
            async with asyncio.timeout(self._timeout_s):
                response, content = await connection.exchange(head, body)
        except BaseException:
            self._drop(connection)
            raise
        if connection.ready_for_next():
            self._idle.append(connection)
        else:
            self._drop(connection)
        reason = response.reason.decode("latin-1")
        reason = reason or REASONS.get(response.status_code, f"HTTP {response.status_code}")
        names = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in response.headers
        }
        return Answer(response.status_code, reason, names, content)

    def _head(self, url: str, length: int, headers: list[tuple[str, str]]) -> h11.Request:
        """The request line and headers.

        Raises:
            BackendError: (fatal) a header value HTTP cannot carry, such as a pasted key with
                a line break or a non-Latin-1 character; the value is never quoted.
        """
        target = urlsplit(url)
        path = (target.path or "/") + (f"?{target.query}" if target.query else "")
        fields = [(b"Host", self._authority), (b"Content-Length", b"%d" % length)]
        try:
            fields += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
            return h11.Request(method=b"POST", target=path.encode("ascii"), headers=fields)
        except (UnicodeEncodeError, h11.LocalProtocolError):
            names = ", ".join(name for name, _ in headers)
            message = (
                f"a request header ({names}) holds characters HTTP cannot send: check the API "
                "key and OPENAI_ORG_ID / OPENAI_PROJECT_ID for stray spaces or line breaks"
            )
            raise BackendError(message, fatal=True) from None

    def _idle_connection(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()  # the most recent: least likely closed by the server
            if not connection.closed:
                return connection
            self._open.discard(connection)
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._timeout_s):
                _, connection = await loop.create_connection(
                    _Connection,
                    self._host,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._host if self._ssl is not None else None,
                )
        except TimeoutError:
            raise ConnectTimeout(f"no connection within {self._timeout_s:g} s") from None
        self._open.add(connection)
        return connection

    def _drop(self, connection: _Connection) -> None:
        connection.close()
        self._open.discard(connection)

    async def aclose(self) -> None:
        """Close every connection."""
        for connection in self._open:
            connection.close()
        self._open.clear()
        self._idle.clear()
