"""Reading a receiver's answer: whatever JSON it claims to send, the attempt gets a verdict, never a crash."""

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
    [
        ("https://receiver\u00adexample.com/hook", "InvalidURL: "),
        ("https://receiver.example/hook", "UnicodeError: label too long"),
    ],
    ids=["soft-hyphen-in-the-host", "resolver-raising"],
)
async def test_a_request_that_httpx_or_the_resolver_raises_on_is_a_failed_answer(url: str, error: str) -> None:
    outbound = SafeOutbound(OutboundPolicy(), timeout_seconds=1, resolve=_resolve_nowhere)
    await outbound.start()
    try:
        answer = await outbound.request("POST", url, body=b"{}")
    finally:
        await outbound.close()
    assert answer.status_code is None
    assert answer.refused is None
    assert (answer.error or "").startswith(error)
