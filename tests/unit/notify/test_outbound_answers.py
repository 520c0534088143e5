"""Reading a receiver's answer: whatever JSON it claims to send, the attempt gets a verdict, never a crash."""

import httpx
import pytest

from services.notify.adapters.http import _json_of

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
