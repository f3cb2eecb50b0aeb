"""The HTTP/1.1 transport's request head: Host for IPv6 literals, and header values HTTP refuses."""

from __future__ import annotations

import asyncio

import pytest

from support.fake_server import FakeServer, FaultConfig
from valuelens.models import BackendError
from valuelens.models._http11 import Http11Transport, _authority


def test_host_header_brackets_an_ipv6_literal() -> None:
    # RFC 3986 / RFC 9110: an IPv6 address in a Host header is written in brackets.
    assert _authority("::1", 8000) == b"[::1]:8000"
    assert _authority("fe80::2", None) == b"[fe80::2]"
    assert _authority("127.0.0.1", 8000) == b"127.0.0.1:8000"
    assert _authority("bücher.example", None) == b"xn--bcher-kva.example"


@pytest.mark.parametrize("key", ["sk-test\u200b", "sk-test\r\nX-Injected: 1"])
def test_a_header_http_cannot_carry_is_fatal_and_opens_no_connection(key: str) -> None:
    async def attempt() -> tuple[BackendError, int]:
        server = await FakeServer(FaultConfig()).start()
        transport = Http11Transport(server.base_url, 4, 10.0, [key])
        try:
            with pytest.raises(BackendError) as raised:
                await transport.post(
                    f"{server.base_url}/chat/completions",
                    b"{}",
                    [("Authorization", f"Bearer {key}")],
                )
            return raised.value, len(transport._open)
        finally:
            await transport.aclose()
            await server.close()

    error, still_open = asyncio.run(attempt())
    assert error.fatal
    assert "sk-test" not in str(error) and "Authorization" in str(error)
    assert still_open == 0
