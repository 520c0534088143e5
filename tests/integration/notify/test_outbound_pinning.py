"""Outbound safety against real loopback receivers: the connection goes to the very address that was checked."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from services.notify.adapters.http import SafeOutbound
from services.notify.domain.targets import OutboundPolicy
from tests.integration.notify.receivers import Receiver, serving

LOCAL_HTTP = OutboundPolicy(allow_plain_http=True)


@asynccontextmanager
async def outbound(policy: OutboundPolicy, **options: object) -> AsyncIterator[SafeOutbound]:
    sender = SafeOutbound(policy, timeout_seconds=1.0, **options)  # type: ignore[arg-type]
    await sender.start()
    try:
        yield sender
    finally:
        await sender.close()


def _port(receiver: Receiver) -> int:
    port = urlsplit(receiver.url).port
    assert port is not None
    return port


async def test_a_name_that_resolves_to_loopback_is_refused_when_loopback_is_not_allowed() -> None:
    async with serving(Receiver()) as receiver, outbound(LOCAL_HTTP) as sender:
        answer = await sender.request("POST", f"http://localhost:{_port(receiver)}/hook", body=b"{}")
    assert answer.status_code is None
    assert answer.refused is not None
    assert "loopback" in answer.refused
    assert receiver.received == []


async def test_a_name_that_resolves_to_loopback_is_reached_by_name_when_loopback_is_allowed() -> None:
    policy = OutboundPolicy(allow_plain_http=True, allow_loopback=True)
    async with serving(Receiver()) as receiver, outbound(policy) as sender:
        answer = await sender.request("POST", f"http://localhost:{_port(receiver)}/hook", body=b"{}")
    assert answer.status_code == 200
    [request] = receiver.received
    assert request.headers["host"] == f"localhost:{_port(receiver)}", "the receiver sees the name, not the address"


async def test_the_connection_goes_to_the_checked_address_whatever_the_name_resolves_to_later() -> None:
    # The check's resolution says `localhost` is a private address, which the policy allows; the system's own
    # resolver would now say 127.0.0.1, where the receiver listens and which the policy forbids.
    asked: list[str] = []

    async def first_answer(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["198.18.0.1"]

    policy = OutboundPolicy(allow_plain_http=True, allow_private=True)
    async with serving(Receiver()) as receiver, outbound(policy, resolve=first_answer) as sender:
        answer = await sender.request("POST", f"http://localhost:{_port(receiver)}/hook", body=b"{}")
    assert receiver.received == [], "a second resolution reached the loopback receiver"
    assert asked == ["localhost"], "the name is resolved once per connection"
    assert answer.status_code is None
    assert answer.refused is None


async def test_every_address_of_a_name_is_checked_and_one_forbidden_address_refuses_the_host() -> None:
    async def mixed(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.0.0.7"]

    async with serving(Receiver()) as receiver, outbound(LOCAL_HTTP, resolve=mixed) as sender:
        answer = await sender.request("POST", f"http://hooks.example.com:{_port(receiver)}/", body=b"{}")
    assert answer.refused is not None
    assert "10.0.0.7" in answer.refused
    assert receiver.received == []
