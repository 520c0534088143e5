"""Reading a receiver's answer: whatever JSON it claims to send, the attempt gets a verdict, never a crash."""

import asyncio

import httpx
import pytest

from services.notify.adapters.http import SafeOutbound, _json_of
from services.notify.domain.targets import OutboundPolicy

JSON = {"content-type": "application/json"}


def test_a_json_object_answer_is_read() -> None:
    content = b'{"status": "subscribed"}'
    assert _json_of(httpx.Response(200, headers=JSON, content=content), content) == {"status": "subscribed"}


@pytest.mark.parametrize(
    "content",
    [b"not json", b"[" * 5000 + b"]" * 5000, b'{"id": ' + b"7" * 5000 + b"}"],
    ids=["not-json", "arrays-nested-5000-deep", "integer-of-5000-digits"],
)
def test_an_answer_labelled_json_that_cannot_be_read_is_taken_as_no_json(content: bytes) -> None:
    assert _json_of(httpx.Response(503, headers=JSON, content=content), content) is None


async def _resolve_nowhere(host: str, port: int) -> list[str]:
    raise UnicodeError(f"label too long: {host}")


@pytest.mark.parametrize(
    ("url", "error"),
    [("https://receiver.example/hook", "UnicodeError: label too long")],
    ids=["resolver-raising"],
)
async def test_a_request_that_the_resolver_raises_on_is_a_failed_answer(url: str, error: str) -> None:
    outbound = SafeOutbound(OutboundPolicy(), timeout_seconds=1, resolve=_resolve_nowhere)
    await outbound.start()
    try:
        answer = await outbound.request("POST", url, body=b"{}")
    finally:
        await outbound.close()
    assert answer.status_code is None
    assert answer.refused is None
    assert (answer.error or "").startswith(error)


async def test_a_request_to_a_host_httpx_cannot_read_is_refused_without_being_sent() -> None:
    outbound = SafeOutbound(OutboundPolicy(), timeout_seconds=1, resolve=_resolve_nowhere)
    await outbound.start()
    try:
        answer = await outbound.request("POST", "https://receiver\u00adexample.com/hook", body=b"{}")
    finally:
        await outbound.close()
    assert answer.status_code is None
    assert answer.refused == "the host is not a valid domain name (IDNA)"


async def _answering(head: bytes) -> tuple[asyncio.Server, str, list[bytes]]:
    """A receiver on loopback that reads a request, answers `head` (a status line, headers and part of a body, or
    nothing) and then holds the connection open, saying no more."""
    requests: list[bytes] = []
    held: list[asyncio.StreamWriter] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(head)
        await writer.drain()
        held.append(writer)

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/hook", requests


@pytest.mark.parametrize(
    ("head", "status", "error"),
    [
        (b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nok", 200, None),
        (b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 100\r\n\r\nbusy, ", 503, "busy, "),
        (b"", None, "no answer within 0.5 s"),
    ],
    ids=["a-2xx-whose-body-stalls", "a-503-whose-body-stalls", "nothing-at-all"],
)
async def test_an_answer_whose_status_came_keeps_it_though_its_body_is_late(
    head: bytes, status: int | None, error: str | None
) -> None:
    server, url, requests = await _answering(head)
    outbound = SafeOutbound(OutboundPolicy(allow_loopback=True, allow_plain_http=True), timeout_seconds=0.5)
    await outbound.start()
    try:
        answer = await outbound.request("POST", url, body=b"{}")
    finally:
        await outbound.close()
        server.close()

    assert len(requests) == 1
    assert (answer.status_code, answer.error) == (status, error)
