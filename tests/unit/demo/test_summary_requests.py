"""The summary's requests wait out a service that crashed and is starting again, within a bound."""

import httpx
import pytest

import demo.run
from demo.run import _get_answered


async def test_a_service_that_refuses_then_is_unavailable_is_asked_again_until_it_answers() -> None:
    # None: the connection is refused, as by a process not started yet.
    answers = iter([None, 503, 200])

    def answer(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        if status is None:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(status, json={"items": []})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as api:
        response = await _get_answered(api, "http://profile.test/v1/segments")

    assert response.status_code == 200
    assert next(answers, "none left") == "none left"


async def test_a_service_down_past_the_bound_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo.run, "SERVICE_RESTART_SECONDS", 0.0)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as api:
        with pytest.raises(httpx.ConnectError):
            await _get_answered(api, "http://profile.test/v1/segments")
